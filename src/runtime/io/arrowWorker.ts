/**
 * The Arrow IPC reader's worker thread (readers.ts, readArrow): apache-arrow parses the file's
 * flatbuffers and buffers in JS, so a damaged file can throw anything or allocate without bound;
 * here that ends this worker (its heap is limited), not the run. Requests, one at a time:
 * `open` (file, batchRows), `next` (the next rows, at most batchRows, as a ColumnBatch: Utf8 columns
 * as their UTF-8 bytes, other values plain: lists as arrays, structs as objects; `spare`: text
 * buffers handed back, as for the Parquet worker), `close`.
 */
import { createReadStream, type ReadStream } from 'node:fs';
import { open } from 'node:fs/promises';
import { parentPort } from 'node:worker_threads';
import { DataType, RecordBatchReader, Vector, type Data, type RecordBatch, type Utf8 } from 'apache-arrow';
import { arrowIsNull } from './bitmaps.js';
import { ColumnBuffer, replyTransfer, type TextSource } from './columnBuffer.js';

type Request = { op: 'open'; file: string; batchRows: number } | { op: 'next'; spare?: ArrayBuffer[] } | { op: 'close' };

let reader: { stream: ReadStream; batches: AsyncIterator<RecordBatch>; buffer: ColumnBuffer; batchRows: number } | null = null;

/** A value of an Arrow column as the adapters take it: lists as arrays, structs as objects. */
function arrowValue(v: unknown): unknown {
  if (v === null || typeof v !== 'object') return v;
  if (v instanceof Vector) return Array.from(v.toArray() as ArrayLike<unknown>, arrowValue);
  if (ArrayBuffer.isView(v)) return Array.from(v as unknown as ArrayLike<unknown>, arrowValue);
  if (typeof (v as { toJSON?: unknown }).toJSON === 'function') {
    const o = (v as { toJSON(): unknown }).toJSON();
    if (o && typeof o === 'object' && !Array.isArray(o)) return Object.fromEntries(Object.entries(o).map(([k, x]) => [k, arrowValue(x)]));
    return o;
  }
  return v;
}

/**
 * A Utf8 column of a record batch as a text source: its bytes are already UTF-8, row after row, so
 * a run of rows is one copy (a null row's bytes, if a writer left any, come along unread).
 */
function arrowText(data: Data<Utf8>): TextSource {
  const { values, valueOffsets: offsets } = data;
  return {
    bytes: (from, to) => offsets[to] - offsets[from],
    copy(from, to, into, row) {
      const base = into.ends[row] - offsets[from];
      into.utf8.set(values.subarray(offsets[from], offsets[to]), into.ends[row]);
      for (let i = from; i < to; i++, row++) {
        if (arrowIsNull(data, i)) into.nulls[row] = 1;
        into.ends[row + 1] = offsets[i + 1] + base;
      }
    },
  };
}

/** The largest message metadata the stream walk reads (real ones are kilobytes). */
const MAX_METADATA_BYTES = 64 << 20;

/**
 * Why an Arrow IPC stream file is incomplete, or null. A stream cut between two record batches
 * reads as a shorter valid stream (measured: a 300-row file cut after its second batch converted
 * as a complete 200-row shard), so the file's messages are walked first, header by header (the
 * bodies are skipped), and the stream must end with its end-of-stream marker exactly at the end of
 * the file. The format allows a writer to omit the marker, but pyarrow, arrow-rs and apache-arrow
 * write it when a stream is closed, and without it a cut file cannot be told from a whole one. The file
 * format ("ARROW1") has a footer, which a cut file lacks, so it needs no walk.
 */
async function arrowStreamProblem(file: string): Promise<string | null> {
  const fh = await open(file, 'r');
  try {
    const { size } = await fh.stat();
    const head = Buffer.alloc(8);
    const at = async (pos: number, n: number): Promise<Buffer> => {
      const buf = n <= 8 ? head : Buffer.alloc(n);
      const { bytesRead } = await fh.read(buf, 0, n, pos);
      return buf.subarray(0, bytesRead);
    };
    if ((await at(0, 6)).toString('latin1') === 'ARROW1') return null;
    let pos = 0;
    for (let messages = 0; ; messages++) {
      if (pos === size) return `the Arrow stream is cut short: it ends after ${messages} messages without its end-of-stream marker (a writer that stopped early); if the file is whole, rewrite it with pyarrow, which ends the stream`;
      const h = await at(pos, 8);
      if (h.length < 4) break;
      // A message: 0xFFFFFFFF, the metadata length, the metadata (a flatbuffer), the body; before
      // format 0.15 the length came first. A length of 0 is the end-of-stream marker.
      const continued = h.readInt32LE(0) === -1;
      if (continued && h.length < 8) break;
      const metaLength = continued ? h.readInt32LE(4) : h.readInt32LE(0);
      const start = pos + (continued ? 8 : 4);
      if (metaLength === 0) return start === size ? null : `the Arrow stream has ${size - start} bytes after its end-of-stream marker`;
      // Metadata is a schema or a batch header, kilobytes: a larger length is damage, not a reason
      // to allocate up to the file's size.
      if (metaLength < 0 || metaLength > MAX_METADATA_BYTES || start + metaLength > size) break;
      const meta = await at(start, metaLength);
      // Message.bodyLength: field 3 of the root table, through its vtable.
      const table = meta.readUInt32LE(0);
      const vtable = table - meta.readInt32LE(table);
      const field = meta.readUInt16LE(vtable) > 10 ? meta.readUInt16LE(vtable + 10) : 0;
      const bodyLength = field ? Number(meta.readBigInt64LE(table + field)) : 0;
      pos = start + metaLength + bodyLength;
      if (pos > size) break;
    }
    return `the Arrow stream is cut short or damaged inside a message (the file has ${size} bytes)`;
  } catch (err) {
    // Damaged metadata: the reader's own error says more; let it read and fail.
    if (err instanceof RangeError) return null;
    throw err;
  } finally {
    await fh.close();
  }
}

async function handle(req: Request): Promise<object> {
  if (req.op === 'close') {
    reader?.stream.destroy();
    reader = null;
    return { closed: true };
  }
  if (req.op === 'open') {
    const problem = await arrowStreamProblem(req.file);
    if (problem) throw new Error(problem);
    const stream = createReadStream(req.file, { highWaterMark: 1 << 20 });
    const r = await RecordBatchReader.from(stream);
    await r.open();
    reader = { stream, batches: (r as AsyncIterable<RecordBatch>)[Symbol.asyncIterator](), buffer: new ColumnBuffer(r.schema.fields.map((f) => f.name)), batchRows: req.batchRows };
    return { opened: true };
  }
  const r = reader!;
  r.buffer.giveBack(req.spare ?? []);
  while (r.buffer.size < r.batchRows) {
    const next = await r.batches.next();
    if (next.done) break;
    const b = next.value;
    const columns = r.buffer.names.map((_, c) => {
      const column = b.getChildAt(c);
      if (column && column.data.length === 1 && DataType.isUtf8(column.type)) return arrowText(column.data[0] as Data<Utf8>);
      return Array.from({ length: b.numRows }, (_, i) => arrowValue(column?.get(i) ?? null));
    });
    r.buffer.push(columns, b.numRows);
  }
  if (r.buffer.size === 0) return { done: true };
  return r.buffer.take(r.batchRows);
}

parentPort!.on('message', (req: Request) => {
  handle(req).then(
    (res) => parentPort!.postMessage(res, replyTransfer(res)),
    (err: unknown) => parentPort!.postMessage({ error: err instanceof Error ? err.message : String(err) }),
  );
});
