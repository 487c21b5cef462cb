/**
 * The Parquet encoder, in a worker thread: parquet-wasm's streaming writer (encoding and ZSTD),
 * which took 27% of a JSONL convert's main thread (profile of 100k HH rows, 2026-12-07), runs
 * here beside the pipeline instead of between its batches. One worker serves every ParquetWriter
 * of the process (a message names its writer); the bytes are parquet-wasm's, as before.
 *
 * Requests: { op: 'open', id, tmp, options }: starts the file `tmp`;
 *           { op: 'batch', id, ipc }: an Arrow IPC stream of the next rows (its buffer transferred);
 *           { op: 'close', id } -> { id, op: 'closed' } once the file is complete on disk;
 *           { op: 'abort', id } -> { id, op: 'aborted' } once the encoder has stopped.
 * Replies, besides: { id, op: 'taken' } when the encoder has pulled the last batch of a 'batch'
 * message (the writer's backpressure); { id, op: 'spent', ipc } hands a batch's bytes back once
 * decoded (transferred; the writer drops them); { id, op: 'error', message, code, path, syscall, errno }
 * when the file failed (a file-system error keeps its fields: the CLI names disk-full and such).
 */
import { createWriteStream } from 'node:fs';
import { Writable } from 'node:stream';
import { parentPort } from 'node:worker_threads';
import * as pw from 'parquet-wasm/node';
import { ipcBatches, writerProperties, type ParquetWriterOptions } from './parquetProperties.js';

type Request =
  | { op: 'open'; id: number; tmp: string; options: ParquetWriterOptions }
  | { op: 'batch'; id: number; ipc: Uint8Array }
  | { op: 'close'; id: number }
  | { op: 'abort'; id: number };

interface FileState {
  readonly queue: { batch: pw.RecordBatch; last: boolean }[];
  wake: (() => void) | null;
  ended: boolean;
  done: Promise<void>;
}

const files = new Map<number, FileState>();
const post = (m: Record<string, unknown>) => parentPort!.postMessage(m);
/** An error as a message, with the fields a file-system error carries (asUserError reads `code` and `path`). */
function failure(err: unknown): Record<string, unknown> {
  const e = err as NodeJS.ErrnoException;
  return { message: err instanceof Error ? err.message : String(err), code: e?.code, path: e?.path, syscall: e?.syscall, errno: e?.errno };
}

function open(id: number, tmp: string, options: ParquetWriterOptions): void {
  const f: FileState = { queue: [], wake: null, ended: false, done: Promise.resolve() };
  const source = new ReadableStream<pw.RecordBatch>({
    pull: async (controller) => {
      while (f.queue.length === 0 && !f.ended) await new Promise<void>((r) => (f.wake = r));
      const next = f.queue.shift();
      if (!next) return controller.close();
      controller.enqueue(next.batch);
      if (next.last) post({ id, op: 'taken' });
    },
  });
  f.done = (async () => {
    const bytes = await pw.transformParquetStream(source, writerProperties(options));
    await bytes.pipeTo(Writable.toWeb(createWriteStream(tmp)) as WritableStream<Uint8Array>);
  })();
  // A failure (disk full, permission) is reported once, at once: the writer sees it at its next call.
  f.done.catch((err: unknown) => post({ id, op: 'error', ...failure(err) }));
  files.set(id, f);
}

function batch(id: number, ipc: Uint8Array): void {
  const f = files.get(id);
  if (!f || f.ended) return;
  const batches = ipcBatches(ipc);
  // The IPC bytes, copied into wasm memory now, go back to the main thread to be dropped there:
  // this thread allocates so little that its garbage collector, which alone frees an ArrayBuffer,
  // ran about once per 60 MB of them. Measured (1M-row JSON lines convert, median of 3): peak RSS
  // 507 -> 477 MiB.
  parentPort!.postMessage({ id, op: 'spent', ipc }, [ipc.buffer as ArrayBuffer]);
  batches.forEach((b, i) => f.queue.push({ batch: b, last: i === batches.length - 1 }));
  if (batches.length === 0) post({ id, op: 'taken' });
  f.wake?.();
  f.wake = null;
}

async function finish(id: number, abort: boolean): Promise<void> {
  const f = files.get(id);
  files.delete(id);
  if (!f) return post({ id, op: abort ? 'aborted' : 'closed' });
  f.ended = true;
  if (abort) for (const q of f.queue.splice(0)) q.batch.free();
  f.wake?.();
  f.wake = null;
  const ok = await f.done.then(
    () => true,
    () => false,
  );
  // A failed file has already said why ('error'); closing it only confirms it is over.
  post({ id, op: abort ? 'aborted' : ok ? 'closed' : 'failed' });
}

parentPort!.on('message', (req: Request) => {
  try {
    if (req.op === 'open') open(req.id, req.tmp, req.options);
    else if (req.op === 'batch') batch(req.id, req.ipc);
    else void finish(req.id, req.op === 'abort');
  } catch (err) {
    post({ id: req.id, op: 'error', ...failure(err) });
  }
});
