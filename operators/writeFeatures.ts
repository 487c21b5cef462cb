import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { Observable, type OperatorFunction } from 'rxjs';
import { FEATURE_METADATA_KEY, featureSchema, featureTable, type FeatureRow, type FeatureShardMetadata } from '../schemas/features.js';
import type { PartStats, ShardResult } from '../schemas/manifest.js';
import { rejectOutputRow, rejectSchema, tableFromRows } from '../schemas/output.js';
import type { Embedding, Item, PartRef, RecordBatch, RejectRecord } from '../schemas/records.js';
import { InputFileError, oneLine } from '../src/runtime/errors.js';
import { displayPath } from '../src/runtime/inputs.js';
import { ParquetWriter } from '../src/runtime/ParquetWriter.js';
import type { Stats } from '../src/runtime/Stats.js';
import { shardName } from './writeShard.js';

export interface WriteFeaturesOptions {
  readonly part: PartRef;
  readonly outDir: string;
  readonly split: string;
  readonly rank: number;
  readonly worldSize: number;
  readonly configHash: string;
  readonly compression: 'zstd' | 'snappy' | 'none';
  /** Upper bound of rows per row group; lowered so that a row group stays under about 64 MiB. */
  readonly rowGroupRows: number;
  /** Shape every embedding must have (the embedder's). */
  readonly layers: readonly number[];
  readonly width: number;
  /** Footer metadata: how the features were made (model and tokenizer hashes, template). */
  readonly metadata: Omit<FeatureShardMetadata, 'layers' | 'width'>;
  readonly stats: Stats;
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
 * An unreadable input (InputFileError) gives a "failed" result and the run goes on; a record
 * without embeddings is a pipeline bug (embedPairs must run first) and errors the stream.
 *
 * @see embedPairs (before), writeShard (the same for re-ranked pairs), markComplete (after)
 */
export function writeFeatures(options: WriteFeaturesOptions): OperatorFunction<RecordBatch<Item>, ShardResult> {
  const { part, outDir, split, stats, layers, width } = options;
  if (!(options.rowGroupRows > 0)) throw new RangeError(`writeFeatures: rowGroupRows must be positive, got ${options.rowGroupRows}`);
  if (!(width > 0) || layers.length === 0) throw new RangeError(`writeFeatures: need layers and a width, got ${layers.length} x ${width}`);
  const name = shardName(split, part);
  const rowBytes = layers.length * width * 4;
  const rowGroupRows = Math.max(1, Math.min(options.rowGroupRows, Math.floor(ROW_GROUP_BYTES / rowBytes)));
  const meta: FeatureShardMetadata = { layers, width, numLayers: options.metadata.numLayers, modelSha256: options.metadata.modelSha256, tokenizerSha256: options.metadata.tokenizerSha256, template: options.metadata.template };
  const metadata = { [FEATURE_METADATA_KEY]: JSON.stringify(meta) };
  const writerOptions = { compression: options.compression, rowGroupRows };

  const check = (e: Embedding | undefined, where: string): Embedding => {
    if (!e) throw new Error(`writeFeatures: ${where} has no embedding; embedPairs must run before writeFeatures`);
    if (e.layers !== layers.length || e.width !== width) throw new Error(`writeFeatures: ${where} has ${e.layers} x ${e.width} features, expected ${layers.length} x ${width}`);
    return e;
  };

  return (source) =>
    new Observable<ShardResult>((subscriber) => {
      const features = new ParquetWriter(join(outDir, 'features', name), featureSchema, { ...writerOptions, metadata });
      const rejects = new ParquetWriter(join(outDir, 'rejects', name), rejectSchema, writerOptions);
      const counts = { rowsIn: 0, rowsOut: 0, rowsRejected: 0, rowsFlipped: 0, rowsTruncated: 0 };
      const byReason: Record<string, number> = {};
      let lastRow = -1;
      let chain: Promise<void> = Promise.resolve();
      let finished = false;

      const writeBatch = async (batch: RecordBatch<Item>) => {
        const rows: FeatureRow[] = [];
        const rejectRows: Record<string, unknown>[] = [];
        for (const it of batch.items) {
          if (it.sourceRow !== lastRow) {
            counts.rowsIn++;
            lastRow = it.sourceRow;
          }
          const base = { sourceFile: it.sourceFile, sourceRow: it.sourceRow };
          if (it.kind === 'pair') {
            const where = `pair ${it.pairId} (${it.sourceFile} row ${it.sourceRow})`;
            const c = check(it.embChosen, where);
            const r = check(it.embRejected, where);
            rows.push({ ...base, pairId: it.pairId, role: 'chosen', responseIndex: null, embedding: c }, { ...base, pairId: it.pairId, role: 'rejected', responseIndex: null, embedding: r });
            if (c.truncated || r.truncated) counts.rowsTruncated++;
            counts.rowsOut++;
          } else if (it.kind === 'list') {
            const where = `list ${it.listId} (${it.sourceFile} row ${it.sourceRow})`;
            if (it.embeddings?.length !== it.responses.length) throw new Error(`writeFeatures: ${where} has ${it.embeddings?.length ?? 0} embeddings for ${it.responses.length} responses; embedPairs must run first`);
            it.embeddings.forEach((e, k) => rows.push({ ...base, pairId: it.listId, role: 'candidate', responseIndex: k, embedding: check(e, where) }));
            if (it.embeddings.some((e) => e.truncated)) counts.rowsTruncated++;
            counts.rowsOut++;
          } else if (it.kind === 'reject') {
            rejectRows.push(rejectOutputRow(it as RejectRecord));
            counts.rowsRejected++;
            const key = (it as RejectRecord).reason.replace(/:.*$/, '');
            byReason[key] = (byReason[key] ?? 0) + 1;
          } else {
            throw new Error(`writeFeatures: unexpected ${it.kind} record at ${it.sourceFile}:${it.sourceRow} (an adapter stage is missing)`);
          }
        }
        if (rows.length) await features.write(featureTable(rows));
        if (rejectRows.length) await rejects.write(tableFromRows(rejectSchema, rejectRows));
        stats.count('writeFeatures.rows', rows.length);
      };

      const abortAll = async () => {
        await Promise.all([features.abort(), rejects.abort()]);
      };
      const result = (status: 'done' | 'failed', error: string | null, sha: string | null): ShardResult => {
        const st: PartStats = { ...counts, rejectsByReason: Object.fromEntries(Object.entries(byReason).sort(([a], [b]) => (a < b ? -1 : 1))) };
        return {
          index: part.index,
          count: part.count,
          input: { file: displayPath(part.file), rowGroups: part.rowGroups },
          status,
          error,
          output: status === 'done' ? `features/${name}` : null,
          rejects: status === 'done' ? `rejects/${name}` : null,
          outputSha256: sha,
          stats: st,
          confidenceHistogram: new Array<number>(10).fill(0),
          rank: options.rank,
          worldSize: options.worldSize,
          configHash: options.configHash,
        };
      };

      const ready = Promise.all(['features', 'rejects'].map((d) => mkdir(join(outDir, d), { recursive: true })));
      const sub = source.subscribe({
        next: (batch) => {
          chain = chain.then(() => ready).then(() => writeBatch(batch));
          chain.catch((err) => subscriber.error(err));
        },
        error: (err) => {
          chain = chain
            .catch(() => undefined)
            .then(abortAll)
            .then(() => {
              finished = true;
              if (err instanceof InputFileError) {
                stats.count('writeFeatures.failedParts');
                subscriber.next(result('failed', oneLine(err), null));
                subscriber.complete();
              } else subscriber.error(err);
            }, (e) => subscriber.error(e));
        },
        complete: () => {
          chain = chain
            .then(() => ready)
            .then(async () => {
              await Promise.all([features.close(), rejects.close()]);
              finished = true;
              subscriber.next(result('done', null, await sha256(features.path)));
              subscriber.complete();
            })
            .catch((err) => abortAll().finally(() => subscriber.error(err)));
        },
      });
      return () => {
        sub.unsubscribe();
        if (!finished) void chain.finally(abortAll);
      };
    });
}

async function sha256(path: string): Promise<string> {
  const h = createHash('sha256');
  for await (const chunk of createReadStream(path)) h.update(chunk as Buffer);
  return h.digest('hex');
}
