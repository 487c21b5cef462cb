import { shardPath } from '../../../schemas/layout.js';
import { mkdir } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { Observable, type OperatorFunction } from 'rxjs';
import { addExpectedErrors, emptyExpectedErrors, roundExpectedErrors, type ExpectedErrors, type ShardResult } from '../../../schemas/manifest.js';
import { rejectOutputRow, rejectSchema, tableFromRows } from '../../../schemas/output.js';
import type { ListRecord, PairRecord, PartRef, RecordBatch, RejectRecord } from '../../../schemas/records.js';
import { InputFileError, oneLine } from '../errors.js';
import { sha256File } from '../hash.js';
import { openShardWriter, type ShardWriterOptions } from './shardWriter.js';
import type { Stats } from '../Stats.js';


/** The counts of one part, as the writers see its records go by. */
export class PartTally {
  rowsIn = 0;
  rowsOut = 0;
  rowsRejected = 0;
  rowsFlipped = 0;
  rowsTruncated = 0;
  readonly rejectsByReason: Record<string, number> = {};
  /** Confidence histogram, 10 bins over [0, 1]. */
  readonly histogram = new Array<number>(10).fill(0);
  /** Sums of posteriors; null until a pair with a confidence is seen. */
  expected: ExpectedErrors | null = null;
  private lastRow = -1;

  /** Input rows: records arrive in source order, and a list's pairs share their row. */
  see(sourceRow: number): void {
    if (sourceRow !== this.lastRow) {
      this.rowsIn++;
      this.lastRow = sourceRow;
    }
  }

  /** The reason up to its first ':' (the detail names a column or a number). */
  reject(r: RejectRecord): string {
    this.rowsRejected++;
    const key = r.reason.replace(/:.*$/, '');
    this.rejectsByReason[key] = (this.rejectsByReason[key] ?? 0) + 1;
    return key;
  }

  confidence(c: number, flipped: boolean): void {
    this.histogram[Math.min(9, Math.max(0, Math.floor(c * 10)))]++;
    addExpectedErrors((this.expected ??= emptyExpectedErrors()), c, flipped);
  }
}

/** What a part's writer does with its records (pairs or lists, at some stage); sinkPart runs the life cycle around it. */
export interface PartSink<R extends PairRecord | ListRecord> {
  /** Writes one batch's records (rejects are written by sinkPart). Counts into the tally. */
  write(records: readonly R[], tally: PartTally): Promise<void>;
  /** Finishes and renames its files into place; returns the main file, relative to the folder. */
  close(): Promise<{ output: string; extra?: Partial<ShardResult> }>;
  /** Stops and removes its temporary files. */
  abort(): Promise<void>;
}

/** Which shard a writer writes, where, and under which run. */
export interface ShardTarget {
  readonly part: PartRef;
  readonly outDir: string;
  readonly split: string;
  readonly rank: number;
  readonly worldSize: number;
  readonly configHash: string;
  readonly stats: Stats;
  /** The provider that embedded the part, recorded in its completion record (rerank, embed). */
  readonly device?: string;
  /** Called once per batch written, so the part's reader may read the next (eachPart's window). */
  readonly written?: () => void;
}

export interface SinkPartOptions<R extends PairRecord | ListRecord> extends ShardTarget {
  /** Options of the rejects file. */
  readonly write: ShardWriterOptions;
  /** Prefix of the stats counters, the calling operator's name. */
  readonly name: string;
  /** Opens the part's sink (called on subscribe). */
  readonly open: () => PartSink<R>;
}

/**
 * The life cycle every shard writer shares: records go to the sink, rejects to
 * `rejects/{shard}`, batch by batch and in order; on completion the files are renamed into place
 * and one ShardResult is emitted with the counts and the main file's sha256.
 *
 * An unreadable input (InputFileError from the reader) removes the temporary files and emits a
 * "failed" result, so the run goes on with the next part; any other error removes them and errors.
 * Unsubscribing removes them too.
 *
 * ```
 * in:  [P X P] [P P] |
 * out: ------------- R|     R = { status: "done", stats: { rowsIn: 5, rowsOut: 4, rowsRejected: 1 } }
 * ```
 * @see writeShard, writeFeatures
 */
export function sinkPart<R extends PairRecord | ListRecord>(options: SinkPartOptions<R>): OperatorFunction<RecordBatch<R | RejectRecord>, ShardResult> {
  const { part, outDir, stats, name } = options;
  const rejectsPath = shardPath('rejects', options.split, part.index, part.count, options.write.format);
  return (source) =>
    new Observable<ShardResult>((subscriber) => {
      const sink = options.open();
      const rejects = openShardWriter(join(outDir, rejectsPath), rejectSchema, options.write);
      const tally = new PartTally();
      let chain: Promise<void> = mkdir(dirname(rejects.path), { recursive: true }).then(() => undefined);
      let finished = false;

      const writeBatch = async (batch: RecordBatch<R | RejectRecord>) => {
        const records: R[] = [];
        const rejectRows: Record<string, unknown>[] = [];
        for (const it of batch.items) {
          tally.see(it.sourceRow);
          if (it.kind !== 'reject') records.push(it);
          else {
            rejectRows.push(rejectOutputRow(it));
            stats.count(`${name}.rejected.${tally.reject(it)}`);
          }
        }
        if (records.length) await sink.write(records, tally);
        if (rejectRows.length) await rejects.write(tableFromRows(rejectSchema, rejectRows));
        stats.count(`${name}.rows`, batch.items.length);
      };
      const abortAll = async (): Promise<void> => {
        await Promise.all([sink.abort(), rejects.abort()]);
      };
      // A failed part keeps none of its files, so its counts are zero: the manifest only ever counts
      // what the folders hold (the rows read before the failure are gone with its files).
      const result = (status: 'done' | 'failed', error: string | null, output: string | null, sha: string | null, extra: Partial<ShardResult> = {}): ShardResult => {
        const t = status === 'done' ? tally : new PartTally();
        return {
        index: part.index,
        count: part.count,
        input: { file: part.source, rowGroups: part.rowGroups, ...(part.rowRange ? { rowRange: part.rowRange } : {}), ...(part.byteRange ? { byteRange: part.byteRange } : {}) },
        status,
        error,
        output,
        rejects: status === 'done' ? rejectsPath : null,
        ...extra,
        outputSha256: sha,
        stats: {
          rowsIn: t.rowsIn,
          rowsOut: t.rowsOut,
          rowsRejected: t.rowsRejected,
          rowsFlipped: t.rowsFlipped,
          rowsTruncated: t.rowsTruncated,
          rejectsByReason: Object.fromEntries(Object.entries(t.rejectsByReason).sort(([a], [b]) => (a < b ? -1 : 1))),
        },
        confidenceHistogram: [...t.histogram],
        ...(t.expected ? { expectedErrors: roundExpectedErrors(t.expected) } : {}),
        ...(options.device ? { device: options.device } : {}),
        rank: options.rank,
        worldSize: options.worldSize,
        configHash: options.configHash,
        };
      };

      const sub = source.subscribe({
        next: (batch) => {
          chain = chain.then(() => writeBatch(batch)).then(() => options.written?.());
          chain.catch((err) => subscriber.error(err));
        },
        error: (err) => {
          chain = chain
            .catch(() => undefined)
            .then(abortAll)
            .then(
              () => {
                finished = true;
                if (err instanceof InputFileError) {
                  stats.count(`${name}.failedParts`);
                  subscriber.next(result('failed', oneLine(err), null, null));
                  subscriber.complete();
                } else subscriber.error(err);
              },
              (e) => subscriber.error(e),
            );
        },
        complete: () => {
          chain = chain
            .then(async () => {
              const [{ output, extra }] = await Promise.all([sink.close(), rejects.close()]);
              finished = true;
              subscriber.next(result('done', null, output, await sha256File(join(outDir, output)), extra));
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

