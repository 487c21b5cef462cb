import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { test } from 'node:test';
import { gzipSync } from 'node:zlib';
import type { PartRef, ReadItem } from '../../schemas/records.js';
import { InputFileError } from '../../src/runtime/errors.js';
import { readPartRows } from '../../src/runtime/io/readers.js';
import { hhParquetTable, hhRows, tempDir, writeParquetFile } from '../helpers/badInputs.js';

const jsonl = (file: string): PartRef => ({ index: 0, count: 1, file, source: basename(file), format: 'jsonl', rowGroups: null, firstRow: 0 });
const parquet = (file: string, rowGroups: [number, number] | null = null, firstRow = 0): PartRef => ({ index: 0, count: 1, file, source: basename(file), format: 'parquet', rowGroups, firstRow });

async function readAll(part: PartRef, batchRows = 1000, maxRowBytes = 1 << 24): Promise<ReadItem[][]> {
  const out: ReadItem[][] = [];
  for await (const b of readPartRows(part, { batchRows, maxRowBytes })) out.push(b);
  return out;
}

test('JSONL: batches of batchRows, source rows are line numbers, blank lines skipped, gzip by magic bytes', async () => {
  const dir = await tempDir('readers-jsonl');
  const hh = hhRows().slice(0, 7);
  const text = hh.map((r, i) => JSON.stringify(r) + (i === 2 ? '\n\n  ' : '')).join('\n'); // a blank and a spaces-only line, no final newline
  writeFileSync(join(dir, 'a.jsonl'), text);
  writeFileSync(join(dir, 'a.jsonl.gz'), gzipSync(text));
  writeFileSync(join(dir, 'gz-without-extension.jsonl'), gzipSync(text));
  for (const f of ['a.jsonl', 'a.jsonl.gz', 'gz-without-extension.jsonl']) {
    const batches = await readAll(jsonl(join(dir, f)), 3);
    assert.deepEqual(batches.map((b) => b.length), [3, 3, 1], f);
    const items = batches.flat();
    assert.deepEqual(items.map((it) => it.sourceRow), [0, 1, 2, 5, 6, 7, 8], f);
    assert.ok(items.every((it) => it.kind === 'raw' && it.sourceFile === f));
    assert.deepEqual(items.map((it) => (it.kind === 'raw' ? it.row : null)), hh, f);
  }
  assert.deepEqual(await readAll(jsonl(join(dir, 'a.jsonl'))).then((b) => b.length), 1);
});

test('JSONL: invalid UTF-8, invalid JSON, non-objects and too-long lines become rejects in place', async () => {
  const dir = await tempDir('readers-bad');
  const file = join(dir, 'bad.jsonl');
  writeFileSync(
    file,
    Buffer.concat([
      Buffer.from('{"a": 1}\n'),
      Buffer.from([0x7b, 0x22, 0x61, 0x22, 0x3a, 0x22, 0xff, 0xfe, 0x22, 0x7d, 0x0a]), // {"a":"\xff\xfe"}
      Buffer.from('{"a": \n'),
      Buffer.from('[1, 2]\n'),
      Buffer.from('"text"\n'),
      Buffer.from(`{"a": "${'x'.repeat(5000)}"}\n`),
      Buffer.from('{"a": 2}'),
    ]),
  );
  const items = (await readAll(jsonl(file), 100, 1024)).flat();
  assert.deepEqual(
    items.map((it) => [it.sourceRow, it.kind === 'reject' ? it.reason : 'raw']),
    [[0, 'raw'], [1, 'invalid UTF-8'], [2, 'invalid JSON'], [3, 'not a JSON object'], [4, 'not a JSON object'], [5, 'row too large'], [6, 'raw']],
  );
  const tooLong = items[5];
  assert.ok(tooLong.kind === 'reject' && tooLong.raw === '(5009 bytes; limit 1024)', JSON.stringify(tooLong));
  // The reject keeps a preview of the bad bytes.
  assert.ok(items[1].kind === 'reject' && items[1].raw.startsWith('{"a":"'));
});

test('JSONL: an empty file has no batches; a cut gzip keeps the lines before the damage and rejects the rest once', async () => {
  const dir = await tempDir('readers-empty');
  writeFileSync(join(dir, 'empty.jsonl'), '');
  assert.deepEqual(await readAll(jsonl(join(dir, 'empty.jsonl'))), []);
  const text = hhRows().slice(0, 50).map((r) => JSON.stringify(r)).join('\n');
  const gz = gzipSync(Buffer.from(text));
  writeFileSync(join(dir, 'cut.jsonl.gz'), gz.subarray(0, gz.length >> 1));
  const items = (await readAll(jsonl(join(dir, 'cut.jsonl.gz')), 7)).flat();
  const raws = items.filter((it) => it.kind === 'raw');
  const last = items.at(-1)!;
  assert.ok(raws.length > 5 && raws.length < 50, `${raws.length} rows kept`);
  assert.deepEqual(raws.map((r) => r.sourceRow), Array.from({ length: raws.length }, (_, i) => i));
  assert.ok(last.kind === 'reject' && last.reason === `damaged input: the gzip stream breaks after line ${raws.length}` && last.sourceRow === raws.length, JSON.stringify(last));
  // Bytes that are not gzip at all after a gzip header: the same, from the first line.
  writeFileSync(join(dir, 'junk.jsonl.gz'), Buffer.concat([gz.subarray(0, 10), Buffer.alloc(64, 7)]));
  const junk = (await readAll(jsonl(join(dir, 'junk.jsonl.gz')))).flat();
  assert.deepEqual(junk.map((it) => [it.kind, it.sourceRow]), [['reject', 0]]);
});

test('Parquet: reads only the part\'s row groups, numbering rows from firstRow; values become plain JS', async () => {
  const dir = await tempDir('readers-parquet');
  const hh = hhRows().slice(0, 25);
  const file = join(dir, 'hh.parquet');
  writeParquetFile(file, hhParquetTable(hh), 10); // groups 10 10 5
  const all = (await readAll(parquet(file), 4)).flat();
  assert.equal(all.length, 25);
  all.forEach((it, i) => {
    assert.equal(it.kind, 'raw');
    assert.equal(it.sourceRow, i);
    assert.deepEqual(it.kind === 'raw' && it.row, { chosen: hh[i].chosen, rejected: hh[i].rejected, subset: 'harmless-base', n: BigInt(i) });
  });
  const tail = await readAll(parquet(file, [1, 3], 10), 4);
  assert.ok(tail.every((b) => b.length <= 4));
  assert.deepEqual(tail.flat().map((it) => it.sourceRow), Array.from({ length: 15 }, (_, i) => 10 + i));
  assert.deepEqual(tail.flat().map((it) => it.kind === 'raw' && it.row.n), Array.from({ length: 15 }, (_, i) => BigInt(10 + i)));
});

test('Parquet: truncated, not Parquet, and empty files fail with an InputFileError naming the file', async () => {
  const dir = await tempDir('readers-parquet-bad');
  const good = join(dir, 'good.parquet');
  writeParquetFile(good, hhParquetTable(hhRows().slice(0, 20)), 5);
  const bytes = readFileSync(good);
  writeFileSync(join(dir, 'truncated.parquet'), bytes.subarray(0, bytes.length - 100));
  writeFileSync(join(dir, 'text.parquet'), '{"chosen": "x"}\n');
  writeFileSync(join(dir, 'empty.parquet'), '');
  for (const f of ['truncated.parquet', 'text.parquet', 'empty.parquet']) {
    await assert.rejects(readAll(parquet(join(dir, f))), (e) => e instanceof InputFileError && e.message.startsWith(`${f}: not a readable Parquet file`), f);
  }
});

test('Parquet: lists and structs become arrays and objects', async () => {
  const { Field, List, Struct, Utf8 } = await import('apache-arrow');
  const { arrowTable } = await import('../helpers/badInputs.js');
  const dir = await tempDir('readers-nested');
  const msg = new Struct([new Field('role', new Utf8()), new Field('content', new Utf8())]);
  const chosen = [[{ role: 'user', content: 'q' }, { role: 'assistant', content: 'a' }]];
  writeParquetFile(join(dir, 'conv.parquet'), arrowTable({ chosen: { type: new List(new Field('item', msg, true)), values: chosen }, tags: { type: new List(new Field('item', new Utf8(), true)), values: [['x', null]] } }));
  const [[it]] = await readAll(parquet(join(dir, 'conv.parquet')));
  assert.deepEqual(it.kind === 'raw' && it.row, { chosen: chosen[0], tags: ['x', null] });
});

test('Parquet from another writer (DuckDB): timestamps, decimals, maps, integers and a row-group range come through as plain values (BIGINT as bigint)', async () => {
  const { DuckDb } = await import('../../src/runtime/io/DuckDb.js');
  const dir = await tempDir('readers-exotic');
  const file = join(dir, 'exotic.parquet');
  {
    await using db = await DuckDb.open({ threads: 1 });
    await db.exec(
      `COPY (SELECT 'good ' || r AS chosen, TIMESTAMP '2024-01-02 03:04:05' + INTERVAL (r) HOUR AS ts, (r * 1.25)::DECIMAL(10, 2) AS price,
             MAP {'k': r} AS m, r AS big FROM range(5000) t(r)) TO '${file}' (FORMAT parquet, ROW_GROUP_SIZE 2048)`,
    );
  }
  const rows = (await readAll(parquet(file))).flat().map((it) => (it.kind === 'raw' ? it.row : null));
  assert.equal(rows.length, 5000);
  assert.deepEqual(rows[1], { chosen: 'good 1', ts: new Date('2024-01-02T04:04:05Z'), price: 1.25, m: [{ key: 'k', value: 1n }], big: 1n });
  // The second row group alone (rows 2048..4095), numbered from its first row; a range the file
  // does not have is an error naming it.
  const items = (await readAll(parquet(file, [1, 2], 2048))).flat();
  assert.equal(items.length, 2048);
  assert.deepEqual([items[0].sourceRow, items[0].kind === 'raw' && items[0].row.chosen], [2048, 'good 2048']);
  assert.deepEqual([items[2047].sourceRow, items[2047].kind === 'raw' && items[2047].row.chosen], [4095, 'good 4095']);
  await assert.rejects(readAll(parquet(file, [2, 9], 0)), /exotic\.parquet: not a readable Parquet file: row groups \[2, 9\) out of range: the file has 3/);
});

test('Parquet text columns cross as UTF-8 bytes and come back exact: nulls, empty, inline (up to 12 bytes) and longer, non-ASCII, long runs and dictionary repeats, in batches across DuckDB\'s chunks', async () => {
  const { DuckDb } = await import('../../src/runtime/io/DuckDb.js');
  const dir = await tempDir('readers-text');
  const file = join(dir, 'text.parquet');
  // Rows cycle through edge cases; 5,000 rows span three DuckDB chunks of 2,048, and batches of 700 cut across them.
  const cases = ['', 'short', 'x'.repeat(12), 'y'.repeat(13), 'héllo wörld, 漢字 and 🎉 ', 'line one\nline two\u0000after a NUL', null];
  const expected = (r: number) => {
    const c = cases[r % cases.length];
    return c === null ? null : c.length > 13 ? `${c}${r}` : c;
  };
  // `u`: a long string of its own on every row, so whole chunks of strings lie back to back in
  // DuckDB's memory (copied as runs); `d`: three long strings over and over, which DuckDB writes as
  // a dictionary, so the strings of neighbouring rows are not neighbours in memory.
  const unique = (r: number) => `row ${r}: ${'ü'.repeat(r % 17)} unique text`;
  const repeated = (r: number) => `repeated text number ${r % 3} ${'é'.repeat(r % 3)}`;
  {
    await using db = await DuckDb.open({ threads: 1 });
    await db.exec(`CREATE TABLE t (r BIGINT, s VARCHAR)`);
    const values = Array.from({ length: 5000 }, (_, r) => {
      const v = expected(r);
      return `(${r}, ${v === null ? 'NULL' : `'${v.replace(/'/g, "''").replace(/\u0000/g, "' || chr(0) || '")}'`})`;
    });
    await db.exec(`INSERT INTO t VALUES ${values.join(', ')}`);
    await db.exec(
      `COPY (SELECT s, r, 'row ' || r || ': ' || repeat('ü', (r % 17)::INT) || ' unique text' AS u, 'repeated text number ' || (r % 3) || ' ' || repeat('é', (r % 3)::INT) AS d FROM t ORDER BY r) TO '${file}' (FORMAT parquet, ROW_GROUP_SIZE 3000)`,
    );
  }
  const batches = await readAll(parquet(file), 700);
  assert.ok(batches.every((b) => b.length <= 700));
  const rows = batches.flat().map((it) => (it.kind === 'raw' ? it.row : null));
  assert.equal(rows.length, 5000);
  rows.forEach((row, r) => assert.deepEqual(row, { s: expected(r), r: BigInt(r), u: unique(r), d: repeated(r) }, `row ${r}`));
});

test('Parquet damaged in a later row group: the read fails naming the file and DuckDB\'s reason, never ends early as if the file were done', async () => {
  // DuckDB reads ahead, so a damaged page can end its stream early without an error; the reader
  // must notice the missing rows (parquetWorker.cutShort). 50k rows in row groups of 5k, 16 bytes
  // flipped inside the last row group's `chosen` page: before the check, the stream ended after
  // 26,624 rows and the reader reported a whole file.
  const { DuckDb } = await import('../../src/runtime/io/DuckDb.js');
  const dir = await tempDir('readers-damaged-late');
  const file = join(dir, 'late.parquet');
  let page: { offset: number; size: number };
  {
    await using db = await DuckDb.open({ threads: 1 });
    await db.exec(
      `COPY (SELECT 'prompt ' || i AS prompt, 'chosen ' || i || repeat('x', i % 300) AS chosen, 'rejected ' || i AS rejected FROM range(50000) r(i))
       TO '${file}' (FORMAT parquet, ROW_GROUP_SIZE 5000, COMPRESSION snappy)`,
    );
    const meta = await db.all(`SELECT data_page_offset AS o, total_compressed_size AS n FROM parquet_metadata('${file}') WHERE column_id = 1 ORDER BY row_group_id DESC LIMIT 1`);
    page = { offset: Number(meta[0].o), size: Number(meta[0].n) };
  }
  const bytes = readFileSync(file);
  for (let k = 0; k < 16; k++) bytes[page.offset + (page.size >> 1) + k] ^= 0xff;
  writeFileSync(file, bytes);
  let rows = 0;
  await assert.rejects(
    (async () => {
      for await (const b of readPartRows(parquet(file), { batchRows: 1000, maxRowBytes: 1 << 24 })) rows += b.length;
    })(),
    (e) => e instanceof InputFileError && /^late\.parquet: Parquet read failed at row \d+: .*Snappy decompression failure.*stream stopped at row \d+, before the part's end at row 50000/.test(e.message),
  );
  assert.ok(rows < 50000, `${rows} rows`);
});

test('Arrow IPC stream cut between two record batches: fails naming the file, never reads as a shorter whole file', async () => {
  const { Table, tableFromArrays, tableToIPC } = await import('apache-arrow');
  const dir = await tempDir('readers-arrow-cut');
  const n = 300;
  const batch = tableFromArrays({
    prompt: Array.from({ length: n }, (_, i) => `prompt ${i}`),
    chosen: Array.from({ length: n }, (_, i) => `chosen ${i}`),
    rejected: Array.from({ length: n }, (_, i) => `rejected ${i}`),
  }).batches[0];
  const batches = [batch.slice(0, 100), batch.slice(100, 200), batch.slice(200, 300)];
  const whole = Buffer.from(tableToIPC(new Table(batches), 'stream'));
  const two = Buffer.from(tableToIPC(new Table(batches.slice(0, 2)), 'stream'));
  // The first two batches of the whole stream are the two-batch stream without its 8-byte end marker.
  assert.ok(whole.subarray(0, two.length - 8).equals(two.subarray(0, two.length - 8)));
  const arrow = (file: string): PartRef => ({ index: 0, count: 1, file, source: basename(file), format: 'arrow', rowGroups: null, firstRow: 0 });
  writeFileSync(join(dir, 'whole.arrow'), whole);
  writeFileSync(join(dir, 'cut.arrow'), whole.subarray(0, two.length - 8));
  writeFileSync(join(dir, 'mid.arrow'), whole.subarray(0, two.length + 100));
  assert.equal((await readAll(arrow(join(dir, 'whole.arrow')))).flat().length, 300);
  await assert.rejects(readAll(arrow(join(dir, 'cut.arrow'))), (e) => e instanceof InputFileError && /^cut\.arrow: not a readable Arrow IPC file: the Arrow stream is cut short: it ends after \d+ messages without its end-of-stream marker/.test(e.message));
  await assert.rejects(readAll(arrow(join(dir, 'mid.arrow'))), (e) => e instanceof InputFileError && /^mid\.arrow: not a readable Arrow IPC file: the Arrow stream is cut short or damaged inside a message/.test(e.message));
});

test('Arrow IPC text columns cross as their UTF-8 bytes and come back exact: nulls, empty, non-ASCII, record batches of odd sizes cut across by the batches', async () => {
  const { Table, tableToIPC, vectorFromArray, Utf8, Int32 } = await import('apache-arrow');
  const dir = await tempDir('readers-arrow-text');
  const cases = ['', 'short', 'héllo wörld, 漢字 and 🎉', null, 'line\nbreak'];
  const n = 1000;
  const text = Array.from({ length: n }, (_, i) => cases[i % cases.length]);
  const whole = new Table({ s: vectorFromArray(text, new Utf8()), k: vectorFromArray(Array.from({ length: n }, (_, i) => i), new Int32()) }).batches[0];
  // Record batches of 1, 333, 2 and 664 rows; read in batches of 100.
  const cuts = [0, 1, 334, 336, n];
  const file = join(dir, 'text.arrow');
  writeFileSync(file, tableToIPC(new Table(cuts.slice(1).map((end, j) => whole.slice(cuts[j], end))), 'stream'));
  const batches = await readAll({ index: 0, count: 1, file, source: 'text.arrow', format: 'arrow', rowGroups: null, firstRow: 0 }, 100);
  assert.ok(batches.every((b) => b.length <= 100));
  const rows = batches.flat().map((it) => (it.kind === 'raw' ? it.row : null));
  assert.equal(rows.length, n);
  rows.forEach((row, i) => assert.deepEqual(row, { s: text[i], k: i }, `row ${i}`));
});
