/**
 * The skeleton every pipeline shares: parts one after another (concatMap, so a file is opened only
 * when the previous one is done), each read pull-wise through its batch stages into its writer, each
 * finished part recorded. A pipeline (convert, embed, rerank) is then a list of stages and a writer.
 */
import { concatMap, from, Observable, Subject, type OperatorFunction } from 'rxjs';
import type { ShardResult } from '../schemas/manifest.js';
import type { Item, PartRef, ReadItem, RecordBatch } from '../schemas/records.js';
import { markComplete } from '../operators/markComplete.js';
import { readPartRows, type ReadOptions } from '../src/runtime/io/readers.js';
import type { Stats } from '../src/runtime/Stats.js';

export interface StreamPartOptions<B> {
  readonly part: PartRef;
  readonly read: ReadOptions;
  /** The batch stages (adapt ... relabel). They must emit exactly one batch per input batch. */
  readonly stages: OperatorFunction<RecordBatch<ReadItem>, B>;
  /**
   * Batches read but not yet through `stages` (or, with `written`, not yet written). RxJS has no
   * backpressure of its own, so this is how memory stays flat: the reader reads batch k + window
   * only after batch k came out. Two lets the reader work while the model runs, without piling
   * batches up.
   */
  readonly window: number;
  readonly stats: Stats;
  /**
   * Emits once per batch its writer has written. When given, a batch holds its place in the window
   * until then, not only until it comes out of the stages: a writer that falls behind (the encoder
   * flushing a row group, a slow disk) holds the reader back instead of queueing batches. Measured
   * before (2026-12-07): during the first row-group flush of a 1M-row JSON lines convert, the main
   * thread's heap grew 94 -> 244 MiB with batches waiting for the writer.
   */
  readonly written?: Observable<unknown>;
}

/**
 * Reads one part pull-wise through the batch stages: the next batch is read only when fewer than
 * `window` are in flight, so a slow stage (the model) sets the pace and a huge file needs no more
 * memory than a few batches.
 *
 * ```
 * reader:  b0 b1 ....... b2 ....... b3|      (window 2: b2 is read when b0 comes out)
 * stages:  -------B0 ------- B1 ---- B2 -- B3|
 * ```
 * Errors of the reader (an unreadable file) and of the stages error the result; unsubscribing stops
 * the reader and closes its file. With `written`, a batch leaves the window when its writer has
 * written it (eachPart wires its writer so).
 * @see adaptRows, validatePairs, writeShard
 */
export function streamPart<B>(options: StreamPartOptions<B>): Observable<B> {
  const { part, read, stages, window, stats, written } = options;
  if (!Number.isInteger(window) || window < 1) throw new RangeError(`streamPart: window must be a positive integer, got ${window}`);
  return new Observable<B>((subscriber) => {
    const rows = readPartRows(part, read);
    const input = new Subject<RecordBatch<ReadItem>>();
    let inFlight = 0;
    // Row counts of the batches in flight, oldest first: the stages emit one batch per batch, in order.
    const sizes: number[] = [];
    let index = 0;
    let done = false;
    let pulling = false;
    const pull = async (): Promise<void> => {
      if (pulling) return;
      pulling = true;
      try {
        while (!done && inFlight < window && !subscriber.closed) {
          const next = await rows.next();
          if (subscriber.closed) break;
          if (next.done) {
            done = true;
            input.complete();
            break;
          }
          inFlight++;
          sizes.push(next.value.length);
          stats.count('streamPart.batches');
          stats.count('streamPart.rows', next.value.length);
          input.next({ part, index: index++, items: next.value });
        }
      } catch (err) {
        done = true;
        input.error(err);
      } finally {
        pulling = false;
      }
    };
    const release = () => {
      inFlight--;
      void pull();
    };
    const writes = written?.subscribe(release);
    const sub = input.pipe(stages).subscribe({
      next: (b) => {
        // Rows through every stage (progress counts these, not rows read ahead).
        stats.count('streamPart.rowsDone', sizes.shift() ?? 0);
        subscriber.next(b);
        if (!written) release();
      },
      error: (err) => subscriber.error(err),
      complete: () => subscriber.complete(),
    });
    void pull();
    return () => {
      sub.unsubscribe();
      writes?.unsubscribe();
      void rows.return(undefined);
    };
  });
}

export interface EachPartOptions<T extends Item> {
  readonly read: ReadOptions;
  readonly window: number;
  readonly outDir: string;
  readonly stats: Stats;
  /** The part's batch stages, from raw rows to records (see streamPart); made anew for each part, as a stage may keep state within its part. */
  readonly stages: (part: PartRef) => OperatorFunction<RecordBatch<ReadItem>, RecordBatch<T>>;
  /**
   * The part's writer: its batches in, one ShardResult out (writeShard, writeFeatures). It calls
   * `written` once per batch it has written, which frees the batch's place in the reader's window.
   */
  readonly write: (part: PartRef, written: () => void) => OperatorFunction<RecordBatch<T>, ShardResult>;
}

/**
 * Runs `parts` in order, each through `stages` and its writer, and records each finished part
 * (markComplete), so a rerun skips it.
 *
 * ```
 * parts:   p0 ........... p1 ........|
 * out:     ---------- R0 ----------- R1|   (R written to completions/ before it is passed on)
 * ```
 */
export function eachPart<T extends Item>(parts: readonly PartRef[], options: EachPartOptions<T>): Observable<ShardResult> {
  const { read, window, stats, stages } = options;
  return from(parts).pipe(
    concatMap((part) => {
      const written = new Subject<void>();
      return streamPart({ part, read, window, stats, stages: stages(part), written }).pipe(options.write(part, () => written.next()));
    }),
    markComplete({ outDir: options.outDir }),
  );
}
