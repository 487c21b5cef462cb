/**
 * Feature shards written by `prefrank embed` (schemas/features.ts) as probe training data, so that
 * the expensive forward pass runs once and `probe train` can be rerun with other flags for free.
 * Pairs come from a pair's adjacent `chosen` and `rejected` rows; `candidate` rows (lists) carry no
 * preference and are counted, not used. Shards hold no safety labels and no texts.
 */
import { dataFolderOf, shardFormatOf } from '../../schemas/layout.js';
import { createReadStream, openAsBlob } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import { basename, join, resolve } from 'node:path';
import { RecordBatchReader, tableFromIPC, type Vector } from 'apache-arrow';
import * as pw from 'parquet-wasm/node';
import { FEATURE_METADATA_KEY, type FeatureShardMetadata, type FeaturePair, type FeatureSet } from '../../schemas/features.js';
import { UserError } from '../runtime/errors.js';
import { expandInputs } from '../runtime/io/inputs.js';
import { committedFiles } from '../runtime/io/OutputFolder.js';
import { shardFiles } from '../runtime/io/shardFiles.js';
import type { FeatureSource } from '../../schemas/probe.js';

/** The footer metadata of a feature shard, or null when the file is not one (or not Parquet). */
export async function featureShardMetadata(file: string): Promise<FeatureShardMetadata | null> {
  const format = shardFormatOf(file);
  if (format === 'arrow') {
    // An Arrow shard keeps the footer metadata in its schema's: only the schema message is read.
    try {
      const reader = await RecordBatchReader.from(createReadStream(file));
      await reader.open();
      const json = reader.schema.metadata.get(FEATURE_METADATA_KEY);
      await reader.cancel();
      return typeof json === 'string' ? (JSON.parse(json) as FeatureShardMetadata) : null;
    } catch {
      return null;
    }
  }
  if (format !== 'parquet') return null;
  let pf: pw.ParquetFile | null = null;
  try {
    pf = await pw.ParquetFile.fromFile(await openAsBlob(file));
    const kv = pf.metadata().fileMetadata().keyValueMetadata();
    const json = kv.get(FEATURE_METADATA_KEY);
    return typeof json === 'string' ? (JSON.parse(json) as FeatureShardMetadata) : null;
  } catch {
    return null;
  } finally {
    pf?.free();
  }
}

/** The shard files of the inputs when every input is feature shards (an embed output folder counts), else null. */
export async function featureShardFiles(inputs: readonly string[]): Promise<string[] | null> {
  const resolved: string[] = [];
  // An embed output folder's committed shards, of either format: a shard that no completion record
  // names (a stopped run's) is left out.
  const folderShards: string[] = [];
  for (const input of inputs) {
    // An embed output folder: its shards are under features/.
    const st = await stat(input).catch(() => null);
    const sub = join(input, dataFolderOf('embed'));
    const isFolder = st?.isDirectory() && (await stat(sub).catch(() => null))?.isDirectory();
    if (isFolder) folderShards.push(...shardFiles(input, dataFolderOf('embed'), committedFiles(input)));
    else resolved.push(input);
  }
  // One sorted list (code-unit order, as expandInputs sorts), so the pairs' order, and with it the
  // training split, does not depend on how the inputs were named.
  const files = [...new Set([...(resolved.length ? await expandInputs(resolved) : []), ...folderShards.map((f) => resolve(f))])].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  for (const f of files) if (!(await featureShardMetadata(f))) return null;
  return files;
}

export interface ShardFeatures {
  readonly features: FeatureSet;
  readonly source: FeatureSource;
  /** Candidate rows (from lists) that were not used. */
  readonly candidates: number;
}

/** Reads feature shards into pairs; every shard must come from the same model, layers and template. */
export async function readFeatureShards(files: readonly string[]): Promise<ShardFeatures> {
  let meta: FeatureShardMetadata | null = null;
  const pairs: FeaturePair[] = [];
  let candidates = 0;
  let truncated = 0;
  for (const file of files) {
    const m = (await featureShardMetadata(file))!;
    if (!meta) meta = m;
    else if (m.modelSha256 !== meta.modelSha256 || m.width !== meta.width || m.layers.join() !== meta.layers.join() || m.template !== meta.template)
      throw new UserError(`${file}: features from another model, layers or template than ${files[0]}; train on shards of one embed run`);
    let table;
    if (shardFormatOf(file) === 'arrow') table = tableFromIPC(await readFile(file));
    else {
      const pf = await pw.ParquetFile.fromFile(await openAsBlob(file));
      try {
        table = tableFromIPC((await pf.read()).intoIPCStream());
      } finally {
        pf.free();
      }
    }
    const col = (name: string) => table.getChild(name)!;
    const [ids, roles, files_, rows, truncs, feats] = ['pair_id', 'role', 'source_file', 'source_row', 'truncated', 'features'].map(col);
    const size = m.layers.length * m.width;
    const featuresAt = (i: number): Float32Array => {
      // A copy: the column's buffer belongs to the whole table.
      const v = Float32Array.from((feats.get(i) as Vector).toArray() as Float32Array);
      if (v.length !== size) throw new UserError(`${file} row ${i}: ${v.length} features, expected ${m.layers.length} x ${m.width}`);
      return v;
    };
    for (let i = 0; i < table.numRows; i++) {
      const role = roles.get(i) as string;
      if (role === 'candidate') {
        candidates++;
        continue;
      }
      if (role !== 'chosen' || i + 1 >= table.numRows || roles.get(i + 1) !== 'rejected' || ids.get(i + 1) !== ids.get(i))
        throw new UserError(`${file} row ${i}: a '${role}' row without its pair (feature shards hold a pair's chosen and rejected rows next to each other)`);
      if (truncs.get(i) || truncs.get(i + 1)) truncated++;
      const sourceFile = files_.get(i) as string;
      pairs.push({
        chosen: featuresAt(i),
        rejected: featuresAt(i + 1),
        group: basename(sourceFile),
        pairId: ids.get(i) as string,
        sourceFile,
        sourceRow: Number(rows.get(i)),
        category: null,
        chosenText: '',
        rejectedText: '',
        prompt: '',
      });
      i++;
    }
  }
  if (!meta) throw new UserError('no feature shards to read');
  return {
    features: { pairs, labels: [], skipped: 0, truncated },
    source: { modelSha256: meta.modelSha256, tokenizerSha256: meta.tokenizerSha256, modelName: '(feature shards)', layers: meta.layers, width: meta.width, pooling: 'last-token', template: meta.template },
    candidates,
  };
}
