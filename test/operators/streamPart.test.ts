/**
 * streamPart on real files (plain subscription tests: the reader is real I/O, so no virtual time):
 * empty, one, many, source error, reader rejects, early unsubscribe closing the file, and the
 * flow-control window that keeps memory flat under a slow stage or a slow writer.
 */
import assert from 'node:assert/strict';
import { readdirSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { test } from 'node:test';
import { concatMap, firstValueFrom, identity, lastValueFrom, map, pipe, Subject, tap, toArray, type OperatorFunction } from 'rxjs';
import { streamPart } from '../../pipelines/eachPart.js';
import type { PartRef, ReadItem, RecordBatch } from '../../schemas/records.js';
import { InputFileError } from '../../src/runtime/errors.js';
import { Stats } from '../../src/runtime/Stats.js';
import { Utf8 } from 'apache-arrow';
import { arrowTable, hhRows, tempDir, writeJsonl, writeParquetFile } from '../helpers/badInputs.js';

const part = (file: string, format: 'jsonl' | 'parquet' = 'jsonl'): PartRef => ({ index: 0, count: 1, file, source: basename(file), format, rowGroups: null, firstRow: 0 });
const read = { batchRows: 10, maxRowBytes: 1 << 20 };
const ident = identity as OperatorFunction<RecordBatch<ReadItem>, RecordBatch<ReadItem>>;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

test('empty, one and many batches, in order, with the part attached; reader rejects pass through', async () => {
  const dir = await tempDir('stream');
  const hh = hhRows().slice(0, 25);
  writeJsonl(join(dir, 'empty.jsonl'), []);
  writeJsonl(join(dir, 'one.jsonl'), hh.slice(0, 3));
  writeJsonl(join(dir, 'many.jsonl'), [...hh.slice(0, 12), '{oops', ...hh.slice(12)]);
  const run = async (f: string) => lastValueFrom(streamPart({ part: part(join(dir, f)), read, stages: ident, window: 2, stats: new Stats() }).pipe(toArray()));
  assert.deepEqual(await run('empty.jsonl'), []);
  const one = await run('one.jsonl');
  assert.deepEqual(one.map((b) => [b.index, b.items.length, b.part.file]), [[0, 3, join(dir, 'one.jsonl')]]);
  const many = await run('many.jsonl');
  assert.deepEqual(many.map((b) => [b.index, b.items.length]), [[0, 10], [1, 10], [2, 6]]);
  const items = many.flatMap((b) => b.items);
  assert.deepEqual(items.map((it) => it.sourceRow), Array.from({ length: 26 }, (_, i) => i));
  assert.deepEqual(items.filter((it) => it.kind === 'reject').map((it) => it.kind === 'reject' && [it.sourceRow, it.reason]), [[12, 'invalid JSON']]);
});

test('source error: an unreadable file errors the stream with an InputFileError; a stage error errors it too', async () => {
  const dir = await tempDir('stream-err');
  writeFileSync(join(dir, 'bad.parquet'), 'not parquet at all');
  const stats = new Stats();
  await assert.rejects(lastValueFrom(streamPart({ part: part(join(dir, 'bad.parquet'), 'parquet'), read, stages: ident, window: 2, stats })), InputFileError);
  writeJsonl(join(dir, 'ok.jsonl'), hhRows().slice(0, 30));
  const boom = map((b: RecordBatch<ReadItem>) => {
    if (b.index === 1) throw new Error('stage failed');
    return b;
  });
  await assert.rejects(lastValueFrom(streamPart({ part: part(join(dir, 'ok.jsonl')), read, stages: boom, window: 2, stats })), /stage failed/);
  assert.throws(() => streamPart({ part: part(join(dir, 'ok.jsonl')), read, stages: ident, window: 0, stats }), RangeError);
});

/** Open file descriptors of this process that point at `file` (Linux /proc). */
function openFds(file: string): number {
  return readdirSync('/proc/self/fd').filter((fd) => {
    try {
      return readlinkSync(`/proc/self/fd/${fd}`) === file;
    } catch {
      return false;
    }
  }).length;
}

test('early unsubscribe stops reading and closes the file', { skip: process.platform !== 'linux' && 'needs /proc' }, async () => {
  const dir = await tempDir('stream-unsub');
  const file = join(dir, 'big.jsonl');
  writeJsonl(file, Array.from({ length: 20_000 }, (_, i) => ({ ...hhRows()[i % 100], i })));
  const stats = new Stats();
  const first = await firstValueFrom(streamPart({ part: part(file), read, stages: ident, window: 2, stats }));
  assert.equal(first.index, 0);
  // firstValueFrom unsubscribed after batch 0: a window of 2 means at most a couple more were read.
  for (let i = 0; i < 50 && openFds(file) > 0; i++) await sleep(10);
  assert.equal(openFds(file), 0);
  assert.ok(stats.get('streamPart.batches') <= 3, `${stats.get('streamPart.batches')} batches read`);
});

/**
 * Runs a 200k-row input through a deliberately slow stage and records the most batches that were
 * inside the stages at once (entered, not yet out).
 */
async function maxInFlight(file: string, format: 'jsonl' | 'parquet', window: number, batchRows = 2000): Promise<{ max: number; batches: number; rows: number }> {
  let inside = 0;
  let max = 0;
  const stages = pipe(
    tap<RecordBatch<ReadItem>>(() => (max = Math.max(max, ++inside))),
    // The slow stage (the model, in rerank): a timer per batch, slower than reading one (about
    // 10 ms for 2,000 Parquet rows through DuckDB), so that batches wait and the window fills.
    concatMap(async (b: RecordBatch<ReadItem>) => {
      await sleep(20);
      return b;
    }),
    tap(() => inside--),
  );
  const out = await lastValueFrom(streamPart({ part: part(file, format), read: { batchRows, maxRowBytes: 1 << 20 }, stages, window, stats: new Stats() }).pipe(toArray()));
  return { max, batches: out.length, rows: out.reduce((n, b) => n + b.items.length, 0) };
}

test('memory: with a slow stage, batches in flight never exceed the window (200k rows, JSONL and Parquet)', async () => {
  const dir = await tempDir('stream-mem');
  const hh = hhRows();
  const N = 200_000;
  // Short rows keep the test fast: what is measured is the number of batches, not their size.
  const rows = Array.from({ length: N }, (_, i) => ({ chosen: hh[i % hh.length].chosen.slice(0, 60), rejected: `r${i}` }));
  writeJsonl(join(dir, 'big.jsonl'), rows);
  writeParquetFile(
    join(dir, 'big.parquet'),
    arrowTable({ chosen: { type: new Utf8(), values: rows.map((r) => r.chosen) }, rejected: { type: new Utf8(), values: rows.map((r) => r.rejected) } }),
    50_000,
  );
  for (const [f, format, window] of [['big.jsonl', 'jsonl', 2], ['big.parquet', 'parquet', 3]] as const) {
    {
      const r = await maxInFlight(join(dir, f), format, window);
      assert.equal(r.rows, N, f);
      assert.equal(r.batches, N / 2000, f);
      assert.ok(r.max <= window, `${f}: ${r.max} batches in flight with window ${window}`);
      assert.equal(r.max, window, `${f}: the window is used`);
    }
  }
  // Control: without the window (a huge one), the reader runs ahead of the slow stage and batches
  // pile up, which is what the window prevents.
  writeJsonl(join(dir, 'small.jsonl'), rows.slice(0, 20_000));
  const free = await maxInFlight(join(dir, 'small.jsonl'), 'jsonl', 1_000_000, 200);
  assert.ok(free.max > 10, `without a window only ${free.max} were in flight`);
  rmSync(dir, { recursive: true, force: true }); // ~40 MB of fixtures
});

test('a slow writer holds the reader back: with `written`, batches read and not yet written never exceed the window', async () => {
  const dir = await tempDir('stream-writer');
  const file = join(dir, 'rows.jsonl');
  writeJsonl(file, Array.from({ length: 20_000 }, (_, i) => ({ chosen: `c${i}`, rejected: `r${i}` })));
  const run = async (withWritten: boolean) => {
    const stats = new Stats();
    const written = new Subject<void>();
    let done = 0;
    let max = 0;
    const out = await lastValueFrom(
      streamPart({ part: part(file), read: { batchRows: 200, maxRowBytes: 1 << 20 }, stages: ident, window: 2, stats, ...(withWritten ? { written } : {}) }).pipe(
        // The writer: queues what it is given, as sinkPart's chain does, and writes a batch per 5 ms.
        concatMap(async (b) => {
          max = Math.max(max, stats.get('streamPart.batches') - done);
          await sleep(5);
          done++;
          written.next();
          return b.items.length;
        }),
        toArray(),
      ),
    );
    assert.equal(out.reduce((a, n) => a + n, 0), 20_000);
    return max;
  };
  const held = await run(true);
  assert.ok(held <= 2, `${held} batches read and not written, window 2`);
  // Control: released when they leave the (instant) stages, batches pile up at the writer.
  const free = await run(false);
  assert.ok(free > 10, `without written only ${free} batches waited for the writer`);
  rmSync(dir, { recursive: true, force: true });
});
