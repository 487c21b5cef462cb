import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import { join } from 'node:path';
import { test } from 'node:test';
import { UsageError } from '../../src/runtime/errors.js';
import { expandInputs, jsonlRanges, parquetRanges, sourceNames, parquetRowGroups, partsForRank, planParts, sniffFormat } from '../../src/runtime/io/inputs.js';
import { hhParquetTable, hhRows, tempDir, writeJsonl, writeParquetFile } from '../helpers/badInputs.js';

test('expandInputs: files, folders (recursive, data files only) and globs, de-duplicated, in code-unit order', async () => {
  const dir = await tempDir('inputs');
  mkdirSync(join(dir, 'sub', 'deep'), { recursive: true });
  for (const f of ['b.jsonl', 'B.jsonl', 'a.parquet', 'sub/c.jsonl.gz', 'sub/deep/d.ndjson', 'notes.txt', 'sub/e.csv']) writeFileSync(join(dir, f), '');
  const got = await expandInputs([dir, join(dir, 'b.jsonl'), join(dir, 'sub', '*.gz')]);
  assert.deepEqual(got, ['B.jsonl', 'a.parquet', 'b.jsonl', 'sub/c.jsonl.gz', 'sub/deep/d.ndjson'].map((f) => join(dir, f)));
  assert.deepEqual(await expandInputs([join(dir, '*.jsonl')]), [join(dir, 'B.jsonl'), join(dir, 'b.jsonl')]);
  // A file named explicitly is taken whatever its extension.
  assert.deepEqual(await expandInputs([join(dir, 'notes.txt')]), [join(dir, 'notes.txt')]);
});

test('expandInputs: usage errors name the input', async () => {
  const dir = await tempDir('inputs-err');
  mkdirSync(join(dir, 'empty'));
  await assert.rejects(expandInputs([]), (e) => e instanceof UsageError && /no inputs/.test(e.message));
  await assert.rejects(expandInputs([join(dir, 'nope.jsonl')]), (e) => e instanceof UsageError && e.message === `input not found: ${join(dir, 'nope.jsonl')}`);
  await assert.rejects(expandInputs([join(dir, 'empty')]), (e) => e instanceof UsageError && /input folder has no .parquet\/.arrow\/.jsonl\(.gz\) files/.test(e.message));
  await assert.rejects(expandInputs([join(dir, '*.parquet')]), (e) => e instanceof UsageError && /glob matches no files/.test(e.message));
});

test('sniffFormat and parquetRowGroups: by name, by magic bytes, and unreadable files', async () => {
  const dir = await tempDir('sniff');
  writeParquetFile(join(dir, 'rows.data'), hhParquetTable(hhRows().slice(0, 10)), 4);
  writeJsonl(join(dir, 'x.jsonl'), [{ a: 1 }]);
  writeFileSync(join(dir, 'bad.parquet'), 'not parquet');
  assert.equal(await sniffFormat(join(dir, 'rows.data')), 'parquet');
  assert.equal(await sniffFormat(join(dir, 'x.jsonl')), 'jsonl');
  assert.equal(await sniffFormat(join(dir, 'bad.parquet')), 'parquet');
  assert.deepEqual(await parquetRowGroups(join(dir, 'rows.data')), [4, 4, 2]);
  assert.ok((await parquetRowGroups(join(dir, 'bad.parquet'))) instanceof Error);
});

test('planParts: JSONL whole, Parquet split at row-group boundaries (inside a group larger than the limit), unreadable Parquet one part; ranks share the plan disjointly', async () => {
  const dir = await tempDir('plan');
  const hh = hhRows();
  writeParquetFile(join(dir, 'a.parquet'), hhParquetTable(hh.slice(0, 1000)), 300); // groups 300 300 300 100
  writeParquetFile(join(dir, 'b.parquet'), hhParquetTable(hh.slice(0, 50)), 300);
  writeJsonl(join(dir, 'c.jsonl'), hh.slice(0, 5));
  writeFileSync(join(dir, 'd.parquet'), 'garbage');
  const files = await expandInputs([dir]);
  const parts = await planParts(files, { partRows: 650 });
  assert.deepEqual(
    parts.map((p) => [p.index, p.count, p.file.slice(dir.length + 1), p.format, p.rowGroups, p.firstRow]),
    [
      [0, 5, 'a.parquet', 'parquet', [0, 2], 0],
      [1, 5, 'a.parquet', 'parquet', [2, 4], 600],
      [2, 5, 'b.parquet', 'parquet', null, 0],
      [3, 5, 'c.jsonl', 'jsonl', null, 0],
      [4, 5, 'd.parquet', 'parquet', null, 0],
    ],
  );
  // A limit larger than the file keeps it whole; a limit smaller than a group cuts the group into row ranges.
  assert.deepEqual((await planParts([join(dir, 'a.parquet')], { partRows: 10_000 })).map((p) => p.rowGroups), [null]);
  assert.deepEqual(
    (await planParts([join(dir, 'a.parquet')], { partRows: 250 })).map((p) => [p.rowGroups, p.rowRange ?? null, p.firstRow, p.rows]),
    [
      [[0, 1], [0, 250], 0, 250],
      [[0, 1], [250, 300], 250, 50],
      [[1, 2], [300, 550], 300, 250],
      [[1, 2], [550, 600], 550, 50],
      [[2, 3], [600, 850], 600, 250],
      [[2, 3], [850, 900], 850, 50],
      [[3, 4], null, 900, 100],
    ],
  );
  // The same plan on every rank; rank r takes r, r + n, ...
  const r0 = partsForRank(parts, 0, 2).map((p) => p.index);
  const r1 = partsForRank(parts, 1, 2).map((p) => p.index);
  assert.deepEqual(r0, parts.filter((p) => p.index % 2 === 0).map((p) => p.index));
  assert.deepEqual([...r0, ...r1].sort(), parts.map((p) => p.index));
  assert.deepEqual(partsForRank(parts, 0, 1), parts);
});

test('planParts: a JSON lines file to be cut is announced before it is read through; one kept whole, or gzipped, is not', async () => {
  const dir = await tempDir('plan-note');
  const hh = hhRows().slice(0, 40);
  writeJsonl(join(dir, 'big.jsonl'), hh);
  writeJsonl(join(dir, 'small.jsonl'), hh.slice(0, 1));
  writeFileSync(join(dir, 'big.jsonl.gz'), gzipSync(readFileSync(join(dir, 'big.jsonl'))));
  const notes: string[] = [];
  const parts = await planParts(await expandInputs([dir]), { partRows: 1000, partBytes: 4096, note: (m) => notes.push(m) });
  assert.ok(parts.filter((p) => p.source === 'big.jsonl').length > 1);
  assert.equal(notes.length, 1, notes.join('\n'));
  assert.match(notes[0], /^big\.jsonl: \d+\.\d KiB, read through once to cut it into parts of about 4\.0 KiB at line starts$/);
});

test('sourceNames: relative to the deepest folder holding all files, / separators, whatever the working folder', () => {
  assert.deepEqual(sourceNames([join('/d', 'in', 'a.jsonl'), join('/d', 'in', 'sub', 'b.jsonl')]), ['a.jsonl', 'sub/b.jsonl']);
  assert.deepEqual(sourceNames([join('/d', 'in', 'a.jsonl')]), ['a.jsonl']);
  assert.deepEqual(sourceNames([join('/d', 'x', 'a.jsonl'), join('/d', 'y', 'a.jsonl')]), ['x/a.jsonl', 'y/a.jsonl']);
});

test('jsonlRanges: cuts at line starts, numbers each range\'s first line, counts a last line without a newline', async () => {
  const dir = await tempDir('ranges');
  writeFileSync(join(dir, 'a.jsonl'), 'a\nbb\nccc\n');
  assert.deepEqual(await jsonlRanges(join(dir, 'a.jsonl'), 3), [
    { start: 0, end: 5, firstRow: 0, lines: 2 },
    { start: 5, end: 9, firstRow: 2, lines: 1 },
  ]);
  writeFileSync(join(dir, 'b.jsonl'), 'a\nbb\nccc');
  assert.deepEqual(await jsonlRanges(join(dir, 'b.jsonl'), 3), [
    { start: 0, end: 5, firstRow: 0, lines: 2 },
    { start: 5, end: 8, firstRow: 2, lines: 1 },
  ]);
  // A line longer than the part size is a part of its own, never cut.
  writeFileSync(join(dir, 'c.jsonl'), 'x'.repeat(10) + '\ny\n');
  assert.deepEqual(await jsonlRanges(join(dir, 'c.jsonl'), 4), [
    { start: 0, end: 11, firstRow: 0, lines: 1 },
    { start: 11, end: 13, firstRow: 1, lines: 1 },
  ]);
});

test('parquetRanges: whole row groups up to --part-rows, a larger row group cut into row ranges, one part whole', () => {
  // Small groups gather; the 25-row group is cut at 10 and 20; the groups after it gather again.
  assert.deepEqual(parquetRanges([4, 4, 25, 3, 3, 3], 10), [
    { rowGroups: [0, 2], firstRow: 0, rows: 8 },
    { rowGroups: [2, 3], rowRange: [8, 18], firstRow: 8, rows: 10 },
    { rowGroups: [2, 3], rowRange: [18, 28], firstRow: 18, rows: 10 },
    { rowGroups: [2, 3], rowRange: [28, 33], firstRow: 28, rows: 5 },
    { rowGroups: [3, 6], firstRow: 33, rows: 9 },
  ]);
  // One row group of 1M rows under the default limit is one whole part; over it, parts of the limit.
  assert.deepEqual(parquetRanges([1_000_000], 1_000_000), [{ rowGroups: null, firstRow: 0, rows: 1_000_000 }]);
  assert.deepEqual(
    parquetRanges([250], 100).map((r) => r.rowRange),
    [[0, 100], [100, 200], [200, 250]],
  );
  // A group exactly at the limit is whole; every row is in exactly one part.
  const parts = parquetRanges([10, 7, 30, 10, 1], 10);
  assert.deepEqual(parts.map((p) => p.rows), [10, 7, 10, 10, 10, 10, 1]);
  assert.equal(parts.reduce((s, p) => s + (p.rows ?? 0), 0), 58);
  parts.slice(1).forEach((p, i) => assert.equal(p.firstRow, parts[i].firstRow + parts[i].rows!));
});
