import { shardPath, type OutputFormat } from '../schemas/layout.js';
import { mkdir } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { OperatorFunction } from 'rxjs';
import { FEATURE_METADATA_KEY, featureSchema, featureTable, type FeatureRow, type FeatureShardMetadata } from '../schemas/features.js';
import type { ShardResult } from '../schemas/manifest.js';
import type { EmbeddedItem, EmbeddedList, EmbeddedPair, Embedding, RecordBatch } from '../schemas/records.js';
import { openShardWriter } from '../src/runtime/io/shardWriter.js';
import { sinkPart, type PartSink, type PartTally, type ShardTarget } from '../src/runtime/io/partSink.js';

export interface WriteFeaturesOptions extends ShardTarget {
  readonly compression: 'zstd' | 'snappy' | 'none';
  /** Shard file format (default parquet); the footer metadata goes into an Arrow file's schema metadata. */
  readonly format?: OutputFormat;
  /** Upper bound of rows per row group; lowered so that a row group stays under about 64 MiB. */
  readonly rowGroupRows: number;
  /** Shape every embedding must have (the embedder's). */
  readonly layers: readonly number[];
  readonly width: number;
  /** Footer metadata: how the features were made (model and tokenizer hashes, template). */
  readonly metadata: Omit<FeatureShardMetadata, 'layers' | 'width'>;
}

const ROW_GROUP_BYTES = 64 * 2 ** 20;

/**
 * Writes one part's embedded records as a feature shard, `features/{split}-{i}-of-{n}.parquet`
 * (schemas/features.ts): a row per text, pairs as `chosen` and `rejected`, lists as `candidate`
 * rows with their response index, in input order; rejects go to `rejects/` as in writeShard. Both
 * files are written under temporary names and renamed on completion; emits one ShardResult.
 *
 * ```
 * in:  [P X L3] [P] |     L3: a list of 3 responses
 * out: ------------ R|    7 feature rows (2 + 3 + 2); R.stats = { rowsIn: 4, rowsOut: 3, rowsRejected: 1 }
 * ```
 *
 * An unreadable input (InputFileError) gives a "failed" result and the run goes on; an embedding
 * of another shape than the embedder's is a pipeline bug and errors the stream.
 *
 * @see embedPairs (before), writeShard (the same for re-ranked pairs), markComplete (after)
 */
export function writeFeatures(options: WriteFeaturesOptions): OperatorFunction<RecordBatch<EmbeddedItem>, ShardResult> {
  const { part, outDir, split, stats, layers, width } = options;
  if (!(options.rowGroupRows > 0)) throw new RangeError(`writeFeatures: rowGroupRows must be positive, got ${options.rowGroupRows}`);
  if (!(width > 0) || layers.length === 0) throw new RangeError(`writeFeatures: need layers and a width, got ${layers.length} x ${width}`);
  const featuresPath = shardPath('features', split, part.index, part.count, options.format);
  const rowBytes = layers.length * width * 4;
  const rowGroupRows = Math.max(1, Math.min(options.rowGroupRows, Math.floor(ROW_GROUP_BYTES / rowBytes)));
  const meta: FeatureShardMetadata = { layers, width, numLayers: options.metadata.numLayers, modelSha256: options.metadata.modelSha256, tokenizerSha256: options.metadata.tokenizerSha256, template: options.metadata.template };
  const metadata = { [FEATURE_METADATA_KEY]: JSON.stringify(meta) };
  const writerOptions = { compression: options.compression, rowGroupRows, format: options.format };

  const check = (e: Embedding, where: string): Embedding => {
    if (e.layers !== layers.length || e.width !== width) throw new Error(`writeFeatures: ${where} has ${e.layers} x ${e.width} features, expected ${layers.length} x ${width}`);
    return e;
  };

  const open = (): PartSink<EmbeddedPair | EmbeddedList> => {
    const features = openShardWriter(join(outDir, featuresPath), featureSchema, { ...writerOptions, metadata });
    const ready = mkdir(dirname(features.path), { recursive: true });
    return {
      async write(records: readonly (EmbeddedPair | EmbeddedList)[], tally: PartTally) {
        const rows: FeatureRow[] = [];
        for (const it of records) {
          const base = { sourceFile: it.sourceFile, sourceRow: it.sourceRow };
          if (it.kind === 'pair') {
            const where = `pair ${it.pairId} (${it.sourceFile} row ${it.sourceRow})`;
            const c = check(it.embChosen, where);
            const r = check(it.embRejected, where);
            rows.push({ ...base, pairId: it.pairId, role: 'chosen', responseIndex: null, embedding: c }, { ...base, pairId: it.pairId, role: 'rejected', responseIndex: null, embedding: r });
            if (c.truncated || r.truncated) tally.rowsTruncated++;
          } else {
            const where = `list ${it.listId} (${it.sourceFile} row ${it.sourceRow})`;
            it.embeddings.forEach((e, k) => rows.push({ ...base, pairId: it.listId, role: 'candidate', responseIndex: k, embedding: check(e, where) }));
            if (it.embeddings.some((e) => e.truncated)) tally.rowsTruncated++;
          }
          tally.rowsOut++;
        }
        await ready;
        await features.write(featureTable(rows));
        stats.count('writeFeatures.featureRows', rows.length);
      },
      async close() {
        await ready;
        await features.close();
        return { output: featuresPath };
      },
      abort: () => features.abort(),
    };
  };
  return sinkPart({ ...options, write: writerOptions, name: 'writeFeatures', open });
}
