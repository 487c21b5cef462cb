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
 * DuckDB decodes a page whole, though, and DuckDB's own writer makes pages as large as a column's
 * row group, up to about 100 MB. Text columns with pages that large (`pageStream`,
 * `--page-stream-size`; by default 16 MiB, ZSTD or uncompressed) are read here inside their pages
 * (parquetPageText.ts: memory that follows the batch), and DuckDB reads the other columns beside
 * them, row for row (checkRows).
 *
 * Requests: { op: 'rowGroups', file } -> { rowGroups: number[] } | { error };
 *           { op: 'open', file, rowGroups: [start, end) | null, rowRange: [first, end) | null, batchRows,
 *             pageStream: { bytes, codecs } | null (null: none) } -> { opened: true, pagedColumns: string[] } | { error };
 *           { op: 'next', spare?: ArrayBuffer[] } -> ColumnBatch (columnBuffer.ts: a batch as columns)
 *             | { done: true } | { error }; `spare`: text buffers of earlier batches, to write into again;
 *           { op: 'close' } -> { closed: true }.
 * Plain VARCHAR columns cross as UTF-8 bytes (duckDbText.ts) and become strings on the main thread;
 * other values are DuckDB's JS values: BIGINT as bigint, lists as arrays, structs as objects,
 * timestamps as Date, DECIMAL as number, MAP as [{ key, value }].
 */
import { closeSync, openSync } from 'node:fs';
import { parentPort } from 'node:worker_threads';
import duckdb from '@duckdb/node-bindings';
import { DuckDBInstance, DuckDBTypeId, JSDuckDBValueConverter, type DuckDBConnection, type DuckDBDataChunk, type DuckDBResult } from '@duckdb/node-api';
import { ColumnBuffer, replyTransfer, type TextSource } from './columnBuffer.js';
import { instanceConfig } from './DuckDb.js';
import { textSource } from './duckDbText.js';
import { firstPageBytes, loadZstd, PageText, STREAMED_CODECS, type ColumnChunkRef, type PageStreamPolicy } from './parquetPageText.js';

type Request =
  | { op: 'rowGroups'; file: string }
  | { op: 'open'; file: string; rowGroups: readonly [number, number] | null; rowRange: readonly [number, number] | null; batchRows: number; pageStream: PageStreamPolicy | null }
  | { op: 'next'; spare?: ArrayBuffer[] }
  | { op: 'close' };

let db: { instance: DuckDBInstance; connection: DuckDBConnection } | null = null;
interface Reader {
  file: string;
  result: DuckDBResult;
  buffer: ColumnBuffer;
  /**
   * Per column, where it comes from: the DuckDB result's column `duck` (text: plain VARCHAR, read
   * as UTF-8 bytes, duckDbText.ts; the rest through the converter), or a PageText.
   */
  columns: ({ duck: number; text: boolean } | PageText)[];
  /** The file, open for the PageText columns; null when there are none. */
  fd: number | null;
  batchRows: number;
  row: number;
  ends: number[];
  hi: number;
  /** DuckDB's next chunk, being decoded while this thread converts the last one. */
  ahead: Promise<DuckDBDataChunk | null> | null;
}
let reader: Reader | null = null;

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

/** Encodings a streamed column may list: PLAIN values, RLE or bit-packed levels; no dictionary. */
const STREAMED_ENCODINGS: ReadonlySet<string> = new Set(['PLAIN', 'RLE', 'BIT_PACKED']);

const quote = (name: string) => `"${name.replace(/"/g, '""')}"`;

/**
 * The text columns of row groups [g0, g1) to read inside their pages: flat VARCHAR columns in
 * PLAIN pages of a codec parquetPageText.ts reads and the policy names, whose first page in some
 * row group is at least the policy's bytes. Everything else, and any file whose footer says otherwise, is left to DuckDB.
 */
async function pagedColumns(
  file: string,
  fd: number,
  g0: number,
  g1: number,
  policy: PageStreamPolicy,
): Promise<{ names: string[]; columns: Map<string, { maxDef: 0 | 1; chunks: ColumnChunkRef[] }> }> {
  const c = await connection();
  const schema = (await c.runAndReadAll('SELECT name, type, repetition_type, num_children, duckdb_type FROM parquet_schema($file)', { file })).getRowObjectsJS();
  // The root's children in order; a child with children of its own is a nested column.
  const top: { name: string; leaf: boolean; row: Record<string, unknown> }[] = [];
  let i = 1;
  const pass = (): void => {
    const n = Number(schema[i++]?.num_children ?? 0);
    for (let k = 0; k < n && i < schema.length; k++) pass();
  };
  for (let k = 0; k < Number(schema[0]?.num_children ?? 0) && i < schema.length; k++) {
    const row = schema[i];
    top.push({ name: String(row.name), leaf: !Number(row.num_children ?? 0), row });
    pass();
  }
  const out = new Map<string, { maxDef: 0 | 1; chunks: ColumnChunkRef[] }>();
  const names = top.map((t) => t.name);
  // DuckDB renames repeated names; then which is which is not certain, and DuckDB reads them all.
  if (new Set(names).size !== names.length) return { names, columns: out };
  const candidates = top.filter((t) => t.leaf && t.row.type === 'BYTE_ARRAY' && t.row.duckdb_type === 'VARCHAR' && (t.row.repetition_type === 'REQUIRED' || t.row.repetition_type === 'OPTIONAL'));
  if (!candidates.length) return { names, columns: out };
  const meta = (
    await c.runAndReadAll(
      `SELECT row_group_id, row_group_num_rows, path_in_schema, compression, encodings, dictionary_page_offset, data_page_offset, total_compressed_size, num_values
       FROM parquet_metadata($file) WHERE row_group_id >= $g0 AND row_group_id < $g1 ORDER BY row_group_id`,
      { file, g0: BigInt(g0), g1: BigInt(g1) },
    )
  ).getRowObjectsJS();
  for (const t of candidates) {
    const rows = meta.filter((m) => m.path_in_schema === t.name);
    if (rows.length !== g1 - g0) continue;
    const fits = rows.every(
      (m) =>
        STREAMED_CODECS.has(String(m.compression)) &&
        policy.codecs.includes(String(m.compression)) &&
        m.dictionary_page_offset === null &&
        String(m.encodings).split(/,\s*/).every((e) => STREAMED_ENCODINGS.has(e)) &&
        m.num_values === m.row_group_num_rows,
    );
    if (!fits) continue;
    const chunks = rows.map((m): ColumnChunkRef => ({ rowGroup: Number(m.row_group_id), offset: Number(m.data_page_offset), bytes: Number(m.total_compressed_size), codec: String(m.compression), rows: Number(m.row_group_num_rows) }));
    if (Math.max(...chunks.map((ch) => firstPageBytes(fd, ch))) < policy.bytes) continue;
    out.set(t.name, { maxDef: t.row.repetition_type === 'OPTIONAL' ? 1 : 0, chunks });
  }
  return { names, columns: out };
}

/** A chunk's columns, in the file's order: DuckDB's (text as bytes, the rest as JS values) and the PageText columns' next rows. */
function columnsOf(chunk: DuckDBDataChunk, columns: Reader['columns']): (TextSource | unknown[])[] {
  return columns.map((col) =>
    col instanceof PageText ? col.take(chunk.rowCount) : col.text ? textSource(chunk, col.duck) : chunk.convertColumnValues(col.duck, JSDuckDBValueConverter),
  );
}

/**
 * With PageText columns, the DuckDB result's column 0 is file_row_number: each chunk must start at
 * the row the PageText columns are at, and hold consecutive rows, or the columns would not line up.
 */
function checkRows(chunk: DuckDBDataChunk, expected: number): void {
  const n = chunk.rowCount;
  const rows = duckdb.vector_get_data(duckdb.data_chunk_get_vector(chunk.chunk, 0), 8 * n);
  const numbers = new BigInt64Array(rows.buffer, rows.byteOffset, n);
  if (Number(numbers[0]) !== expected || Number(numbers[n - 1]) !== expected + n - 1)
    throw new Error(`DuckDB gave rows ${numbers[0]} to ${numbers[n - 1]} where rows ${expected} to ${expected + n - 1} were next`);
}

/** Ends the open reader: its file, if PageText columns had it open. */
function drop(): void {
  if (reader?.fd != null) closeSync(reader.fd);
  reader = null;
}

async function open(req: Extract<Request, { op: 'open' }>): Promise<object> {
  drop();
  const groups = await rowGroups(req.file);
  const starts = [0];
  for (const n of groups) starts.push(starts[starts.length - 1] + n);
  const [g0, g1] = req.rowGroups ?? [0, groups.length];
  if (g1 > groups.length) throw new Error(`row groups [${g0}, ${g1}) out of range: the file has ${groups.length}`);
  // The part's rows: its row groups', or a row range inside them (a row group cut into parts).
  const [lo, hi] = req.rowRange ?? [starts[g0], starts[g1]];
  if (req.rowRange && (lo < starts[g0] || hi > starts[g1] || lo >= hi)) throw new Error(`rows [${lo}, ${hi}) are not inside row groups [${g0}, ${g1}) (rows ${starts[g0]} to ${starts[g1]})`);
  const c = await connection();
  // With --page-stream-size off, DuckDB reads every column: the file is not opened here, nor its footer read again.
  const fd = req.pageStream === null ? null : openSync(req.file, 'r');
  // The file stays open while PageText columns read it, and is closed here otherwise.
  let kept = false;
  try {
    const paged = fd === null ? null : await pagedColumns(req.file, fd, g0, g1, req.pageStream!);
    const streamed = [...(paged?.columns.keys() ?? [])];
    // The zstd decoder only for a part with columns read inside their pages: compiling its
    // WebAssembly takes 32-36 ms, once per worker (that is, per part).
    if (streamed.length) await loadZstd();
    // A range is a file_row_number filter, which DuckDB answers from the footer (the other row
    // groups are never read) and, inside a row group, by skipping the rows before it (rows 300k to
    // 400k of one 400k-row group: 1.9 s against 4.9 s for the whole group). With PageText columns,
    // DuckDB reads the other columns only, and file_row_number to check that the rows line up.
    const range = { file: req.file, lo: BigInt(lo), hi: BigInt(hi) };
    const result = streamed.length
      ? await c.stream(`SELECT file_row_number, * EXCLUDE (file_row_number, ${streamed.map(quote).join(', ')}) FROM read_parquet($file, file_row_number = true) WHERE file_row_number >= $lo AND file_row_number < $hi`, range)
      : req.rowGroups || req.rowRange
        ? await c.stream('SELECT * EXCLUDE (file_row_number) FROM read_parquet($file, file_row_number = true) WHERE file_row_number >= $lo AND file_row_number < $hi', range)
        : await c.stream('SELECT * FROM read_parquet($file)', { file: req.file });
    const ends = [...starts.slice(g0 + 1, g1 + 1).filter((e) => e > lo && e < hi), hi];
    const duckNames = result.deduplicatedColumnNames();
    const duckText = result.columnTypes().map((t) => t.typeId === DuckDBTypeId.VARCHAR && !t.alias);
    let names = duckNames;
    let columns: Reader['columns'] = duckNames.map((_, d) => ({ duck: d, text: duckText[d] }));
    if (paged && fd !== null && streamed.length) {
      // The file's order: the PageText columns where they stand, DuckDB's (after file_row_number) between them.
      names = paged.names;
      columns = names.map((name) => {
        const p = paged.columns.get(name);
        if (p) return new PageText(fd, name, p.maxDef, p.chunks, lo - starts[g0]);
        const d = duckNames.indexOf(name);
        if (d < 1) throw new Error(`column ${name} is neither read by DuckDB nor inside its pages`);
        return { duck: d, text: duckText[d] };
      });
    }
    kept = streamed.length > 0;
    reader = { file: req.file, result, buffer: new ColumnBuffer(names), columns, fd: kept ? fd : null, batchRows: req.batchRows, row: lo, ends, hi, ahead: null };
    return { opened: true, pagedColumns: streamed };
  } finally {
    if (!kept && fd !== null) closeSync(fd);
  }
}

async function handle(req: Request): Promise<object> {
  if (req.op === 'rowGroups') return { rowGroups: await rowGroups(req.file) };
  if (req.op === 'close') {
    await reader?.ahead?.catch(() => undefined);
    drop();
    db?.connection.closeSync();
    db?.instance.closeSync();
    db = null;
    return { closed: true };
  }
  if (req.op === 'open') return open(req);
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
    if (r.fd !== null) checkRows(chunk, r.row + r.buffer.size);
    const columns = columnsOf(chunk, r.columns);
    r.buffer.push(columns, chunk.rowCount, () => {
      release(chunk);
      r.columns.forEach((col, c) => col instanceof PageText && col.recycle(columns[c] as TextSource));
    });
  }
  if (r.buffer.size === 0) {
    drop();
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
