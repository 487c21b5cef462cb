import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { pathToFileURL } from 'node:url';
import { tableFromArrays, tableToIPC } from 'apache-arrow';
import * as pw from 'parquet-wasm/node';
import { pairOutputRow, pairOutputSchema, rejectSchema, tableFromRows } from '../../schemas/output.js';
import type { PairRecord } from '../../schemas/records.js';
import { DuckDb, quoteLiteral } from '../../src/runtime/io/DuckDb.js';
import { ParquetWriter } from '../../src/runtime/io/ParquetWriter.js';
import { ipcBatches } from '../../src/runtime/io/parquetProperties.js';
import { projectRoot } from '../../src/runtime/paths.js';
import { hhRows, tempDir } from '../helpers/badInputs.js';

const pairs = (from: number, n: number) =>
  hhRows()
    .slice(from, from + n)
    .map((r, i): PairRecord => ({ kind: 'pair', sourceFile: 'hh', sourceRow: from + i, pairId: `p${from + i}`, prompt: 'P', chosen: r.chosen, rejected: r.rejected, chosenSafe: null, rejectedSafe: null, category: null, passThrough: {} }));
const table = (from: number, n: number) => tableFromRows(pairOutputSchema, pairs(from, n).map(pairOutputRow));
const sha = (f: string) => createHash('sha256').update(readFileSync(f)).digest('hex');

async function writeShardFile(path: string, chunks: number[], rowGroupRows: number): Promise<void> {
  const w = new ParquetWriter(path, pairOutputSchema, { compression: 'zstd', rowGroupRows, metadata: { producer: 'test' } });
  let from = 0;
  for (const n of chunks) {
    await w.write(table(from, n));
    from += n;
  }
  assert.equal(w.rows, from);
  await w.close();
}

test('writes row groups of rowGroupRows across writes, under .tmp until close; same rows, same bytes', async () => {
  const dir = await tempDir('pw');
  const a = join(dir, 'a.parquet');
  const w = new ParquetWriter(a, pairOutputSchema, { compression: 'zstd', rowGroupRows: 100 });
  await w.write(table(0, 130));
  assert.equal(existsSync(a), false); // nobody sees a partial shard
  await w.write(table(130, 120));
  await w.close();
  assert.equal(existsSync(a), true);
  assert.equal(existsSync(`${a}.tmp`), false);
  await using db = await DuckDb.open({ threads: 1 });
  const groups = await db.all(`SELECT row_group_id AS g, any_value(row_group_num_rows) AS n FROM parquet_metadata(${quoteLiteral(a)}) GROUP BY g ORDER BY g`);
  assert.deepEqual(groups.map((g) => g.n), [100n, 100n, 50n]);
  const rows = await db.all(`SELECT source_row, chosen FROM read_parquet(${quoteLiteral(a)}) ORDER BY source_row`);
  assert.equal(rows.length, 250);
  assert.ok(rows.every((r, i) => r.source_row === BigInt(i) && r.chosen === hhRows()[i].chosen));
  const [{ codec }] = await db.all(`SELECT DISTINCT compression AS codec FROM parquet_metadata(${quoteLiteral(a)})`);
  assert.equal(codec, 'ZSTD');
  // The same rows written in other chunk sizes give the same bytes (row groups depend on rowGroupRows alone).
  await writeShardFile(join(dir, 'b.parquet'), [250], 100);
  await writeShardFile(join(dir, 'c.parquet'), [250], 100);
  await writeShardFile(join(dir, 'd.parquet'), [1, 99, 150], 100);
  assert.equal(sha(join(dir, 'b.parquet')), sha(join(dir, 'c.parquet')));
  assert.equal(sha(join(dir, 'b.parquet')), sha(join(dir, 'd.parquet')));
  const [{ v }] = await db.all(`SELECT decode(value) AS v FROM parquet_kv_metadata(${quoteLiteral(join(dir, 'b.parquet'))}) WHERE decode(key) = 'producer'`);
  assert.equal(v, 'test');
});

test('a writer with no rows writes a schema-only file DuckDB reads as empty', async () => {
  const dir = await tempDir('pw-empty');
  const f = join(dir, 'e.parquet');
  const w = new ParquetWriter(f, rejectSchema, { compression: 'snappy', rowGroupRows: 10 });
  await w.write(tableFromRows(rejectSchema, []));
  await w.close();
  await using db = await DuckDb.open({ threads: 1 });
  const cols = await db.all(`SELECT column_name AS c, column_type AS t FROM (DESCRIBE SELECT * FROM read_parquet(${quoteLiteral(f)}))`);
  assert.deepEqual(cols.map((c) => c.c), ['source_file', 'source_row', 'reason', 'raw']);
  const [{ n }] = await db.all(`SELECT count(*) AS n FROM read_parquet(${quoteLiteral(f)})`);
  assert.equal(n, 0n);
});

test('abort removes the temporary file and leaves no shard; write after close is refused', async () => {
  const dir = await tempDir('pw-abort');
  const f = join(dir, 'x.parquet');
  const w = new ParquetWriter(f, pairOutputSchema, { compression: 'zstd', rowGroupRows: 50 });
  await w.write(table(0, 200));
  await w.abort();
  assert.equal(existsSync(`${f}.tmp`), false);
  assert.equal(existsSync(f), false);
  const v = new ParquetWriter(join(dir, 'y.parquet'), pairOutputSchema, { compression: 'none', rowGroupRows: 50 });
  await v.write(table(0, 3));
  await v.close();
  await assert.rejects(v.write(table(0, 3)), /write after close/);
});

test('writers open at once share the encoder worker and each file has its own bytes, the same as written alone', async () => {
  const dir = await tempDir('pw-shared');
  await writeShardFile(join(dir, 'alone-a.parquet'), [40, 60], 30);
  await writeShardFile(join(dir, 'alone-b.parquet'), [25, 25], 30);
  const opts = { compression: 'zstd', rowGroupRows: 30, metadata: { producer: 'test' } } as const;
  const a = new ParquetWriter(join(dir, 'a.parquet'), pairOutputSchema, opts);
  const b = new ParquetWriter(join(dir, 'b.parquet'), pairOutputSchema, opts);
  // Interleaved, with writes in flight on both: the encoder keeps the files apart by writer.
  await Promise.all([a.write(table(0, 40)), b.write(table(0, 25))]);
  await Promise.all([b.write(table(25, 25)), a.write(table(40, 60))]);
  await Promise.all([a.close(), b.close()]);
  assert.equal(sha(join(dir, 'a.parquet')), sha(join(dir, 'alone-a.parquet')));
  assert.equal(sha(join(dir, 'b.parquet')), sha(join(dir, 'alone-b.parquet')));
});

test('a file the encoder cannot write fails its writer with the reason; the other files go on', async () => {
  const dir = await tempDir('pw-fail');
  const bad = new ParquetWriter(join(dir, 'missing-folder', 'x.parquet'), pairOutputSchema, { compression: 'zstd', rowGroupRows: 50 });
  const good = new ParquetWriter(join(dir, 'ok.parquet'), pairOutputSchema, { compression: 'zstd', rowGroupRows: 50 });
  await good.write(table(0, 20));
  const failed = (async () => {
    await bad.write(table(0, 20));
    await bad.write(table(20, 20));
    await bad.close();
  })();
  await assert.rejects(failed, /ENOENT/);
  await bad.abort();
  await good.write(table(20, 20));
  await good.close();
  await using db = await DuckDb.open({ threads: 1 });
  const [{ n }] = await db.all(`SELECT count(*) AS n FROM read_parquet(${quoteLiteral(join(dir, 'ok.parquet'))})`);
  assert.equal(n, 40n);
});

test('a writer left open does not keep a finished process alive (the encoder worker holds it only while waited on)', async () => {
  const dir = await tempDir('pw-leak');
  const url = (p: string) => JSON.stringify(pathToFileURL(join(projectRoot(), 'dist', p)).href);
  const script = `
    const { ParquetWriter } = await import(${url('src/runtime/io/ParquetWriter.js')});
    const { pairOutputSchema, pairOutputRow, tableFromRows } = await import(${url('schemas/output.js')});
    const row = { kind: 'pair', sourceFile: 'x', sourceRow: 0, pairId: 'p', prompt: 'P', chosen: 'a', rejected: 'b', chosenSafe: null, rejectedSafe: null, category: null, passThrough: {} };
    const w = new ParquetWriter(${JSON.stringify(join(dir, 'left-open.parquet'))}, pairOutputSchema, { compression: 'zstd', rowGroupRows: 10 });
    await w.write(tableFromRows(pairOutputSchema, [pairOutputRow(row)]));
    console.log('written');`;
  // A file, not -e: a module given with -e ends its process when it is evaluated, handles or not.
  const file = join(dir, 'left-open.mjs');
  writeFileSync(file, script);
  const child = spawn(process.execPath, [file], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  child.stdout.on('data', (d) => (out += d));
  const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
  const [code, signal] = (await once(child, 'exit')) as [number | null, string | null];
  clearTimeout(timer);
  assert.equal(signal, null, 'the process did not exit by itself');
  assert.equal(code, 0);
  assert.equal(out.trim(), 'written');
});

test('ipcBatches frees the Table it decodes: parquet-wasm memory stays flat over many batches', () => {
  // About 0.8 MB of text a batch. Without the free, every call left its Table in wasm memory (the
  // loop is synchronous, so no finalizer can run): 200 calls grew it by about 160 MB.
  const ipc = tableToIPC(tableFromArrays({ text: Array.from({ length: 2000 }, (_, i) => `${'x'.repeat(400)} ${i}`) }), 'stream');
  const consume = () => {
    const batches = ipcBatches(ipc);
    assert.equal(batches.reduce((n, b) => n + b.numRows, 0), 2000);
    for (const b of batches) b.free(); // as the encoder's stream consumes them
  };
  for (let i = 0; i < 10; i++) consume(); // wasm memory grows once to its working size
  const before = pw.wasmMemory().buffer.byteLength;
  for (let i = 0; i < 200; i++) consume();
  const grownMiB = (pw.wasmMemory().buffer.byteLength - before) / 2 ** 20;
  assert.ok(grownMiB < 16, `parquet-wasm memory grew ${grownMiB.toFixed(0)} MiB over 200 batches of 0.8 MB`);
});
