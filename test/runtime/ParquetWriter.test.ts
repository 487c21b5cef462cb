import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { existsSync, openAsBlob, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { pathToFileURL } from 'node:url';
import { tableFromArrays, tableFromIPC } from 'apache-arrow';
import * as pw from 'parquet-wasm/node';
import { featureSchema, featureTable, type FeatureRow } from '../../schemas/features.js';
import { listOutputSchema, pairOutputRow, pairOutputSchema, rejectSchema, tableFromRows } from '../../schemas/output.js';
import type { PairRecord } from '../../schemas/records.js';
import { DuckDb, quoteLiteral } from '../../src/runtime/io/DuckDb.js';
import { ParquetWriter } from '../../src/runtime/io/ParquetWriter.js';
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

test('writers open at once each get an encoder worker and each file has its own bytes, the same as written alone', async () => {
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

/** Every value of a Parquet file as JSON-able rows, read by parquet-wasm (not the writer's DuckDB). */
async function readBack(file: string): Promise<Record<string, unknown>[]> {
  const pf = await pw.ParquetFile.fromFile(await openAsBlob(file));
  try {
    const t = tableFromIPC((await pf.read()).intoIPCStream());
    const plain = (v: unknown): unknown => (v instanceof Float32Array || (v && typeof v === 'object' && 'toArray' in v) ? [...(v as { toArray(): Iterable<unknown> }).toArray()].map(plain) : v);
    return t.toArray().map((r) => Object.fromEntries(Object.entries(r.toJSON()).map(([k, v]) => [k, plain(v)])));
  } finally {
    pf.free();
  }
}

test('every column type of the shard schemas goes through the encoder unchanged: nulls, lists, empty and long texts, any batch sizes', async () => {
  const dir = await tempDir('pw-types');
  const texts = ['', 'short', 'exactly12byt', 'thirteen byte', 'é🙂 ünïcode spanning the inline limit', 'x'.repeat(5000)];
  // Lists: null labels, null items, empty lists; 7,000 rows so chunks span batches and row groups.
  const lists = Array.from({ length: 7000 }, (_, i) => ({
    prompt: texts[i % texts.length],
    responses: Array.from({ length: i % 4 }, (_, j) => texts[(i + j) % texts.length]),
    labels: i % 5 === 0 ? null : Array.from({ length: i % 4 }, (_, j) => ((i + j) % 3 === 0 ? null : (i + j) % 2 === 0)),
    list_id: `l${i}`,
    source_file: 'f',
    source_row: BigInt(i) * 1_000_000_007n,
    category: i % 3 === 0 ? null : texts[i % texts.length],
  }));
  const features: FeatureRow[] = Array.from({ length: 3000 }, (_, i) => ({
    pairId: `p${i}`,
    role: i % 2 ? 'rejected' : 'chosen',
    responseIndex: i % 7 === 0 ? null : i,
    sourceFile: 'f',
    sourceRow: i,
    embedding: { features: Float32Array.from({ length: 1 + (i % 9) }, (_, j) => Math.fround(i * 0.5 - j / 3)), layers: 1, width: 1 + (i % 9), tokens: i % 100, truncated: i % 11 === 0 },
  }));
  const cases = [
    { schema: listOutputSchema, table: (a: number, b: number) => tableFromRows(listOutputSchema, lists.slice(a, b)), n: lists.length, expect: lists },
    { schema: featureSchema, table: (a: number, b: number) => featureTable(features.slice(a, b)), n: features.length, expect: null },
  ];
  for (const [k, c] of cases.entries()) {
    const files = [join(dir, `${k}-a.parquet`), join(dir, `${k}-b.parquet`)];
    // The same rows in two batchings: 1-row and odd-sized tables, then one table.
    const w = new ParquetWriter(files[0], c.schema, { compression: 'zstd', rowGroupRows: 2500 });
    for (let a = 0, step = 1; a < c.n; a += step, step = (step * 7 + 3) % 1500 || 1) await w.write(c.table(a, Math.min(c.n, a + step)));
    await w.close();
    const v = new ParquetWriter(files[1], c.schema, { compression: 'zstd', rowGroupRows: 2500 });
    await v.write(c.table(0, c.n));
    await v.close();
    assert.equal(sha(files[0]), sha(files[1]));
    const back = await readBack(files[0]);
    assert.equal(back.length, c.n);
    if (c.expect) assert.deepEqual(back, c.expect.map((r) => ({ ...r, source_row: r.source_row })));
    else
      back.forEach((r, i) => {
        const f = features[i];
        assert.deepEqual(
          [r.pair_id, r.role, r.response_index, r.source_row, r.tokens, r.truncated, r.features],
          [f.pairId, f.role, f.responseIndex, BigInt(f.sourceRow), f.embedding.tokens, f.embedding.truncated, [...f.embedding.features]],
        );
      });
  }
});

test('a column type no shard schema uses is refused by name, and the writer fails without hanging', async () => {
  const dir = await tempDir('pw-type');
  const t = tableFromArrays({ when: new Uint16Array([1, 2]) });
  const w = new ParquetWriter(join(dir, 'u.parquet'), t.schema, { compression: 'zstd', rowGroupRows: 10 });
  await assert.rejects(
    (async () => {
      await w.write(t);
      await w.write(t);
      await w.write(t);
      await w.close();
    })(),
    /column when: the Parquet writer does not write Arrow type Uint16/,
  );
  await w.abort();
  assert.equal(existsSync(join(dir, 'u.parquet.tmp')), false);
});

test('a row group also ends at ROW_GROUP_BYTES of data, so long rows cannot make the writer hold rowGroupRows of them', async () => {
  const dir = await tempDir('pw-bytes');
  const f = join(dir, 'long.parquet');
  // 80 rows of 1 MiB of text (distinct, so no dictionary hides them): above 64 MiB, below rowGroupRows.
  const w = new ParquetWriter(f, rejectSchema, { compression: 'zstd', rowGroupRows: 100_000 });
  for (let i = 0; i < 80; i += 8)
    await w.write(tableFromRows(rejectSchema, Array.from({ length: 8 }, (_, j) => ({ source_file: 'f', source_row: BigInt(i + j), reason: `${i + j}`, raw: `${i + j} `.padEnd(2 ** 20, String.fromCharCode(97 + ((i + j) % 26))) }))));
  await w.close();
  await using db = await DuckDb.open({ threads: 1 });
  const groups = await db.all(`SELECT row_group_id AS g, any_value(row_group_num_rows) AS n FROM parquet_metadata(${quoteLiteral(f)}) GROUP BY g ORDER BY g`);
  assert.ok(groups.length >= 2, `one row group of ${groups[0].n} rows`);
  assert.ok(groups.every((g) => Number(g.n) < 80));
  const rows = await db.all(`SELECT source_row, left(raw, 3) AS head FROM read_parquet(${quoteLiteral(f)})`);
  assert.deepEqual(rows.map((r) => r.source_row), Array.from({ length: 80 }, (_, i) => BigInt(i))); // in order
  assert.equal(rows[42].head, '42 ');
});
