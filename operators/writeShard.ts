import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { Observable, type OperatorFunction } from 'rxjs';
import { Field, Utf8, type Schema } from 'apache-arrow';
import {
  listOutputRow,
  listOutputSchema,
  pairOutputRow,
  pairOutputSchema,
  passThroughColumn,
  rejectOutputRow,
  rejectSchema,
  tableFromRows,
  withPassThrough,
} from '../schemas/output.js';
import type { PartStats, ShardResult } from '../schemas/manifest.js';
import type { Item, ListRecord, PairRecord, PartRef, RecordBatch, RejectRecord } from '../schemas/records.js';
import { InputFileError, oneLine } from '../src/runtime/errors.js';
import { displayPath } from '../src/runtime/inputs.js';
import { ParquetWriter, type ParquetWriterOptions } from '../src/runtime/ParquetWriter.js';
import type { Stats } from '../src/runtime/Stats.js';

export interface WriteShardOptions extends ParquetWriterOptions {
  readonly part: PartRef;
  readonly outDir: string;
  readonly split: string;
  readonly rank: number;
  readonly worldSize: number;
  readonly configHash: string;
  readonly stats: Stats;
}

/** `{split}-{i:05d}-of-{n:05d}.parquet`, the Hugging Face datasets naming. */
export function shardName(split: string, part: PartRef): string {
  return `${split}-${String(part.index).padStart(5, '0')}-of-${String(part.count).padStart(5, '0')}.parquet`;
}

const EXTRA = 'extra_columns';

/**
 * Writes one part's records: pairs to `data/`, rejects to `rejects/`, lists (from `convert`) to
 * `lists/`, each under a temporary name renamed into place on completion; emits one ShardResult
 * with the part's counts and the data shard's sha256.
 *
 * Pass-through columns are fixed by the first record (stored as text, see passThroughValue). For
 * JSON lines, where a later row may bring new keys, those go to `extra_columns` as JSON: nothing
 * is dropped.
 *
 * An unreadable input (InputFileError from the reader) removes the temporary files and emits a
 * "failed" result, so the run goes on with the next part; any other error removes them and errors.
 * Unsubscribing removes them too.
 *
 * ```
 * in:  [P X P] [P P] |
 * out: ------------- R|     R = { status: "done", stats: { rowsIn: 5, rowsOut: 4, rowsRejected: 1 } }
 * ```
 * @see streamPart
 */
export function writeShard(options: WriteShardOptions): OperatorFunction<RecordBatch<Item>, ShardResult> {
  const { part, outDir, split, stats } = options;
  if (!(options.rowGroupRows > 0)) throw new RangeError(`writeShard: rowGroupRows must be positive, got ${options.rowGroupRows}`);
  const name = shardName(split, part);
  const writerOptions: ParquetWriterOptions = { compression: options.compression, rowGroupRows: options.rowGroupRows, metadata: options.metadata };
  return (source) =>
    new Observable<ShardResult>((subscriber) => {
      let pairs: ParquetWriter | null = null;
      let lists: ParquetWriter | null = null;
      const rejects = new ParquetWriter(join(outDir, 'rejects', name), rejectSchema, writerOptions);
      let pairColumns: string[] | null = null;
      let listColumns: string[] | null = null;
      const counts = { rowsIn: 0, rowsOut: 0, rowsRejected: 0, rowsFlipped: 0, rowsTruncated: 0 };
      const byReason: Record<string, number> = {};
      const histogram = new Array<number>(10).fill(0);
      let lastRow = -1;
      let chain: Promise<void> = Promise.resolve();
      let finished = false;

      const columnsOf = (rec: PairRecord | ListRecord) => Object.keys(rec.passThrough).map(passThroughColumn);
      const schemaFor = (base: Schema, cols: string[]) =>
        withPassThrough(base, [...cols, ...(part.format === 'jsonl' ? [EXTRA] : [])].map((n) => ({ name: n, type: new Utf8() })));
      const fit = (row: Record<string, unknown>, base: Schema, cols: string[]) => {
        // Keys the shard's schema does not have go to extra_columns (JSON lines only).
        const known = new Set([...base.fields.map((f: Field) => f.name), ...cols]);
        const extra = Object.keys(row).filter((k) => !known.has(k));
        if (extra.length) row[EXTRA] = JSON.stringify(Object.fromEntries(extra.map((k) => [k, row[k]])));
        return row;
      };

      const writeBatch = async (batch: RecordBatch<Item>) => {
        const pairRows: Record<string, unknown>[] = [];
        const listRows: Record<string, unknown>[] = [];
        const rejectRows: Record<string, unknown>[] = [];
        for (const it of batch.items) {
          if (it.sourceRow !== lastRow) {
            counts.rowsIn++;
            lastRow = it.sourceRow;
          }
          if (it.kind === 'pair') {
            pairColumns ??= columnsOf(it);
            pairRows.push(fit(pairOutputRow(it), pairOutputSchema, pairColumns));
            counts.rowsOut++;
            if (it.flipped) counts.rowsFlipped++;
            if (it.embChosen?.truncated || it.embRejected?.truncated) counts.rowsTruncated++;
            if (it.confidence !== undefined) histogram[Math.min(9, Math.max(0, Math.floor(it.confidence * 10)))]++;
          } else if (it.kind === 'list') {
            listColumns ??= columnsOf(it);
            listRows.push(fit(listOutputRow(it), listOutputSchema, listColumns));
            counts.rowsOut++;
          } else if (it.kind === 'reject') {
            rejectRows.push(rejectOutputRow(it as RejectRecord));
            counts.rowsRejected++;
            const key = (it as RejectRecord).reason.replace(/:.*$/, '');
            byReason[key] = (byReason[key] ?? 0) + 1;
            stats.count(`writeShard.rejected.${key}`);
          } else {
            throw new Error(`writeShard: unexpected ${it.kind} record at ${it.sourceFile}:${it.sourceRow} (an adapter stage is missing)`);
          }
        }
        if (pairRows.length) {
          pairs ??= new ParquetWriter(join(outDir, 'data', name), schemaFor(pairOutputSchema, pairColumns!), writerOptions);
          await pairs.write(tableFromRows(pairs.schema, pairRows));
        }
        if (listRows.length) {
          if (!lists) {
            // Made on the first list only: most outputs have none, and get no empty lists/ folder.
            await mkdir(join(outDir, 'lists'), { recursive: true });
            lists = new ParquetWriter(join(outDir, 'lists', name), schemaFor(listOutputSchema, listColumns!), writerOptions);
          }
          await lists.write(tableFromRows(lists.schema, listRows));
        }
        if (rejectRows.length) await rejects.write(tableFromRows(rejectSchema, rejectRows));
        stats.count('writeShard.rows', batch.items.length);
      };

      const abortAll = async (): Promise<void> => {
        await Promise.all([pairs?.abort(), lists?.abort(), rejects.abort()]);
      };

      const result = (status: 'done' | 'failed', error: string | null, sha: string | null, wroteLists: boolean): ShardResult => {
        const st: PartStats = { ...counts, rejectsByReason: Object.fromEntries(Object.entries(byReason).sort(([a], [b]) => (a < b ? -1 : 1))) };
        return {
          index: part.index,
          count: part.count,
          input: { file: displayPath(part.file), rowGroups: part.rowGroups },
          status,
          error,
          output: status === 'done' ? `data/${name}` : null,
          rejects: status === 'done' ? `rejects/${name}` : null,
          ...(wroteLists ? { lists: `lists/${name}` } : {}),
          outputSha256: sha,
          stats: st,
          confidenceHistogram: histogram,
          rank: options.rank,
          worldSize: options.worldSize,
          configHash: options.configHash,
        };
      };

      const ready = Promise.all(['data', 'rejects'].map((d) => mkdir(join(outDir, d), { recursive: true })));
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
                stats.count('writeShard.failedParts');
                subscriber.next(result('failed', oneLine(err), null, false));
                subscriber.complete();
              } else subscriber.error(err);
            }, (e) => subscriber.error(e));
        },
        complete: () => {
          chain = chain
            .then(() => ready)
            .then(async () => {
              // A part whose rows were all rejected still gets its (empty) data shard: n shards, always.
              pairs ??= new ParquetWriter(join(outDir, 'data', name), schemaFor(pairOutputSchema, []), writerOptions);
              await Promise.all([pairs.close(), lists?.close(), rejects.close()]);
              finished = true;
              subscriber.next(result('done', null, await sha256(pairs.path), lists !== null));
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
