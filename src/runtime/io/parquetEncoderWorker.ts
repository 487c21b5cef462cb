/**
 * The Parquet encoder, in a worker thread: DuckDB's Parquet writer (C++: encoding, dictionaries,
 * ZSTD) runs `COPY (SELECT * FROM prefrank_rows()) TO tmp`, and `prefrank_rows` is a table function
 * that hands it the rows the writer sends, as Arrow IPC batches, 2,048 at a time.
 *
 * Why DuckDB and not parquet-wasm (used until 2026-12-07): on the 1M rows of a Parquet convert,
 * parquet-wasm's encoder was the busiest thread, 15.9 s of 36 s of CPU (profile, 2 cores), and
 * DuckDB writes the same table in 2.8-3.5 s on one thread (from a table; through this worker, 300k
 * rows of it took 3.0 s of CPU against 5.3 with parquet-wasm); its dictionaries also keep repeated
 * texts small (31.6 MB against 327 MB for that output).
 *
 * A worker serves one file at a time (ParquetWriter.ts keeps a pool): DuckDB calls the table
 * function synchronously, so when the rows for the next chunk have not arrived it waits right
 * there, reading this thread's messages with `receiveMessageOnPort` and sleeping on a shared
 * counter that the writer bumps after each message (Atomics.wait). Chunks are always whole (2,048
 * rows or CHUNK_BYTES, or up to a row group's or the file's end), whatever sizes the batches came in, so the
 * bytes depend on the rows and the options alone, never on timing (a row group ends at
 * rowGroupRows rows or, checked after each chunk, at ROW_GROUP_BYTES of data).
 *
 * Requests: { op: 'open', tmp, schema, options }: starts the file `tmp` (`schema`: the IPC bytes of
 *             an empty table with the file's schema);
 *           { op: 'batch', ipc }: an Arrow IPC stream of the next rows (its buffer transferred);
 *           { op: 'close' } -> { op: 'closed' } once the file is complete on disk ('failed' if it
 *             had failed: 'error' said why);
 *           { op: 'abort' } -> { op: 'aborted' } once the encoder has stopped.
 * Replies, besides: { op: 'taken' } when a batch is queued close enough to DuckDB (the writer's
 * backpressure); { op: 'error', message, code, path } when the file failed (an OS error gets its
 * errno name: the CLI names disk-full and such).
 */
import { receiveMessageOnPort, parentPort, workerData, type MessagePort } from 'node:worker_threads';
import duckdb from '@duckdb/node-bindings';
import { DuckDBInstance, DuckDBTableFunction, type DuckDBConnection } from '@duckdb/node-api';
import { tableFromIPC, type Data, type RecordBatch, type Schema } from 'apache-arrow';
import { addRowBytes, duckDbType, fillVector, type Segment } from './arrowToDuckDb.js';
import { instanceConfig } from './DuckDb.js';
import { copyOptions, ENCODER_SETTINGS, type ParquetWriterOptions } from './parquetProperties.js';

type Request =
  | { op: 'open'; tmp: string; schema: Uint8Array; options: ParquetWriterOptions }
  | { op: 'batch'; ipc: Uint8Array }
  | { op: 'close' }
  | { op: 'abort' };

/** DuckDB's vector size: the rows of one chunk. */
const CHUNK_ROWS = duckdb.vector_size();
/** A chunk also ends once it holds this much data (long rows: features of a large model). */
const CHUNK_BYTES = 8 * 2 ** 20;
/**
 * Rows and bytes queued ahead of DuckDB before a batch is acknowledged: more than a chunk needs,
 * so the writer never waits on a chunk that is waiting on it, and memory stays a few chunks.
 */
const QUEUE_ROWS = 4 * CHUNK_ROWS;
const QUEUE_BYTES = 4 * CHUNK_BYTES;

interface Queued {
  /** One Data per column, the batch's rows. */
  readonly columns: readonly Data[];
  readonly rows: number;
  /** The next row of the batch not yet handed to DuckDB. */
  next: number;
  /** Bytes of rows [0, i) at [i] (addRowBytes), so any run's size is one subtraction. */
  readonly bytesBefore: Float64Array;
  /** Whether the writer has been told it was taken (the last piece of a table carries it). */
  unacknowledged: boolean;
}

interface FileState {
  readonly schema: Schema;
  readonly rowGroupRows: number;
  readonly queue: Queued[];
  /**
   * Rows left to the next multiple of rowGroupRows: a chunk never spans one, so DuckDB ends a row
   * group there exactly. (After a row group that ROW_GROUP_BYTES ended, the count runs on from the
   * file's start, and the next row-count end may come up to a chunk later; still the same for the same rows.)
   */
  groupLeft: number;
  /** The COPY has finished (true) or failed (false); null while it runs. */
  ok: boolean | null;
  /** What the writer asked to end the file with, once it has (no rows come after it). */
  finish: 'close' | 'abort' | null;
}

const port = parentPort as MessagePort;
const signal = new Int32Array(workerData.signal as SharedArrayBuffer);
let file: FileState | null = null;
let db: { instance: DuckDBInstance; connection: DuckDBConnection } | null = null;

const post = (m: Record<string, unknown>) => port.postMessage(m);

/** An OS error in DuckDB's message, by the errno name Node would give it. */
const OS_ERRORS: readonly [RegExp, string][] = [
  [/No space left on device/i, 'ENOSPC'],
  [/Disk quota exceeded/i, 'EDQUOT'],
  [/File too large/i, 'EFBIG'],
  [/Permission denied/i, 'EACCES'],
  [/Operation not permitted/i, 'EPERM'],
  [/Read-only file system/i, 'EROFS'],
  [/Not a directory/i, 'ENOTDIR'],
  [/No such file or directory/i, 'ENOENT'],
  [/Input\/output error/i, 'EIO'],
];

function failure(err: unknown, tmp: string): Record<string, unknown> {
  const text = (err instanceof Error ? err.message : String(err)).split('\n')[0];
  const code = OS_ERRORS.find(([re]) => re.test(text))?.[1];
  return code ? { message: `${code}: ${text}`, code, path: tmp } : { message: text };
}

/** Acknowledges every batch with fewer than QUEUE_ROWS rows and QUEUE_BYTES bytes waiting ahead of it. */
function acknowledge(): void {
  let rows = 0;
  let bytes = 0;
  for (const q of file?.queue ?? []) {
    if (rows >= QUEUE_ROWS || bytes >= QUEUE_BYTES) break;
    if (q.unacknowledged) {
      post({ op: 'taken' });
      q.unacknowledged = false;
    }
    rows += q.rows - q.next;
    bytes += q.bytesBefore[q.rows] - q.bytesBefore[q.next];
  }
}

function handle(req: Request): void {
  if (req.op === 'open') return void open(req.tmp, req.schema, req.options);
  const f = file;
  if (!f) return;
  if (req.op === 'batch') {
    const before = f.queue.length;
    if (f.finish === null && f.ok === null) for (const b of tableFromIPC(req.ipc).batches) if (b.numRows) f.queue.push(queued(f.schema, b));
    // One acknowledgement per message, with the table's last piece.
    if (f.queue.length > before) f.queue[f.queue.length - 1].unacknowledged = true;
    else post({ op: 'taken' });
    return acknowledge();
  }
  f.finish = req.op;
  if (req.op === 'abort') {
    for (const q of f.queue.splice(0)) if (q.unacknowledged) post({ op: 'taken' });
  }
  settle();
}

/** Replies to the writer's close or abort once the COPY is over too, and frees the worker. */
function settle(): void {
  const f = file;
  if (!f || f.finish === null || f.ok === null) return;
  file = null;
  post({ op: f.finish === 'abort' ? 'aborted' : f.ok ? 'closed' : 'failed' });
}

/** Blocks until a message arrives, and handles it (only ever called from inside DuckDB's pull). */
function waitForMessage(): void {
  const seen = Atomics.load(signal, 0);
  const m = receiveMessageOnPort(port);
  if (m) return handle(m.message as Request);
  Atomics.wait(signal, 0, seen);
}

function queued(schema: Schema, batch: RecordBatch): Queued {
  const columns = batch.data.children;
  const perRow = new Float64Array(batch.numRows);
  schema.fields.forEach((field, c) => addRowBytes(columns[c], field.type, perRow));
  const bytesBefore = new Float64Array(batch.numRows + 1);
  for (let i = 0; i < batch.numRows; i++) bytesBefore[i + 1] = bytesBefore[i] + perRow[i];
  return { columns, rows: batch.numRows, next: 0, bytesBefore, unacknowledged: false };
}

/**
 * The rows of the next chunk: up to `want`, ending early at the row that brings it to CHUNK_BYTES,
 * or null when the queue holds too little to tell yet.
 */
function chunkRows(f: FileState, want: number): number | null {
  let rows = 0;
  let bytes = 0;
  for (const q of f.queue)
    for (let i = q.next; i < q.rows; i++) {
      rows++;
      bytes += q.bytesBefore[i + 1] - q.bytesBefore[i];
      if (rows === want || bytes >= CHUNK_BYTES) return rows;
    }
  return f.finish !== null ? rows : null;
}

/** DuckDB's pull: the next whole chunk, or 0 rows at the end. */
function nextChunk(setError: (message: string) => void, chunk: duckdb.DataChunk): void {
  const f = file!;
  const want = Math.min(CHUNK_ROWS, f.groupLeft);
  let rows = chunkRows(f, want);
  while (rows === null) {
    waitForMessage();
    rows = chunkRows(f, want);
  }
  if (f.finish === 'abort') return setError('aborted');
  duckdb.data_chunk_set_size(chunk, rows);
  if (rows === 0) return;
  // The chunk's rows as runs of the queued batches, column by column.
  const runs: { q: Queued; from: number; count: number }[] = [];
  for (let left = rows; left > 0; ) {
    const q = f.queue[0];
    const count = Math.min(left, q.rows - q.next);
    runs.push({ q, from: q.next, count });
    q.next += count;
    left -= count;
    if (q.next === q.rows) f.queue.shift();
  }
  f.schema.fields.forEach((field, c) => {
    const segments: Segment[] = runs.map(({ q, from, count }) => ({ data: q.columns[c], from, count }));
    fillVector(duckdb.data_chunk_get_vector(chunk, c), field.type, segments, rows);
  });
  f.groupLeft -= rows;
  if (f.groupLeft === 0) f.groupLeft = f.rowGroupRows;
  acknowledge();
}

async function connection(): Promise<DuckDBConnection> {
  if (!db) {
    // One thread: the file's bytes must not depend on scheduling, and the pipeline needs the cores.
    // Nothing but the built-in Parquet writer: no extension is loaded, even one installed here.
    const instance = await DuckDBInstance.create(':memory:', instanceConfig({ threads: 1, autoloadExtensions: false }));
    const connection = await instance.connect();
    await connection.run(ENCODER_SETTINGS);
    connection.registerTableFunction(
      DuckDBTableFunction.create({
        name: 'prefrank_rows',
        bindFunction: (bind) => {
          for (const field of file!.schema.fields) bind.addResultColumn(field.name, duckDbType(field));
        },
        initFunction: () => {},
        mainFunction: (info, output) => {
          try {
            nextChunk((m) => info.setError(m), output.chunk);
          } catch (err) {
            info.setError(err instanceof Error ? err.message : String(err));
          }
        },
      }),
    );
    db = { instance, connection };
  }
  return db.connection;
}

async function open(tmp: string, schemaIpc: Uint8Array, options: ParquetWriterOptions): Promise<void> {
  const schema = tableFromIPC(schemaIpc).schema;
  const f: FileState = { schema, rowGroupRows: options.rowGroupRows, queue: [], groupLeft: options.rowGroupRows, ok: null, finish: null };
  file = f;
  try {
    for (const field of schema.fields) duckDbType(field); // a column DuckDB cannot take fails here, by name
    const c = await connection();
    await c.run(`COPY (SELECT * FROM prefrank_rows()) TO ${copyOptions(tmp, options)}`);
    f.ok = true;
  } catch (err) {
    f.ok = false;
    // A failure (disk full, permission) is reported at once: the writer sees it at its next call.
    if (f.finish !== 'abort') post({ op: 'error', ...failure(err, tmp) });
  }
  settle();
}

port.on('message', handle);
