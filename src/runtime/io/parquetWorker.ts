/**
 * The Parquet reader, in a worker thread: DuckDB (@duckdb/node-api) streams the file by vectors of
 * 2,048 rows and turns a malformed file into an ordinary error; the rows are converted to plain JS
 * values here, off the main thread, and posted a batch at a time. The protocol is pull-based (one
 * batch per request), so backpressure and bounded memory hold across the thread boundary, and a
 * decoder that dies ends this worker only (readers.ts turns that into one InputFileError).
 *
 * Why DuckDB, measured on HH texts (2 cores, one file, a batch of 512 rows at a time): parquet-wasm,
 * used before, decodes a row group whole, 1,192 MiB peak for 500k rows in one row group against
 * 690 MiB here (481 vs 405 MiB for 100k rows in one group; 285 vs 333 MiB with 10k-row groups),
 * at the same speed within 10%.
 *
 * Requests: { op: 'rowGroups', file } -> { rowGroups: number[] } | { error };
 *           { op: 'open', file, rowGroups: [start, end) | null, rowRange: [first, end) | null, batchRows }
 *             -> { opened: true } | { error };
 *           { op: 'next', spare?: ArrayBuffer[] } -> ColumnBatch (columnBuffer.ts: a batch as columns)
 *             | { done: true } | { error }; `spare`: text buffers of earlier batches, to write into again;
 *           { op: 'close' } -> { closed: true }.
 * Plain VARCHAR columns cross as UTF-8 bytes (duckDbText.ts) and become strings on the main thread;
 * other values are DuckDB's JS values: BIGINT as bigint, lists as arrays, structs as objects,
 * timestamps as Date, DECIMAL as number, MAP as [{ key, value }].
 */
import { parentPort } from 'node:worker_threads';
import duckdb from '@duckdb/node-bindings';
import { DuckDBInstance, DuckDBTypeId, JSDuckDBValueConverter, type DuckDBConnection, type DuckDBDataChunk, type DuckDBResult } from '@duckdb/node-api';
import { ColumnBuffer, replyTransfer, type TextSource } from './columnBuffer.js';
import { instanceConfig } from './DuckDb.js';
import { textSource } from './duckDbText.js';

type Request =
  | { op: 'rowGroups'; file: string }
  | { op: 'open'; file: string; rowGroups: readonly [number, number] | null; rowRange: readonly [number, number] | null; batchRows: number }
  | { op: 'next'; spare?: ArrayBuffer[] }
  | { op: 'close' };

let db: { instance: DuckDBInstance; connection: DuckDBConnection } | null = null;
let reader: {
  file: string;
  result: DuckDBResult;
  buffer: ColumnBuffer;
  /** Per column: plain VARCHAR, read as UTF-8 bytes (duckDbText.ts); the rest through the converter. */
  text: boolean[];
  batchRows: number;
  row: number;
  ends: number[];
  hi: number;
  /** DuckDB's next chunk, being decoded while this thread converts the last one. */
  ahead: Promise<DuckDBDataChunk | null> | null;
} | null = null;

/** The result's next chunk, asked for now; awaited later (or when the reader closes). */
function fetchAhead(result: DuckDBResult): Promise<DuckDBDataChunk | null> {
  const p = result.fetchChunk();
  p.catch(() => undefined);
  return p;
}

/**
 * DuckDB's message, with what to do where the file is valid but DuckDB cannot decode it: the
 * deprecated Hadoop-framed LZ4 codec (Spark's `lz4`, arrow-rs's LZ4) has no reader in DuckDB.
 */
const message = (err: unknown) => {
  const text = err instanceof Error ? err.message : String(err);
  return /Unsupported compression codec/.test(text)
    ? `${text}; rewrite it with another codec, e.g. in Python: pyarrow.parquet.write_table(pyarrow.parquet.read_table(IN), OUT, compression="zstd")`
    : text;
};

async function connection(): Promise<DuckDBConnection> {
  if (!db) {
    // One thread: the model and the writer need the cores; a reader streams one file at a time.
    const instance = await DuckDBInstance.create(':memory:', instanceConfig({ threads: 1 }));
    db = { instance, connection: await instance.connect() };
  }
  return db.connection;
}

async function rowGroups(file: string): Promise<number[]> {
  const c = await connection();
  const r = await c.runAndReadAll(
    'SELECT row_group_id, any_value(row_group_num_rows)::BIGINT AS n FROM parquet_metadata($file) GROUP BY row_group_id ORDER BY row_group_id',
    { file },
  );
  return r.getRowObjectsJS().map((x) => Number(x.n));
}

/**
 * Why a stream ended at `row`, before the part's last row `hi`. A streaming result that fails
 * (a damaged page, DuckDB out of memory) ends exactly as one that is exhausted: DuckDB's C API
 * returns no chunk for both, and @duckdb/node-api does not read the error. Measured (2026-12-07):
 * a 50k-row file with 16 bytes flipped in its last row group's text page streamed 26,624 rows and
 * ended without an error, so a convert wrote a "done" shard with half the rows. The rows the
 * stream did not give are read again here, every column of them (hash of the whole row) so that
 * the damage is decoded, in an aggregate (memory stays flat), which does report DuckDB's error.
 */
async function cutShort(file: string, row: number, hi: number): Promise<string> {
  const c = await connection();
  const lost = `DuckDB's stream stopped at row ${row}, before the part's end at row ${hi}`;
  try {
    await c.runAndReadAll(
      'SELECT count(hash(t)) FROM (SELECT * EXCLUDE (file_row_number) FROM read_parquet($file, file_row_number = true) WHERE file_row_number >= $lo AND file_row_number < $hi) t',
      { file, lo: BigInt(row), hi: BigInt(hi) },
    );
  } catch (err) {
    return `${message(err)} (${lost})`;
  }
  return `${lost}, and DuckDB gave no reason`;
}

/**
 * Gives back a chunk's memory once its rows are copied out. @duckdb/node-api frees a chunk only
 * when the garbage collector finalizes it, and this thread allocates little JS, so chunks (each
 * with its strings: about 3 MB for 2,048 HH rows) piled up between collections. Measured on 1M HH
 * rows written by DuckDB in one row group, this reader alone (2026-12-07, one run each): 887 -> 727
 * MiB peak RSS; DuckDB's own stream of the file, chunks dropped unread: 1,546 -> 740 MiB. Resetting
 * the chunk (DataChunk::Reset) frees its strings at once; the object is never read again.
 */
function release(chunk: DuckDBDataChunk): void {
  duckdb.data_chunk_reset(chunk.chunk);
}

/** A chunk's columns: text as bytes to copy, other types as the converter's JS values. */
function columnsOf(chunk: DuckDBDataChunk, text: readonly boolean[]): (TextSource | unknown[])[] {
  return text.map((isText, c) => (isText ? textSource(chunk, c) : chunk.convertColumnValues(c, JSDuckDBValueConverter)));
}

async function handle(req: Request): Promise<object> {
  if (req.op === 'rowGroups') return { rowGroups: await rowGroups(req.file) };
  if (req.op === 'close') {
    await reader?.ahead?.catch(() => undefined);
    reader = null;
    db?.connection.closeSync();
    db?.instance.closeSync();
    db = null;
    return { closed: true };
  }
  if (req.op === 'open') {
    const groups = await rowGroups(req.file);
    const starts = [0];
    for (const n of groups) starts.push(starts[starts.length - 1] + n);
    const [g0, g1] = req.rowGroups ?? [0, groups.length];
    if (g1 > groups.length) throw new Error(`row groups [${g0}, ${g1}) out of range: the file has ${groups.length}`);
    // The part's rows: its row groups', or a row range inside them (a row group cut into parts).
    const [lo, hi] = req.rowRange ?? [starts[g0], starts[g1]];
    if (req.rowRange && (lo < starts[g0] || hi > starts[g1] || lo >= hi)) throw new Error(`rows [${lo}, ${hi}) are not inside row groups [${g0}, ${g1}) (rows ${starts[g0]} to ${starts[g1]})`);
    const c = await connection();
    // A range is a file_row_number filter, which DuckDB answers from the footer (the other row
    // groups are never read) and, inside a row group, by skipping the rows before it (rows 300k to
    // 400k of one 400k-row group: 1.9 s against 4.9 s for the whole group).
    const result =
      req.rowGroups || req.rowRange
        ? await c.stream('SELECT * EXCLUDE (file_row_number) FROM read_parquet($file, file_row_number = true) WHERE file_row_number >= $lo AND file_row_number < $hi', {
            file: req.file,
            lo: BigInt(lo),
            hi: BigInt(hi),
          })
        : await c.stream('SELECT * FROM read_parquet($file)', { file: req.file });
    const ends = [...starts.slice(g0 + 1, g1 + 1).filter((e) => e > lo && e < hi), hi];
    const text = result.columnTypes().map((t) => t.typeId === DuckDBTypeId.VARCHAR && !t.alias);
    reader = { file: req.file, result, buffer: new ColumnBuffer(result.deduplicatedColumnNames()), text, batchRows: req.batchRows, row: lo, ends, hi, ahead: null };
    return { opened: true };
  }
  const r = reader!;
  r.buffer.giveBack(req.spare ?? []);
  // A batch never spans two row groups (as parquet-wasm's batches did), so which rows the model
  // sees together does not depend on the reader.
  while (r.ends.length && r.ends[0] <= r.row) r.ends.shift();
  const limit = Math.min(r.batchRows, (r.ends[0] ?? Infinity) - r.row);
  while (r.buffer.size < limit) {
    const chunk = await (r.ahead ?? r.result.fetchChunk());
    r.ahead = null;
    if (!chunk || chunk.rowCount === 0) break;
    // DuckDB decodes on its own thread: the next chunk is read while this one is copied out (text bytes, JS values)
    // (asked for one at a time, the two took turns; one chunk more in memory).
    r.ahead = fetchAhead(r.result);
    r.buffer.push(columnsOf(chunk, r.text), chunk.rowCount, () => release(chunk));
  }
  if (r.buffer.size === 0) {
    reader = null;
    if (r.row < r.hi) throw new Error(await cutShort(r.file, r.row, r.hi));
    return { done: true };
  }
  const batch = r.buffer.take(limit);
  r.row += batch.n;
  return batch;
}

parentPort!.on('message', (req: Request) => {
  handle(req).then(
    // A batch's text bytes are transferred, not copied (columnBuffer.ts).
    (res) => parentPort!.postMessage(res, replyTransfer(res)),
    (err: unknown) => parentPort!.postMessage({ error: message(err) }),
  );
});
