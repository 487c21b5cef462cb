/**
 * Pull-based readers: async generators that read the next batch of rows only when asked, so the
 * pipeline's demand (not the disk) sets the pace and memory stays at a few batches.
 */
import { createReadStream } from 'node:fs';
import { Worker } from 'node:worker_threads';
import { createGunzip } from 'node:zlib';
import { RAW_PREVIEW, toReject, type PartRef, type RawRow, type ReadItem } from '../../../schemas/records.js';
import { InputFileError, oneLine } from '../errors.js';
import { columnValues, transferList, type ColumnBatch } from './columnBuffer.js';
import type { PageStreamPolicy } from './parquetPageText.js';

/** The reject reason of a damaged input file; the rows before the damage are kept. */
export const DAMAGED_INPUT = 'damaged input';

export interface ReadOptions {
  /** Rows per emitted batch. */
  readonly batchRows: number;
  /** Lines longer than this many bytes are rejected without being parsed (a bound on memory). */
  readonly maxRowBytes: number;
  /**
   * Parquet: the text columns read inside their pages (parquetPageText.ts: memory that follows the
   * batch, not the page) instead of by DuckDB; absent: none.
   */
  readonly pageStream?: PageStreamPolicy;
}


/**
 * One file reader in a worker thread: requests go one at a time; a reader that dies (a panic, a
 * native crash, its heap limit) ends the worker and rejects the request in flight with what it
 * said, and the process goes on. The decoders of readers that parse untrusted bytes in JS or wasm.
 */
export class DecoderWorker {
  private readonly worker: Worker;
  private pending: { resolve: (v: Record<string, unknown>) => void; reject: (e: Error) => void } | null = null;
  /** The request in flight, settled or not: close waits for it. */
  private inFlight: Promise<unknown> | null = null;
  private dead: Error | null = null;

  constructor(script: URL, what: string, resourceLimits?: { maxOldGenerationSizeMb: number }) {
    this.worker = new Worker(script, resourceLimits ? { resourceLimits } : {});
    const fail = (err: Error) => {
      this.dead ??= err;
      this.pending?.reject(err);
      this.pending = null;
    };
    this.worker.on('message', (m: Record<string, unknown>) => {
      const p = this.pending;
      this.pending = null;
      this.worker.unref();
      if (typeof m.error === 'string') p?.reject(new Error(m.error));
      else p?.resolve(m);
    });
    this.worker.on('error', (err) => fail(new Error(`the ${what} decoder crashed (${err.message.split('\n')[0]})`)));
    this.worker.on('exit', (code) => fail(new Error(`the ${what} decoder exited (code ${code})`)));
    // An idle decoder keeps no process alive; one with a request in flight does (request()).
    this.worker.unref();
  }

  request(req: Record<string, unknown>, transfer: readonly ArrayBuffer[] = []): Promise<Record<string, unknown>> {
    if (this.dead) return Promise.reject(this.dead);
    const p = new Promise<Record<string, unknown>>((resolve, reject) => {
      this.pending = { resolve, reject };
      this.worker.ref();
      this.worker.postMessage(req, transfer);
    });
    this.inFlight = p.catch(() => undefined);
    return p;
  }

  get crashed(): boolean {
    return this.dead !== null;
  }

  /**
   * Closes DuckDB in the worker (native handles are not left to thread teardown), then ends it. A
   * read in flight (the batch read ahead) is let finish first: one batch, well under a second.
   */
  async close(): Promise<void> {
    await this.inFlight;
    if (!this.dead) await this.request({ op: 'close' }).catch(() => undefined);
    await this.worker.terminate();
  }
}

/** The Parquet reader's worker (src/runtime/io/parquetWorker.ts: DuckDB). */
export class ParquetDecoder extends DecoderWorker {
  constructor() {
    super(new URL('./parquetWorker.js', import.meta.url), 'Parquet');
  }
}

/**
 * Heap of the Arrow reader's worker: a damaged length field can make apache-arrow allocate without
 * bound (measured: one of 40 seeded damaged files ran the whole process out of heap before the
 * reader had a worker; 7 of 120 others exhaust a 128 MiB one). Record batches of preference data
 * are far below this.
 */
export const ARROW_WORKER_HEAP_MB = 2048;

/** The Arrow reader worker's heap in MiB: PREFRANK_ARROW_HEAP_MB, else ARROW_WORKER_HEAP_MB. */
export function arrowWorkerHeapMb(env: NodeJS.ProcessEnv = process.env): number {
  const v = Number(env.PREFRANK_ARROW_HEAP_MB);
  return Number.isInteger(v) && v >= 64 ? v : ARROW_WORKER_HEAP_MB;
}

/** Reads a Parquet part batch by batch (only the part's row groups, or rows, are read), in a worker. */
export function readParquet(part: PartRef, options: ReadOptions): AsyncGenerator<ReadItem[]> {
  return readInWorker(part, () => new ParquetDecoder(), { op: 'open', file: part.file, rowGroups: part.rowGroups, rowRange: part.rowRange ?? null, batchRows: options.batchRows, pageStream: options.pageStream ?? null }, 'Parquet', 'Parquet file');
}

/**
 * The rows of a part from a decoder worker, batch by batch: `open`, then `next` until done. The
 * worker starts with the first read and ends with the last. A file that does not open, or breaks
 * while read, is an InputFileError naming it (and the row).
 */
async function* readInWorker(part: PartRef, start: () => DecoderWorker, open: Record<string, unknown>, kind: string, what: string): AsyncGenerator<ReadItem[]> {
  const shown = part.source;
  const decoder = start();
  try {
    try {
      await decoder.request(open);
    } catch (err) {
      throw new InputFileError(shown, `not a readable ${what}: ${(err as Error).message}`, { cause: err });
    }
    let row = part.firstRow;
    // A request's rejection is marked handled by `request` itself (close awaits it), so a batch
    // asked for ahead and dropped when the consumer stops early is no unhandled rejection.
    // The text buffers of a batch whose strings are made go back with the next request.
    let spare: ArrayBuffer[] = [];
    const ask = () => decoder.request({ op: 'next', spare }, spare);
    let ahead = ask();
    for (;;) {
      let next: Record<string, unknown>;
      try {
        next = await ahead;
      } catch (err) {
        throw new InputFileError(shown, `${kind} read failed at row ${row}: ${(err as Error).message}`, { cause: err });
      }
      if (next.done) break;
      // One batch ahead: the worker reads the next batch while this one goes down the pipeline.
      // Asked only on demand, the reader and the main thread took turns (profile of a 1M-row
      // Parquet convert: each thread idle half the run).
      ahead = ask();
      const batch = next as unknown as ColumnBatch;
      const rows = rowObjects(batch);
      spare = transferList(batch);
      yield rows.map((r, i): RawRow => ({ kind: 'raw', sourceFile: shown, sourceRow: row + i, row: r }));
      row += rows.length;
    }
  } finally {
    await decoder.close();
  }
}

/** Row objects from a decoder's batch of columns (columnBuffer.ts): keys in column order. */
function rowObjects({ names, columns: sent, n }: ColumnBatch): Record<string, unknown>[] {
  const columns = sent.map((c) => columnValues(c, n));
  const rows: Record<string, unknown>[] = new Array(n);
  for (let i = 0; i < n; i++) {
    const row: Record<string, unknown> = {};
    for (let c = 0; c < names.length; c++) row[names[c]] = columns[c][i];
    rows[i] = row;
  }
  return rows;
}

interface TooLong {
  readonly tooLong: number;
}

/** Splits a byte stream into lines without decoding, so invalid UTF-8 can be caught per line. */
async function* byteLines(chunks: AsyncIterable<Buffer>, maxBytes: number): AsyncGenerator<Buffer | TooLong> {
  let parts: Buffer[] = [];
  let size = 0;
  let overflow = 0;
  for await (const chunk of chunks) {
    let start = 0;
    for (;;) {
      const nl = chunk.indexOf(0x0a, start);
      const end = nl === -1 ? chunk.length : nl;
      const piece = chunk.subarray(start, end);
      if (overflow > 0 || size + piece.length > maxBytes) {
        // Past the limit: count the bytes but stop holding them.
        overflow += size + piece.length;
        parts = [];
        size = 0;
      } else if (piece.length > 0) {
        // A piece that ends the line is used in place; one that continues into the next chunk is
        // copied, since the view would outlive this iteration.
        parts.push(nl === -1 ? Buffer.from(piece) : piece);
        size += piece.length;
      }
      if (nl === -1) break;
      // A line wholly inside this chunk is handed out as a view, not copied (the common case).
      if (overflow > 0) yield { tooLong: overflow };
      else if (parts.length === 1 && parts[0] === piece) yield piece;
      else yield Buffer.concat(parts, size);
      parts = [];
      size = 0;
      overflow = 0;
      start = nl + 1;
    }
  }
  if (overflow > 0) yield { tooLong: overflow };
  else if (size > 0) yield Buffer.concat(parts, size);
}

/** Reads a JSON-lines part (optionally gzipped) batch by batch. */
export async function* readJsonl(part: PartRef, options: ReadOptions): AsyncGenerator<ReadItem[]> {
  const shown = part.source;
  const gz = /\.gz$/i.test(part.file) || (await isGzip(part.file));
  // A part of a split file reads its byte range, which starts at a line start (planParts).
  const range = part.byteRange ? { start: part.byteRange[0], end: part.byteRange[1] - 1 } : {};
  const raw = createReadStream(part.file, { highWaterMark: 1 << 20, ...range });
  const bytes = gz ? raw.pipe(createGunzip()) : raw;
  raw.on('error', (err) => bytes.destroy(err));
  const decoder = new TextDecoder('utf-8', { fatal: true });
  let batch: ReadItem[] = [];
  let line = part.firstRow - 1;
  try {
    for await (const l of byteLines(bytes as AsyncIterable<Buffer>, options.maxRowBytes)) {
      line++;
      if (!Buffer.isBuffer(l)) {
        batch.push(toReject({ sourceFile: shown, sourceRow: line }, 'row too large', `(${l.tooLong} bytes; limit ${options.maxRowBytes})`));
      } else {
        let text: string;
        try {
          text = decoder.decode(l);
        } catch {
          batch.push(toReject({ sourceFile: shown, sourceRow: line }, 'invalid UTF-8', l.subarray(0, RAW_PREVIEW).toString('latin1')));
          continue;
        }
        if (text.trim() === '') continue; // a blank line is not a row
        let row: unknown;
        try {
          row = JSON.parse(text);
        } catch (err) {
          batch.push(toReject({ sourceFile: shown, sourceRow: line }, 'invalid JSON', text));
          continue;
        }
        if (row === null || typeof row !== 'object' || Array.isArray(row)) {
          batch.push(toReject({ sourceFile: shown, sourceRow: line }, 'not a JSON object', text));
          continue;
        }
        batch.push({ kind: 'raw', sourceFile: shown, sourceRow: line, row: row as Record<string, unknown> });
      }
      if (batch.length >= options.batchRows) {
        yield batch;
        batch = [];
      }
    }
  } catch (err) {
    if (err instanceof InputFileError) throw err;
    // A damaged or cut gzip stream: the lines before the damage are good rows and are kept; the
    // damage itself becomes one reject (its row is the first line that could not be read), so the
    // counts match the folders and the run's end names the file (src/cli/checkYield.ts).
    if (gz && /^Z_/.test((err as NodeJS.ErrnoException).code ?? '')) {
      batch.push(toReject({ sourceFile: shown, sourceRow: line + 1 }, `${DAMAGED_INPUT}: the gzip stream breaks after line ${line + 1}`, oneLine(err)));
      yield batch;
      return;
    }
    throw new InputFileError(shown, `read failed after line ${line + 1}: ${(err as Error).message ?? err}`, { cause: err });
  } finally {
    raw.destroy();
  }
  if (batch.length > 0) yield batch;
}

/** True when the file starts with gzip's magic bytes (whatever its name). */
export async function isGzip(file: string): Promise<boolean> {
  const { open } = await import('node:fs/promises');
  const fh = await open(file, 'r');
  try {
    const buf = Buffer.alloc(2);
    const { bytesRead } = await fh.read(buf, 0, 2, 0);
    return bytesRead === 2 && buf[0] === 0x1f && buf[1] === 0x8b;
  } finally {
    await fh.close();
  }
}

/**
 * Reads an Arrow IPC part (stream or file format: Hugging Face datasets' cache files, prefrank's
 * own --output-format arrow shards) record batch by record batch, in a worker
 * (src/runtime/io/arrowWorker.ts) with a bounded heap, so a damaged file fails alone.
 */
export function readArrow(part: PartRef, options: ReadOptions): AsyncGenerator<ReadItem[]> {
  const decoder = () => new DecoderWorker(new URL('./arrowWorker.js', import.meta.url), 'Arrow', { maxOldGenerationSizeMb: arrowWorkerHeapMb() });
  return readInWorker(part, decoder, { op: 'open', file: part.file, batchRows: options.batchRows }, 'Arrow', 'Arrow IPC file');
}

/** The reader for a part's format. */
export function readPartRows(part: PartRef, options: ReadOptions): AsyncGenerator<ReadItem[]> {
  return part.format === 'parquet' ? readParquet(part, options) : part.format === 'arrow' ? readArrow(part, options) : readJsonl(part, options);
}
