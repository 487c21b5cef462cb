/**
 * The decoder workers' buffer (parquetWorker.ts, arrowWorker.ts): a file's rows as they come out of
 * its reader, in chunks of columns, taken out a batch at a time. A batch crosses to the main thread
 * as columns, not one object per row: structured clone then writes no keys per row, and the main
 * thread builds the objects once (readers.ts, rowObjects). Measured (2026-12-07): clone and unclone
 * of 50k HH rows 5.5 -> 4.2 us a row; reading a 1M-row Parquet file through the reader, 14.9 ->
 * 13.6 s of CPU for both threads (median of 3, alternating runs).
 *
 * A text column can cross as UTF-8 bytes (TextColumn) instead of strings: one transferred buffer
 * per batch rather than one string per row cloned out and cloned in, and the worker never makes the
 * strings at all; the main thread makes them once, from the bytes (columnValues), and hands the
 * buffers back with its next request (BufferPool), so the same memory carries batch after batch.
 */

/**
 * A text column as UTF-8 bytes: row i is `utf8[ends[i], ends[i + 1])`, or null where `nulls[i]`
 * is 1. `utf8` is a view from the start of an ArrayBuffer of its own, which is transferred whole.
 */
export interface TextColumn {
  readonly utf8: Uint8Array;
  readonly ends: Float64Array;
  readonly nulls: Uint8Array;
}

/** A reader's text column, copied out row range by row range (duckDbText.ts: a DuckDB vector). */
export interface TextSource {
  /** Bytes of rows [from, to). */
  bytes(from: number, to: number): number;
  /** Copies rows [from, to) into `into`, as its rows `row` on; `into.ends[row]` is where they start. */
  copy(from: number, to: number, into: TextColumn, row: number): void;
}

/** A column of a batch: plain values, or text as bytes. */
export type Column = readonly unknown[] | TextColumn;

export const isText = (c: Column): c is TextColumn => !Array.isArray(c);

/** A batch as the decoders send it: column names in file order, one column per name. */
export interface ColumnBatch {
  readonly names: readonly string[];
  readonly columns: Column[];
  readonly n: number;
}

/** The buffers a batch's postMessage transfers rather than copies. */
export function transferList(batch: ColumnBatch): ArrayBuffer[] {
  return batch.columns.filter(isText).map((c) => c.utf8.buffer as ArrayBuffer);
}

/** What a decoder worker's reply transfers: a batch's text buffers; nothing for other replies. */
export const replyTransfer = (reply: object): ArrayBuffer[] => ('columns' in reply ? transferList(reply as ColumnBatch) : []);

/** A column's `n` values as the adapters take them: a text column's strings are made here. */
export function columnValues(c: Column, n: number): readonly unknown[] {
  if (!isText(c)) return c;
  const bytes = Buffer.from(c.utf8.buffer, c.utf8.byteOffset, c.utf8.byteLength);
  const out: (string | null)[] = new Array(n);
  for (let i = 0; i < n; i++) out[i] = c.nulls[i] ? null : bytes.toString('utf8', c.ends[i], c.ends[i + 1]);
  return out;
}

/**
 * The text buffers a worker writes batches into, handed back by the main thread once it has made
 * the strings. Fresh buffers of a batch's size each cost page faults on every batch (measured on
 * 300k HH rows: 340k minor faults against 230k, and slower than cloning strings).
 */
export class BufferPool {
  private readonly free: ArrayBuffer[] = [];

  constructor(private readonly keep = 8) {}

  /** A view of `bytes` bytes from the start of a buffer of its own. */
  take(bytes: number): Uint8Array {
    const at = this.free.findIndex((b) => b.byteLength >= bytes);
    // Room to grow: batches of the same rows differ in bytes, so an exact fit would rarely be reused.
    const buffer = at >= 0 ? this.free.splice(at, 1)[0] : new ArrayBuffer(Math.ceil((bytes * 1.25) / 65536) * 65536);
    return new Uint8Array(buffer, 0, bytes);
  }

  /** Buffers back; the largest `keep` are kept, smallest first, so a batch takes the smallest that fits. */
  give(buffers: readonly ArrayBuffer[]): void {
    this.free.push(...buffers);
    this.free.sort((a, b) => a.byteLength - b.byteLength);
    this.free.splice(0, Math.max(0, this.free.length - this.keep));
  }
}

type ChunkColumn = readonly unknown[] | TextSource;

interface Chunk {
  readonly columns: readonly ChunkColumn[];
  readonly rows: number;
  /** The first row not yet taken. */
  start: number;
  /** Called once the last row is taken (push). */
  readonly release?: () => void;
}

export class ColumnBuffer {
  private readonly chunks: Chunk[] = [];
  /** Rows held, not yet taken. */
  size = 0;

  constructor(
    readonly names: readonly string[],
    private readonly pool = new BufferPool(),
  ) {}

  /**
   * Adds a chunk of `rows` rows: one column per name, in the order of `names`. `release` is called
   * once its last row is taken, right after the copy, so a reader can give back what the chunk holds
   * (a DuckDB chunk: its strings, parquetWorker.ts) without waiting for the garbage collector.
   * Never called for a chunk left untaken when a reader stops.
   */
  push(columns: readonly ChunkColumn[], rows: number, release?: () => void): void {
    if (rows === 0) {
      release?.();
      return;
    }
    this.chunks.push({ columns, rows, start: 0, release });
    this.size += rows;
  }

  /** Takes the next `limit` rows (fewer when fewer are held). */
  take(limit: number): ColumnBatch {
    const n = Math.min(limit, this.size);
    // A column's type is the file's, so it is text in every chunk or in none.
    const pieces: { chunk: Chunk; start: number; k: number }[] = [];
    for (let taken = 0, c = 0; taken < n; c++) {
      const chunk = this.chunks[c];
      const k = Math.min(n - taken, chunk.rows - chunk.start);
      pieces.push({ chunk, start: chunk.start, k });
      taken += k;
    }
    const columns = this.names.map((_, c): Column => {
      if (pieces.length > 0 && !Array.isArray(pieces[0].chunk.columns[c])) {
        let bytes = 0;
        for (const p of pieces) bytes += (p.chunk.columns[c] as TextSource).bytes(p.start, p.start + p.k);
        const into: TextColumn = { utf8: this.pool.take(bytes), ends: new Float64Array(n + 1), nulls: new Uint8Array(n) };
        let row = 0;
        for (const p of pieces) {
          (p.chunk.columns[c] as TextSource).copy(p.start, p.start + p.k, into, row);
          row += p.k;
        }
        return into;
      }
      const to: unknown[] = [];
      for (const p of pieces) {
        const from = p.chunk.columns[c] as readonly unknown[];
        for (let i = p.start; i < p.start + p.k; i++) to.push(from[i]);
      }
      return to;
    });
    for (const p of pieces) {
      p.chunk.start += p.k;
      if (p.chunk.start === p.chunk.rows) this.chunks.shift()!.release?.();
    }
    this.size -= n;
    return { names: this.names, columns, n };
  }

  /** Text buffers the main thread is done with, for the next batches. */
  giveBack(buffers: readonly ArrayBuffer[]): void {
    this.pool.give(buffers);
  }
}
