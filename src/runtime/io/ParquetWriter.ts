/**
 * A streaming Parquet file writer: Arrow tables go in one at a time, row groups go out to disk as
 * they fill, so a shard of any size needs only about one row group of memory. The file is written
 * under `${path}.tmp` and renamed into place by `close()`, so a reader never sees a partial shard;
 * `abort()` removes the temporary file.
 *
 * The encoding runs in a worker thread (parquetEncoderWorker.ts: DuckDB's Parquet writer), so the
 * pipeline adapts and builds the next batch while the last ones are encoded and compressed. A
 * worker encodes one file at a time; the process keeps the ones it started and hands an idle one to
 * the next file. Tables cross as Arrow IPC bytes (transferred, not copied); at most MAX_IN_FLIGHT
 * of a writer's tables wait unacknowledged before `write` waits too (backpressure).
 */
import { tmpName } from '../../../schemas/layout.js';
import { rename, rm } from 'node:fs/promises';
import { Worker } from 'node:worker_threads';
import { Table, tableToIPC, type Schema } from 'apache-arrow';
import type { ParquetWriterOptions } from './parquetProperties.js';

export type { ParquetWriterOptions } from './parquetProperties.js';

/** Tables a writer may have queued at the encoder: two keep it busy while the next is built. */
const MAX_IN_FLIGHT = 2;

type Reply =
  | { op: 'taken' }
  | { op: 'closed' | 'aborted' | 'failed' }
  | { op: 'error'; message: string; code?: string; path?: string };

/**
 * One encoder worker. It keeps the process alive only while a writer waits on it (for room, or
 * for its file to end), as the reader workers do: a writer that is never closed cannot hold a
 * finished process open.
 */
class Encoder {
  /** Bumped after every message, so that the worker, waiting inside DuckDB's pull, wakes. */
  private readonly signal = new Int32Array(new SharedArrayBuffer(4));
  private readonly worker = new Worker(new URL('./parquetEncoderWorker.js', import.meta.url), { workerData: { signal: this.signal.buffer } });
  private writer: ParquetWriter | null = null;
  private dead: Error | null = null;
  private waits = 0;

  constructor() {
    this.worker.on('message', (m: Reply) => {
      const w = this.writer;
      if (m.op === 'closed' || m.op === 'aborted' || m.op === 'failed') {
        this.writer = null;
        idle.push(this);
      }
      w?.onReply(m);
    });
    const fail = (err: Error) => {
      if (this.dead) return;
      this.dead = err;
      const at = idle.indexOf(this);
      if (at >= 0) idle.splice(at, 1);
      this.writer?.onCrash(err);
      this.writer = null;
    };
    this.worker.on('error', (err) => fail(new Error(`the Parquet encoder crashed (${err.message.split('\n')[0]})`)));
    this.worker.on('exit', (code) => fail(new Error(`the Parquet encoder exited (code ${code})`)));
    this.worker.unref();
  }

  private send(m: Record<string, unknown>, transfer: ArrayBuffer[] = []): void {
    this.worker.postMessage(m, transfer);
    Atomics.add(this.signal, 0, 1);
    Atomics.notify(this.signal, 0);
  }

  open(w: ParquetWriter, tmp: string, schema: Schema, options: ParquetWriterOptions): void {
    this.writer = w;
    const ipc = tableToIPC(new Table(schema), 'stream');
    this.send({ op: 'open', tmp, schema: ipc, options });
  }

  /** Runs `wait` with the worker keeping the process alive. */
  async held<T>(wait: Promise<T>): Promise<T> {
    if (this.waits++ === 0) this.worker.ref();
    try {
      return await wait;
    } finally {
      if (--this.waits === 0) this.worker.unref();
    }
  }

  batch(ipc: Uint8Array): void {
    this.send({ op: 'batch', ipc }, [ipc.buffer as ArrayBuffer]);
  }

  finish(op: 'close' | 'abort'): void {
    this.send({ op });
  }
}

/** Encoders with no file: the next file takes one before a new worker is started. */
const idle: Encoder[] = [];
function anEncoder(): Encoder {
  return idle.pop() ?? new Encoder();
}

export class ParquetWriter {
  private enc: Encoder | null = null;
  private ended = false;
  private failed: Error | null = null;
  private inFlight = 0;
  private waiting: (() => void) | null = null;
  private crashed = false;
  private finished: (() => void) | null = null;
  /** The encoder's end of this writer's file, once asked for (close and abort share it). */
  private over: Promise<void> | null = null;
  rows = 0;

  constructor(
    readonly path: string,
    readonly schema: Schema,
    private readonly options: ParquetWriterOptions,
  ) {}

  private get tmp(): string {
    return tmpName(this.path);
  }

  /** @internal The encoder's replies for this writer's file. */
  onReply(m: Reply): void {
    if (m.op === 'taken') this.inFlight--;
    else if (m.op === 'error') {
      const { op: _op, message, ...fields } = m;
      // The worker's error with its file-system fields (asUserError reads `code` and `path`).
      this.failed ??= Object.assign(new Error(message), Object.fromEntries(Object.entries(fields).filter(([, v]) => v !== undefined)));
    } else this.finished?.(); // 'closed', 'aborted', or 'failed' (a close of a file that had failed: 'error' said why)
    this.waiting?.();
  }

  /** @internal The encoder died with this writer's file open. */
  onCrash(err: Error): void {
    this.failed ??= err;
    this.crashed = true;
    this.waiting?.();
    this.finished?.();
  }

  /** The file's encoder, started on the first rows (or at close, for a file with none). */
  private encoder(): Encoder {
    if (!this.enc) {
      this.enc = anEncoder();
      this.enc.open(this, this.tmp, this.schema, this.options);
    }
    return this.enc;
  }

  /** Appends a table's rows. Resolves once the writer has room for more (backpressure). */
  async write(table: Table): Promise<void> {
    if (this.failed) throw this.failed;
    if (this.ended) throw new Error(`ParquetWriter: write after close (${this.path})`);
    if (table.numRows === 0) return;
    const enc = this.encoder();
    this.rows += table.numRows;
    this.inFlight++;
    enc.batch(tableToIPC(table, 'stream'));
    while (this.inFlight > MAX_IN_FLIGHT && !this.failed) await enc.held(new Promise<void>((r) => (this.waiting = r)));
    this.waiting = null;
    if (this.failed) throw this.failed;
  }

  /** Asks the encoder to end this writer's file and waits until it has (once, whoever asks). */
  private end(op: 'close' | 'abort'): Promise<void> {
    if ((op === 'abort' && !this.enc) || this.crashed) return Promise.resolve();
    if (!this.over) {
      const enc = this.encoder();
      this.over = enc.held(new Promise<void>((r) => (this.finished = r)));
      enc.finish(op);
    }
    return this.over;
  }

  /** Finishes the file and renames it into place. A writer that got no rows writes a schema-only file. */
  async close(): Promise<void> {
    if (this.failed) throw this.failed;
    this.ended = true;
    await this.end('close');
    if (this.failed) throw this.failed;
    await rename(this.tmp, this.path);
  }

  /** Stops writing and removes the temporary file (on error or unsubscribe). */
  async abort(): Promise<void> {
    this.ended = true;
    await this.end('abort');
    await rm(this.tmp, { force: true });
  }
}
