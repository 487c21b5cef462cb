/**
 * A streaming Arrow IPC stream file writer (the format Hugging Face datasets caches in and reads
 * with `Dataset.from_file`; pyarrow's `ipc.open_stream` and apache-arrow read it too). Each table's
 * record batches go out as they come, so a shard of any size needs about one batch of memory. The
 * schema, with the footer-style key/value metadata in its own metadata, is written first. Like
 * ParquetWriter, the file is written under `${path}.tmp` and renamed into place by `close()`, and
 * `abort()` removes it. The same batches give the same bytes.
 */
import { tmpName } from '../../../schemas/layout.js';
import { createWriteStream, type WriteStream } from 'node:fs';
import { rename, rm } from 'node:fs/promises';
import { once } from 'node:events';
import { setTimeout as sleep } from 'node:timers/promises';
import { RecordBatch, RecordBatchStreamWriter, Schema, type Table } from 'apache-arrow';

/** Bytes written but not yet on disk before write() waits for the disk (backpressure). */
const HIGH_WATER_BYTES = 8 * 2 ** 20;

/**
 * The file stream's own mark. apache-arrow hands the pipe each buffer of a batch as a chunk of its
 * own, and at Node's default of 16 KiB the pipe paused and resumed for every few of them: 1M rows to
 * one Arrow shard, 9,602 waits for a drain (7.5 s) and 15.7 s in all; at 1 MiB, 822-834 waits and
 * 13.1-15.2 s (median 13.6 of 3); at 4 MiB, 14.5-15.9 s (2026-12-07).
 */
const FILE_STREAM_BYTES = 2 ** 20;

/**
 * apache-arrow's stream writer, with the count of bytes it has produced. Its bytes wait in a queue
 * of its own until the node stream piped to the file reads them, and the pipe reads only as fast as
 * the file takes them, so the file stream's `writableLength` never shows the backlog: the queue
 * grew without bound (measured 2026-12-07: a 1M-row Parquet convert to one Arrow shard peaked at
 * 1,446 MiB RSS and took 32 s, against 702 MiB and 16 s to Parquet). Produced minus
 * `bytesWritten` is all of it.
 */
class CountingStreamWriter extends RecordBatchStreamWriter {
  get produced(): number {
    return this._position;
  }
}

export class ArrowWriter {
  private writer: CountingStreamWriter | null = null;
  private out: WriteStream | null = null;
  private finished: Promise<void> | null = null;
  private failed: unknown = null;
  private ended = false;
  rows = 0;
  readonly schema: Schema;

  constructor(
    readonly path: string,
    schema: Schema,
    metadata?: Readonly<Record<string, string>>,
  ) {
    const meta = new Map(schema.metadata);
    for (const [k, v] of Object.entries(metadata ?? {})) meta.set(k, v);
    this.schema = new Schema(schema.fields, meta);
  }

  private get tmp(): string {
    return tmpName(this.path);
  }

  private start(): CountingStreamWriter {
    const out = createWriteStream(this.tmp, { highWaterMark: FILE_STREAM_BYTES });
    const writer = new CountingStreamWriter();
    // Settles when the file is whole ('finish'), or gone after abort() ('close'), or broken.
    this.finished = new Promise<void>((resolve, reject) => {
      out.on('finish', resolve);
      out.on('close', resolve);
      out.on('error', reject);
    });
    this.finished.catch((err) => (this.failed = err));
    const bytes = writer.toNodeStream();
    bytes.on('error', (err) => out.destroy(err));
    bytes.pipe(out);
    writer.reset(undefined, this.schema);
    this.writer = writer;
    this.out = out;
    return writer;
  }

  /** Appends a table's rows (its columns must match the schema). Resolves once the file has room. */
  async write(table: Table): Promise<void> {
    if (this.failed) throw this.failed;
    if (this.ended) throw new Error(`ArrowWriter: write after close (${this.path})`);
    if (table.numRows === 0) return;
    const writer = this.writer ?? this.start();
    this.rows += table.numRows;
    // Each batch under the file's own schema: a batch whose schema differs (its metadata, say) would
    // make the stream writer start a second stream in the same file.
    for (const batch of table.batches) writer.write(new RecordBatch(this.schema, batch.data));
    const out = this.out!;
    // While bytes wait, the pipe fills the file stream past its own mark, so it drains (or fails,
    // or closes) until they are written; the timer only bounds the wait should an event not come.
    // The listener and timer of a wait are removed after it (their aborts settle a race already won).
    while (writer.produced - out.bytesWritten > HIGH_WATER_BYTES && !this.failed) {
      const done = new AbortController();
      try {
        await Promise.race([once(out, 'drain', { signal: done.signal }), this.finished, sleep(100, undefined, { signal: done.signal })]);
      } finally {
        done.abort();
      }
    }
    if (this.failed) throw this.failed;
  }

  /** Finishes the stream and renames the file into place. A writer that got no rows writes the schema alone. */
  async close(): Promise<void> {
    this.ended = true;
    const writer = this.writer ?? this.start();
    writer.finish();
    await this.finished;
    await rename(this.tmp, this.path);
  }

  /**
   * Stops writing and removes the temporary file. The file stream is destroyed rather than the
   * Arrow writer aborted: apache-arrow's abort() rejects a promise nobody holds, which ends the
   * process as an unhandled rejection (measured: every abort after a write did).
   */
  async abort(): Promise<void> {
    this.ended = true;
    if (this.out) {
      this.out.destroy();
      await this.finished?.catch(() => undefined);
    }
    await rm(this.tmp, { force: true });
  }
}
