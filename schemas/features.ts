/**
 * Feature shards written by `prefrank embed` (features/{split}-{i}-of-{n}.parquet): one row per
 * embedded text, its [layers x width] float32 features flattened row-major into one list. The
 * footer's key/value metadata (key `prefrank`) says how to reshape them (see FeatureShardMetadata).
 */
import { Bool, Field, Float32, Int32, Int64, List, makeBuilder, makeData, RecordBatch, Schema, Struct, Table, Utf8 } from 'apache-arrow';
import type { Embedding } from './records.js';

export type FeatureRole = 'chosen' | 'rejected' | 'candidate';

export const featureFields = [
  /** The pair's id (pairs), or the list's id (candidates). */
  new Field('pair_id', new Utf8(), false),
  new Field('role', new Utf8(), false),
  /** A candidate's position in its list; null for chosen/rejected. */
  new Field('response_index', new Int32(), true),
  new Field('source_file', new Utf8(), false),
  new Field('source_row', new Int64(), false),
  /** Tokens fed to the model, after truncation. */
  new Field('tokens', new Int32(), false),
  new Field('truncated', new Bool(), false),
  /** Row-major [layers x width] float32, flattened. */
  new Field('features', new List(new Field('item', new Float32(), false)), false),
] as const;

export const featureSchema = new Schema([...featureFields]);

/** Footer key holding FeatureShardMetadata as JSON: one key, so that readers parse one value whatever the writer. */
export const FEATURE_METADATA_KEY = 'prefrank';

/** The footer metadata of a feature shard: how to reshape and where the features came from. */
export interface FeatureShardMetadata {
  /** Layer indices, in the order of the feature rows. */
  readonly layers: readonly number[];
  readonly width: number;
  /** Layers the model has. */
  readonly numLayers: number;
  readonly modelSha256: string;
  readonly tokenizerSha256: string;
  readonly template: string;
}

export interface FeatureRow {
  readonly pairId: string;
  readonly role: FeatureRole;
  readonly responseIndex: number | null;
  readonly sourceFile: string;
  readonly sourceRow: number;
  readonly embedding: Embedding;
}

/** An Arrow table of feature rows with exactly `featureSchema`; the features column is built in one copy. */
export function featureTable(rows: readonly FeatureRow[]): Table {
  const col = (name: string, values: readonly unknown[]) => {
    const f = featureSchema.fields.find((x) => x.name === name)!;
    const b = makeBuilder({ type: f.type, nullValues: [null, undefined] });
    for (const v of values) b.append(v as never);
    return b.finish().flush();
  };
  const total = rows.reduce((s, r) => s + r.embedding.features.length, 0);
  const values = new Float32Array(total);
  const offsets = new Int32Array(rows.length + 1);
  rows.forEach((r, i) => {
    values.set(r.embedding.features, offsets[i]);
    offsets[i + 1] = offsets[i] + r.embedding.features.length;
  });
  const listType = featureSchema.fields[7].type as List<Float32>;
  const features = makeData({
    type: listType,
    length: rows.length,
    nullCount: 0,
    valueOffsets: offsets,
    child: makeData({ type: new Float32(), length: total, nullCount: 0, data: values }),
  });
  const children = [
    col('pair_id', rows.map((r) => r.pairId)),
    col('role', rows.map((r) => r.role)),
    col('response_index', rows.map((r) => r.responseIndex)),
    col('source_file', rows.map((r) => r.sourceFile)),
    col('source_row', rows.map((r) => BigInt(r.sourceRow))),
    col('tokens', rows.map((r) => r.embedding.tokens)),
    col('truncated', rows.map((r) => r.embedding.truncated)),
    features,
  ];
  const data = makeData({ type: new Struct(featureSchema.fields), length: rows.length, nullCount: 0, children });
  return new Table([new RecordBatch(featureSchema, data)]);
}

/* In memory: the features probe training and evaluation read (src/probe/featureData.ts, featureShards.ts). */

/** One preference pair as features: row-major [layers x width] each. */
export interface TrainingPair {
  readonly chosen: Float32Array;
  readonly rejected: Float32Array;
  /** Grouping for the metric breakdown (source file or category). */
  readonly group?: string;
}

/** One response with a safety label (true = safe, the higher reward). */
export interface TrainingLabel {
  readonly features: Float32Array;
  readonly safe: boolean;
}

/** One embedded pair, with what the metrics and the noise experiment need to know about it. */
export interface FeaturePair extends TrainingPair {
  readonly pairId: string;
  readonly sourceFile: string;
  readonly sourceRow: number;
  readonly category: string | null;
  readonly chosenText: string;
  readonly rejectedText: string;
  readonly prompt: string;
}

export interface FeatureLabel extends TrainingLabel {
  readonly sourceFile: string;
}

export interface FeatureSet {
  readonly pairs: FeaturePair[];
  readonly labels: FeatureLabel[];
  /** Records skipped because a text had no tokens. */
  readonly skipped: number;
  readonly truncated: number;
}
