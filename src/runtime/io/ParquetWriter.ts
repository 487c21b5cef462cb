/**
 * A streaming Parquet file writer over parquet-wasm: Arrow tables go in one at a time, row groups go
 * out to disk as they fill, so a shard of any size needs only about one row group of memory.
 * The file is written under `${path}.tmp` and renamed into place by `close()`, so a reader never
 * sees a partial shard; `abort()` removes the temporary file.
 *
 * The encoding runs in one worker thread per process (parquetEncoderWorker.ts), so the pipeline
 * adapts and builds the next batch while the last one is encoded and compressed. Tables cross as
 * Arrow IPC bytes (transferred, not copied); at most MAX_IN_FLIGHT of a writer's tables wait for
 * the encoder before `write` waits too (backpressure).
 */
import { tmpName } from '../../../schemas/layout.js';
import { rename, rm, writeFile } from 'node:fs/promises';
import { Worker } from 'node:worker_threads';
import { Table, tableToIPC, type Schema } from 'apache-arrow';
import * as pw from 'parquet-wasm/node';
import { writerProperties, type ParquetWriterOptions } from './parquetProperties.js';

export type { ParquetWriterOptions } from './parquetProperties.js';

/** Tables a writer may have queued at the encoder: two keep it busy while the next is built. */
const MAX_IN_FLIGHT = 2;

type Reply =
  | { id: number; op: 'taken' | 'closed' | 'aborted' | 'failed' | 'spent' }
  | { id: number; op: 'error'; message: string; code?: string; path?: string; syscall?: string; errno?: number };

/**
 * The process's encoder worker, started on the first file. It keeps the process alive only while a
 * writer waits on it (for room, or for its file to end), as the reader workers do: a writer that
 * is never closed cannot hold a finished process open.
 */
class Encoder {
  private readonly worker = new Worker(new URL('./parquetEncoderWorker.js', import.meta.url));
  private readonly files = new Map<number, ParquetWriter>();
  private nextId = 0;
  private dead: Error | null = null;
  private waits = 0;

  constructor(private readonly onDead: () => void) {
    // 'spent' returns a batch's bytes to be garbage here (see the worker); nothing else to do.
    this.worker.on('message', (m: Reply) => m.op !== 'spent' && this.files.get(m.id)?.onReply(m));
    const fail = (err: Error) => {
      this.dead ??= err;
      this.onDead();
      for (const w of this.files.values()) w.onCrash(this.dead);
      this.files.clear();
    };
    this.worker.on('error', (err) => fail(new Error(`the Parquet encoder crashed (${err.message.split('\n')[0]})`)));
    this.worker.on('exit', (code) => fail(new Error(`the Parquet encoder exited (code ${code})`)));
    this.worker.unref();
  }

  open(w: ParquetWriter, tmp: string, options: ParquetWriterOptions): number {
    if (this.dead) throw this.dead;
    const id = this.nextId++;
    this.files.set(id, w);
    this.worker.postMessage({ op: 'open', id, tmp, options });
    return id;
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

  send(id: number, ipc: Uint8Array): void {
    this.worker.postMessage({ op: 'batch', id, ipc }, [ipc.buffer as ArrayBuffer]);
  }

  finish(id: number, op: 'close' | 'abort'): void {
    this.worker.postMessage({ op, id });
  }

  /** The writer's file is over (closed, aborted or failed). */
  release(id: number): void {
    this.files.delete(id);
  }
}

let encoder: Encoder | null = null;
function theEncoder(): Encoder {
  // A crashed encoder is replaced for the files opened after it; the files it held fail.
  encoder ??= new Encoder(() => (encoder = null));
  return encoder;
}

export class ParquetWriter {
  private id: number | null = null;
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
      const { id: _id, op: _op, message, ...fields } = m;
      // The worker's error with its file-system fields, so callers see what they saw before.
      this.failed ??= Object.assign(new Error(message), Object.fromEntries(Object.entries(fields).filter(([, v]) => v !== undefined)));
    } else {
      // 'closed', 'aborted', or 'failed' (a close of a file that had failed: 'error' said why).
      this.enc?.release(m.id);
      this.finished?.();
    }
    this.waiting?.();
  }

  /** @internal The encoder died with this writer's file open. */
  onCrash(err: Error): void {
    this.failed ??= err;
    this.crashed = true;
    this.waiting?.();
    this.finished?.();
  }

  /** Appends a table's rows. Resolves once the writer has room for more (backpressure). */
  async write(table: Table): Promise<void> {
    if (this.failed) throw this.failed;
    if (this.ended) throw new Error(`ParquetWriter: write after close (${this.path})`);
    if (table.numRows === 0) return;
    if (this.id === null) {
      this.enc = theEncoder();
      this.id = this.enc.open(this, this.tmp, this.options);
    }
    this.rows += table.numRows;
    this.inFlight++;
    this.enc!.send(this.id, tableToIPC(table, 'stream'));
    while (this.inFlight > MAX_IN_FLIGHT && !this.failed) await this.enc!.held(new Promise<void>((r) => (this.waiting = r)));
    this.waiting = null;
    if (this.failed) throw this.failed;
  }

  /** Asks the encoder to end this writer's file and waits until it has (once, whoever asks). */
  private end(op: 'close' | 'abort'): Promise<void> {
    if (this.id === null || this.crashed) return Promise.resolve();
    if (!this.over) {
      this.over = this.enc!.held(new Promise<void>((r) => (this.finished = r)));
      this.enc!.finish(this.id, op);
    }
    return this.over;
  }

  /** Finishes the file and renames it into place. A writer that got no rows writes a schema-only file. */
  async close(): Promise<void> {
    if (this.failed) throw this.failed;
    this.ended = true;
    if (this.id === null) await writeFile(this.tmp, pw.writeParquet(pw.Table.fromIPCStream(tableToIPC(new Table(this.schema), 'stream')), writerProperties(this.options)));
    else await this.end('close');
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
