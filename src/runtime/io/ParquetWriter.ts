/**
 * A streaming Parquet file writer over parquet-wasm: Arrow tables go in one at a time, row groups go
 * out to disk as they fill, so a shard of any size needs only about one row group of memory.
 * The file is written under `${path}.tmp` and renamed into place by `close()`, so a reader never
 * sees a partial shard; `abort()` removes the temporary file.
 */
import { tmpName } from '../../../schemas/layout.js';
import { createWriteStream } from 'node:fs';
import { rename, rm, writeFile } from 'node:fs/promises';
import { Writable } from 'node:stream';
import { Table, tableToIPC, type Schema } from 'apache-arrow';
import * as pw from 'parquet-wasm/node';

export interface ParquetWriterOptions {
  readonly compression: 'zstd' | 'snappy' | 'none';
  /** Rows per row group: large enough for DuckDB's scans to be efficient, small enough for memory. */
  readonly rowGroupRows: number;
  /** key/value metadata stored in the file footer. */
  readonly metadata?: Readonly<Record<string, string>>;
}

const codecs = { zstd: pw.Compression.ZSTD, snappy: pw.Compression.SNAPPY, none: pw.Compression.UNCOMPRESSED } as const;

function writerProperties(options: ParquetWriterOptions): pw.WriterProperties {
  let props = new pw.WriterPropertiesBuilder()
    .setCompression(codecs[options.compression])
    .setMaxRowGroupSize(options.rowGroupRows)
    // A constant creator string keeps files byte-identical across library patch versions.
    .setCreatedBy('prefrank');
  if (options.metadata) props = props.setKeyValueMetadata(new Map(Object.entries(options.metadata)));
  return props.build();
}

export class ParquetWriter {
  private readonly queue: pw.RecordBatch[] = [];
  private wake: (() => void) | null = null;
  private ended = false;
  private failed: unknown = null;
  private done: Promise<void> | null = null;
  rows = 0;

  constructor(
    readonly path: string,
    readonly schema: Schema,
    private readonly options: ParquetWriterOptions,
  ) {}

  private get tmp(): string {
    return tmpName(this.path);
  }

  /** Starts the encoder on the first rows; parquet-wasm pulls batches when it is ready for them. */
  private start(): void {
    const source = new ReadableStream<pw.RecordBatch>({
      pull: async (controller) => {
        while (this.queue.length === 0 && !this.ended) await new Promise<void>((r) => (this.wake = r));
        const next = this.queue.shift();
        if (next) controller.enqueue(next);
        else controller.close();
      },
    });
    this.done = (async () => {
      const bytes = await pw.transformParquetStream(source, writerProperties(this.options));
      await bytes.pipeTo(Writable.toWeb(createWriteStream(this.tmp)) as WritableStream<Uint8Array>);
    })();
    // Surface a write error (disk full, permission) at the next write or close.
    this.done.catch((err) => (this.failed = err));
  }

  /** Appends a table's rows. Resolves once the writer has room for more (backpressure). */
  async write(table: Table): Promise<void> {
    if (this.failed) throw this.failed;
    if (this.ended) throw new Error(`ParquetWriter: write after close (${this.path})`);
    if (table.numRows === 0) return;
    if (!this.done) this.start();
    this.rows += table.numRows;
    this.queue.push(...pw.Table.fromIPCStream(tableToIPC(table, 'stream')).recordBatches());
    this.wake?.();
    this.wake = null;
    // Keep at most a few batches queued: the producer waits while the encoder catches up.
    while (this.queue.length > 2 && !this.failed) await new Promise((r) => setImmediate(r));
    if (this.failed) throw this.failed;
  }

  /** Finishes the file and renames it into place. A writer that got no rows writes a schema-only file. */
  async close(): Promise<void> {
    this.ended = true;
    this.wake?.();
    if (this.done) await this.done;
    else await writeFile(this.tmp, pw.writeParquet(pw.Table.fromIPCStream(tableToIPC(new Table(this.schema), 'stream')), writerProperties(this.options)));
    await rename(this.tmp, this.path);
  }

  /** Stops writing and removes the temporary file (on error or unsubscribe). */
  async abort(): Promise<void> {
    this.ended = true;
    for (const b of this.queue.splice(0)) b.free();
    this.wake?.();
    await this.done?.catch(() => undefined);
    await rm(this.tmp, { force: true });
  }
}
