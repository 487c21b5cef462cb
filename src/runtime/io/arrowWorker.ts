/**
 * The Arrow IPC reader's worker thread (readers.ts, readArrow): apache-arrow parses the file's
 * flatbuffers and buffers in JS, so a damaged file can throw anything or allocate without bound;
 * here that ends this worker (its heap is limited), not the run. Requests, one at a time:
 * `open` (file, batchRows), `next` (the next rows, at most batchRows, as plain values: lists as
 * arrays, structs as objects), `close`.
 */
import { createReadStream, type ReadStream } from 'node:fs';
import { parentPort } from 'node:worker_threads';
import { RecordBatchReader, Vector, type RecordBatch } from 'apache-arrow';

type Request = { op: 'open'; file: string; batchRows: number } | { op: 'next' } | { op: 'close' };

let reader: { stream: ReadStream; batches: AsyncIterator<RecordBatch>; names: string[]; buffer: Record<string, unknown>[]; batchRows: number } | null = null;

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

async function handle(req: Request): Promise<unknown> {
  if (req.op === 'close') {
    reader?.stream.destroy();
    reader = null;
    return { closed: true };
  }
  if (req.op === 'open') {
    const stream = createReadStream(req.file, { highWaterMark: 1 << 20 });
    const r = await RecordBatchReader.from(stream);
    await r.open();
    reader = { stream, batches: (r as AsyncIterable<RecordBatch>)[Symbol.asyncIterator](), names: r.schema.fields.map((f) => f.name), buffer: [], batchRows: req.batchRows };
    return { opened: true };
  }
  const r = reader!;
  while (r.buffer.length < r.batchRows) {
    const next = await r.batches.next();
    if (next.done) break;
    const b = next.value;
    const columns = r.names.map((_, c) => b.getChildAt(c));
    for (let i = 0; i < b.numRows; i++) {
      const row: Record<string, unknown> = {};
      r.names.forEach((n, c) => (row[n] = arrowValue(columns[c]?.get(i) ?? null)));
      r.buffer.push(row);
    }
  }
  if (r.buffer.length === 0) return { done: true };
  return { rows: r.buffer.splice(0, r.batchRows) };
}

parentPort!.on('message', (req: Request) => {
  handle(req).then(
    (res) => parentPort!.postMessage(res),
    (err: unknown) => parentPort!.postMessage({ error: err instanceof Error ? err.message : String(err) }),
  );
});
