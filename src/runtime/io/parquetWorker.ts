/**
 * The Parquet decoder (parquet-wasm) in a worker thread. A malformed file can make the decoder
 * panic (`RuntimeError: unreachable`) from inside its own asynchronous code, where no try/catch of
 * ours reaches: in the main thread that kills the process, and the good files beside it are never
 * written. Here it kills only this worker; readers.ts turns that into one InputFileError for the
 * file and the run goes on. The protocol is pull-based (one batch per request), so backpressure and
 * bounded memory are as before.
 *
 * Requests: { op: 'rowGroups', file } -> { rowGroups: number[] } | { error };
 *           { op: 'open', file, rowGroups, batchRows } -> { opened: true } | { error };
 *           { op: 'next' } -> { rows: Record<string, unknown>[] } | { done: true } | { error }.
 */
import { openAsBlob } from 'node:fs';
import { parentPort } from 'node:worker_threads';
import { tableFromIPC } from 'apache-arrow';
import * as pw from 'parquet-wasm/node';
import { toPlain } from './readers.js';

type Request = { op: 'rowGroups'; file: string } | { op: 'open'; file: string; rowGroups: number[] | undefined; batchRows: number } | { op: 'next' };

let pf: pw.ParquetFile | null = null;
let reader: ReadableStreamDefaultReader<pw.RecordBatch> | null = null;

const message = (err: unknown) => (err instanceof Error ? err.message : String(err));

async function handle(req: Request): Promise<unknown> {
  if (req.op === 'rowGroups') {
    const f = await pw.ParquetFile.fromFile(await openAsBlob(req.file));
    const md = f.metadata();
    const groups = Array.from({ length: md.numRowGroups() }, (_, i) => md.rowGroup(i).numRows());
    f.free();
    return { rowGroups: groups };
  }
  if (req.op === 'open') {
    pf = await pw.ParquetFile.fromFile(await openAsBlob(req.file));
    reader = (await pf.stream({ batchSize: req.batchRows, rowGroups: req.rowGroups })).getReader();
    return { opened: true };
  }
  const next = await reader!.read();
  if (next.done) {
    pf?.free();
    pf = null;
    return { done: true };
  }
  const table = tableFromIPC(next.value.intoIPCStream());
  const names = table.schema.fields.map((f) => f.name);
  const cols = names.map((n) => table.getChild(n)!);
  const rows: Record<string, unknown>[] = [];
  for (let i = 0; i < table.numRows; i++) {
    const row: Record<string, unknown> = {};
    for (let c = 0; c < names.length; c++) row[names[c]] = toPlain(cols[c].get(i));
    rows.push(row);
  }
  return { rows };
}

parentPort!.on('message', (req: Request) => {
  handle(req).then(
    (res) => parentPort!.postMessage(res),
    (err: unknown) => parentPort!.postMessage({ error: message(err) }),
  );
});
