/**
 * `prefrank convert` end to end, as a user runs it (a child process): the bad-input corpus, exit
 * codes, the manifest and the Parquet it writes (counted through DuckDB), determinism, splitting
 * and ranks.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { test } from 'node:test';
import { DuckDb, quoteLiteral } from '../../src/runtime/io/DuckDb.js';
import { projectRoot, sharedHhFile } from '../../src/runtime/paths.js';
import { hhParquetTable, hhRows, makeBadCorpus, readManifest, runCli, tempDir, writeJsonl, writeParquetFile, type CliResult } from '../helpers/badInputs.js';

const sha = (file: string) => createHash('sha256').update(readFileSync(file)).digest('hex');

/** sha256 of every file under out/{data,rejects}, keyed by relative path. */
function shardHashes(out: string): Record<string, string> {
  const hashes: Record<string, string> = {};
  for (const d of ['data', 'rejects']) {
    if (!existsSync(join(out, d))) continue;
    for (const f of readdirSync(join(out, d)).sort()) hashes[`${d}/${f}`] = sha(join(out, d, f));
  }
  return hashes;
}

function allFiles(dir: string): string[] {
  return readdirSync(dir, { recursive: true, encoding: 'utf8' }).map((f) => join(dir, f));
}

const pq = (out: string, sub: string) => `read_parquet(${quoteLiteral(join(out, sub, '*.parquet'))}, union_by_name = true)`;

/** A failure ends in lines a user reads, never a stack trace. */
function assertNoStack(r: CliResult): void {
  assert.doesNotMatch(r.stderr, /^\s+at /m, r.stderr);
  assert.doesNotMatch(r.stderr, /internal error/, r.stderr);
}

test('bad-input corpus: each row gets its reason, every row is accounted for, unreadable files fail alone, exit 1, same bytes twice', async () => {
  const root = await tempDir('cli-corpus');
  const files = makeBadCorpus(root);
  const [r1, r2] = await Promise.all([runCli(['convert', 'corpus', '--out', 'out1'], root), runCli(['convert', 'corpus', '--out', 'out2'], root)]);
  const out = join(root, 'out1');

  assert.equal(r1.code, 1, r1.stderr);
  assert.equal(r2.code, 1, r2.stderr);
  assertNoStack(r1);
  assert.equal(r1.stdout, '');
  // Outputs and messages name a file relative to the folder holding all inputs (corpus/), whatever
  // the working folder.
  const shown = (name: string) => name.replace(/^corpus\//, '');
  // One line per unreadable file, naming it and why.
  const lines = r1.stderr.split('\n');
  for (const f of files.filter((f) => f.fails)) {
    const naming = lines.filter((l) => l.includes(shown(f.name)));
    assert.equal(naming.length, 1, `${f.name}: ${naming.join(' | ')}`);
    assert.match(naming[0], f.fails!);
  }

  // manifest.json: one shard per file in sorted order, with its counts, or failed with the file named.
  const m = readManifest(out);
  assert.equal(m.shards.length, files.length);
  assert.equal(m.totals.parts, files.length);
  assert.equal(m.totals.failedParts, files.filter((f) => f.fails).length);
  files.forEach((f, i) => {
    const s = m.shards[i];
    assert.equal(s.index, i);
    assert.equal(s.input.file, shown(f.name));
    if (f.fails) {
      assert.equal(s.status, 'failed', f.name);
      assert.match(s.error!, f.fails);
      assert.equal(s.output, null);
      assert.equal(existsSync(join(out, 'data', `train-${String(i).padStart(5, '0')}-of-${String(files.length).padStart(5, '0')}.parquet`)), false);
    } else {
      assert.equal(s.status, 'done', `${f.name}: ${s.error}`);
      assert.equal(s.stats.rowsIn, f.rows, f.name);
      assert.equal(s.stats.rowsOut, f.rowsOut, f.name);
      assert.equal(s.stats.rowsRejected, Object.keys(f.rejects).length, f.name);
      assert.equal(s.stats.rowsIn, s.stats.rowsOut + s.stats.rowsRejected, f.name);
      assert.equal(s.outputSha256, sha(join(out, s.output!)));
    }
  });
  const rowsIn = files.reduce((n, f) => n + f.rows, 0);
  const rowsOut = files.reduce((n, f) => n + f.rowsOut, 0);
  const rowsRejected = files.reduce((n, f) => n + Object.keys(f.rejects).length, 0);
  assert.deepEqual([m.totals.rowsIn, m.totals.rowsOut, m.totals.rowsRejected], [rowsIn, rowsOut, rowsRejected]);
  assert.equal(m.totals.rowsIn, m.totals.rowsOut + m.totals.rowsRejected);

  // The Parquet itself, through DuckDB: the exact rejects with reasons, and no row in both folders or in neither.
  {
    await using db = await DuckDb.open({ threads: 1 });
    const [{ n }] = await db.all(`SELECT count(*) AS n FROM ${pq(out, 'data')}`);
    assert.equal(n, BigInt(rowsOut));
    const rejects = await db.all(`SELECT source_file, source_row, reason FROM ${pq(out, 'rejects')} ORDER BY source_file, source_row`);
    const expected = files.flatMap((f) => Object.entries(f.rejects).map(([row, reason]) => ({ source_file: shown(f.name), source_row: BigInt(row), reason })));
    expected.sort((a, b) => (a.source_file < b.source_file ? -1 : a.source_file > b.source_file ? 1 : Number(a.source_row - b.source_row)));
    assert.deepEqual(rejects, expected);
    const rows = await db.all(
      `SELECT source_file, source_row, count(*) AS k FROM (SELECT source_file, source_row FROM ${pq(out, 'data')} UNION ALL SELECT source_file, source_row FROM ${pq(out, 'rejects')}) GROUP BY ALL ORDER BY ALL`,
    );
    assert.equal(rows.length, rowsIn);
    assert.ok(rows.every((r) => r.k === 1n));
    for (const f of files) {
      const seen = rows.filter((r) => r.source_file === shown(f.name)).map((r) => Number(r.source_row));
      assert.deepEqual(seen, Array.from({ length: f.rows }, (_, i) => i), f.name);
    }
    // Pass-through columns survive (Parquet `subset`; JSON lines keep unknown keys as JSON).
    const [{ subset }] = await db.all(`SELECT count(subset) AS subset FROM ${pq(out, 'data')} WHERE source_file = 'good.parquet'`);
    assert.equal(subset, 9n);
  }

  // Nothing temporary is left behind, and a second run writes the same bytes.
  assert.deepEqual(allFiles(out).filter((f) => f.endsWith('.tmp')), []);
  const h1 = shardHashes(out);
  assert.ok(Object.keys(h1).length >= 2 * files.filter((f) => !f.fails).length);
  assert.deepEqual(shardHashes(join(root, 'out2')), h1);
  rmSync(root, { recursive: true, force: true }); // the corpus holds a 5 MB row
});

test('a forced --format names the missing column', async () => {
  const root = await tempDir('cli-format');
  const [a] = hhRows();
  writeJsonl(join(root, 'in.jsonl'), [{ prompt: 'p', chosen: ' c', rejected: ' r' }, { prompt: 'p', chosen: ' c' }, a]);
  // 2 of 3 rows rejected: allowed here, this test is about the reasons
  const r = await runCli(['convert', 'in.jsonl', '--out', 'out', '--format', 'explicit', '--max-reject-rate', '1'], root);
  assert.equal(r.code, 0, r.stderr);
  await using db = await DuckDb.open({ threads: 1 });
  const rejects = await db.all(`SELECT source_row, reason FROM ${pq(join(root, 'out'), 'rejects')} ORDER BY source_row`);
  assert.deepEqual(rejects, [
    { source_row: 1n, reason: 'missing column: rejected' },
    { source_row: 2n, reason: 'missing column: prompt' },
  ]);
  assert.deepEqual(readManifest(join(root, 'out')).totals.rejectsByReason, { 'missing column': 2 });
});

test('real HH-RLHF JSONL.gz: every pair converted, prompt + response = the original dialogue', async () => {
  const root = await tempDir('cli-hh');
  const r = await runCli(['convert', sharedHhFile(), '--out', join(root, 'out')], root);
  assert.equal(r.code, 0, r.stderr);
  assertNoStack(r);
  const hh = hhRows();
  await using db = await DuckDb.open({ threads: 1 });
  const rows = await db.all(`SELECT prompt, chosen, rejected, source_row FROM ${pq(join(root, 'out'), 'data')} ORDER BY source_row`);
  // Four real dialogues end in a blank answer: rejected with the reason, the rest converted.
  const blank = [86, 516, 925, 1103];
  const rejects = await db.all(`SELECT source_row, reason FROM ${pq(join(root, 'out'), 'rejects')} ORDER BY source_row`);
  assert.deepEqual(rejects.map((r) => Number(r.source_row)), blank);
  assert.ok(rejects.every((r) => /^empty text: (chosen|rejected)$/.test(r.reason as string)));
  assert.equal(rows.length, hh.length - blank.length);
  rows.forEach((row) => {
    const i = Number(row.source_row);
    assert.ok(!blank.includes(i));
    assert.equal(row.prompt + (row.chosen as string), hh[i].chosen);
    assert.equal(row.prompt + (row.rejected as string), hh[i].rejected);
    assert.match(row.prompt as string, /\n\nAssistant:$/);
  });
  const m = readManifest(join(root, 'out'));
  assert.deepEqual([m.totals.rowsIn, m.totals.rowsOut, m.totals.rowsRejected], [hh.length, hh.length - blank.length, blank.length]);
  assert.ok(existsSync(join(root, 'out', 'README.md')));
});

test('--part-rows splits a multi-row-group Parquet file into disjoint, complete shards; ranks 0 and 1 of 2 equal one run', async () => {
  const root = await tempDir('cli-split');
  const hh = hhRows();
  writeParquetFile(join(root, 'hh.parquet'), hhParquetTable(hh), 300); // 8 row groups
  const flags = ['--part-rows', '700', '--row-group-rows', '250'];
  const one = await runCli(['convert', 'hh.parquet', '--out', 'one', ...flags], root);
  assert.equal(one.code, 0, one.stderr);
  // Two workers, one after the other, into one folder.
  for (const rank of ['0', '1']) {
    const r = await runCli(['convert', 'hh.parquet', '--out', 'two', ...flags, '--rank', rank, '--world-size', '2'], root);
    assert.equal(r.code, 0, r.stderr);
  }
  const m = readManifest(join(root, 'one'));
  // Row groups of 300 under a 700-row limit: [0,2) [2,4) [4,6) [6,8).
  assert.deepEqual(
    m.shards.map((s) => [s.input.rowGroups, s.stats.rowsIn]),
    [[[0, 2], 600], [[2, 4], 600], [[4, 6], 600], [[6, 8], hh.length - 1800]],
  );
  assert.deepEqual(readManifest(join(root, 'two')).shards.map((s) => s.rank), [0, 1, 0, 1]);
  assert.deepEqual(shardHashes(join(root, 'two')), shardHashes(join(root, 'one')));

  await using db = await DuckDb.open({ threads: 1 });
  // Data and rejects of each shard together hold exactly its rows: disjoint ranges, nothing missing.
  const both = ['data', 'rejects'].map((d) => `SELECT regexp_extract(filename, '[^/]*$') AS shard, source_row FROM read_parquet(${quoteLiteral(join(root, 'one', d, '*.parquet'))}, filename = true)`).join(' UNION ALL ');
  const shards = await db.all(`SELECT shard, min(source_row) AS lo, max(source_row) AS hi, count(*) AS n, count(DISTINCT source_row) AS k FROM (${both}) GROUP BY shard ORDER BY shard`);
  const last = BigInt(hh.length);
  assert.deepEqual(
    shards.map((s) => [s.shard, s.lo, s.hi, s.n, s.k]),
    [
      ['train-00000-of-00004.parquet', 0n, 599n, 600n, 600n],
      ['train-00001-of-00004.parquet', 600n, 1199n, 600n, 600n],
      ['train-00002-of-00004.parquet', 1200n, 1799n, 600n, 600n],
      ['train-00003-of-00004.parquet', 1800n, last - 1n, last - 1800n, last - 1800n],
    ],
  );
  // The pass-through column `n` (the row's own number) matches source_row: the rows are the right ones.
  const [{ bad }] = await db.all(`SELECT count(*) AS bad FROM ${pq(join(root, 'one'), 'data')} WHERE CAST(n AS BIGINT) <> source_row`);
  assert.equal(bad, 0n);
  // Row groups inside a shard follow --row-group-rows.
  const groups = await db.all(`SELECT row_group_num_rows AS r FROM parquet_metadata(${quoteLiteral(join(root, 'one', 'data', 'train-00002-of-00004.parquet'))}) GROUP BY row_group_id, row_group_num_rows ORDER BY row_group_id`);
  assert.deepEqual(groups.map((g) => g.r), [250n, 250n, 100n]);
});

test('--part-rows cuts a Parquet file of one huge row group into row ranges: every row once, the same pairs as one part, ranks agree, a lost part is redone alone', async () => {
  const root = await tempDir('cli-split-group');
  const hh = hhRows().slice(0, 1000);
  writeParquetFile(join(root, 'hh.parquet'), hhParquetTable(hh)); // one row group of 1,000 rows
  const flags = ['--part-rows', '300', '--row-group-rows', '128'];
  const one = await runCli(['convert', 'hh.parquet', '--out', 'one', ...flags], root);
  assert.equal(one.code, 0, one.stderr);
  const m = readManifest(join(root, 'one'));
  assert.deepEqual(
    m.shards.map((s) => [s.input.rowGroups, s.input.rowRange, s.stats.rowsIn]),
    [[[0, 1], [0, 300], 300], [[0, 1], [300, 600], 300], [[0, 1], [600, 900], 300], [[0, 1], [900, 1000], 100]],
  );
  for (const rank of ['0', '1']) {
    const r = await runCli(['convert', 'hh.parquet', '--out', 'two', ...flags, '--rank', rank, '--world-size', '2'], root);
    assert.equal(r.code, 0, r.stderr);
  }
  assert.deepEqual(shardHashes(join(root, 'two')), shardHashes(join(root, 'one')));
  const merged = await runCli(['merge', 'two'], root);
  assert.equal(merged.code, 0, merged.stderr);
  assert.deepEqual(readManifest(join(root, 'two')).shards.map((s) => s.input.rowRange), m.shards.map((s) => s.input.rowRange));
  const whole = await runCli(['convert', 'hh.parquet', '--out', 'whole', '--row-group-rows', '128'], root);
  assert.equal(whole.code, 0, whole.stderr);

  await using db = await DuckDb.open({ threads: 1 });
  // Every source row in exactly one shard, data or rejects, and the row it says it is (`n`).
  const both = ['data', 'rejects'].map((d) => `SELECT source_row FROM read_parquet(${quoteLiteral(join(root, 'one', d, '*.parquet'))})`).join(' UNION ALL ');
  const [rows] = await db.all(`SELECT count(*) AS n, count(DISTINCT source_row) AS k, min(source_row) AS lo, max(source_row) AS hi FROM (${both})`);
  assert.deepEqual([rows.n, rows.k, rows.lo, rows.hi], [1000n, 1000n, 0n, 999n]);
  const [{ bad }] = await db.all(`SELECT count(*) AS bad FROM ${pq(join(root, 'one'), 'data')} WHERE CAST(n AS BIGINT) <> source_row`);
  assert.equal(bad, 0n);
  // The same pairs as the file read as one part.
  const digest = async (out: string) => (await db.all(`SELECT count(*) AS n, bit_xor(hash(pair_id, prompt, chosen, rejected, source_row)) AS h FROM ${pq(join(root, out), 'data')}`))[0];
  assert.deepEqual(await digest('one'), await digest('whole'));
  // sql's shards view names the ranges.
  const view = await runCli(['sql', 'one', 'SELECT row_start, row_end FROM shards ORDER BY "index"', '--format', 'csv'], root);
  assert.equal(view.code, 0, view.stderr);
  assert.deepEqual(view.stdout.trim().split('\n'), ['row_start,row_end', '0,300', '300,600', '600,900', '900,1000']);
  // A part whose record is lost is redone alone, to the same bytes.
  const before = shardHashes(join(root, 'one'));
  rmSync(join(root, 'one', 'completions', '00002.json'));
  const again = await runCli(['convert', 'hh.parquet', '--out', 'one', ...flags], root);
  assert.equal(again.code, 0, again.stderr);
  assert.match(again.stderr, /rank 0\/1 has 4, 3 already complete/);
  assert.deepEqual(shardHashes(join(root, 'one')), before);
});

test('usage errors exit 2 with one line naming the flag', async () => {
  const root = await tempDir('cli-usage');
  writeJsonl(join(root, 'in.jsonl'), [hhRows()[0]]);
  const cases: [string[], RegExp][] = [
    [['convert', 'in.jsonl', '--out', 'o', '--batch-rows', '0'], /--batch-rows must be a positive integer, got 0/],
    [['convert', 'in.jsonl', '--out', 'o', '--format', 'nope'], /format/],
    [['convert', 'in.jsonl'], /out/],
    [['convert', 'missing.jsonl', '--out', 'o'], /input not found: missing\.jsonl/],
    [['convert', 'in.jsonl', '--out', 'o', '--rank', '2', '--world-size', '2'], /--rank must be an integer in \[0, 1\], got 2/],
  ];
  const results = await Promise.all(cases.map(([args]) => runCli(args, root)));
  results.forEach((r, i) => {
    assert.equal(r.code, 2, `${cases[i][0].join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, cases[i][1]);
    assertNoStack(r);
  });
  // Nothing was written for a refused command.
  assert.equal(existsSync(join(root, 'o', 'data')), false);
});

test('convert --help lists the command and its flags', async () => {
  const r = await runCli(['convert', '--help']);
  assert.equal(r.code, 0, r.stderr);
  for (const s of ['convert <inputs..>', '--out', '--format', '--part-rows', '--max-text-chars', '--rank', '--world-size']) assert.ok(r.stdout.includes(s), s);
});

test('the same run from another working folder resumes the same output (inputs are named relative to their own folder)', async () => {
  const dir = await tempDir('convert-cwd');
  mkdirSync(join(dir, 'a', 'in'), { recursive: true });
  writeFileSync(join(dir, 'a', 'in', 'x.jsonl'), hhRows().slice(0, 5).map((r) => JSON.stringify(r)).join('\n') + '\n');
  const out = join(dir, 'out');
  const first = await runCli(['convert', 'in', '--out', out], join(dir, 'a'));
  assert.equal(first.code, 0, first.stderr);
  const again = await runCli(['convert', join('a', 'in'), '--out', out], dir);
  assert.equal(again.code, 0, again.stderr);
  assert.match(again.stderr, /1 shard\(s\); rank 0\/1 has 1, 1 already complete/);
  const m = readManifest(out);
  assert.equal(m.shards[0].input.file, 'x.jsonl');
});

test('a run that writes nothing, or rejects too much, ends non-zero with one line saying why', async () => {
  const dir = await tempDir('convert-yield');
  // A file of single texts (the moderation set's layout): no pair can be made.
  writeFileSync(join(dir, 'texts.jsonl'), Array.from({ length: 6 }, (_, i) => JSON.stringify({ prompt: `text ${i}`, S: 0 })).join('\n') + '\n');
  const texts = await runCli(['convert', join(dir, 'texts.jsonl'), '--out', join(dir, 'a')]);
  assert.equal(texts.code, 1, texts.stderr);
  assert.match(texts.stderr, /^error: no pairs written: all 6 input rows were rejected \(most common reason, 6 rows: unknown format: columns S, prompt\); check the input layout \(--format/m);
  // An empty file.
  writeFileSync(join(dir, 'empty.jsonl'), '');
  const empty = await runCli(['convert', join(dir, 'empty.jsonl'), '--out', join(dir, 'b')]);
  assert.equal(empty.code, 1, empty.stderr);
  assert.match(empty.stderr, /^error: no pairs written: the input has no rows$/m);
  // 6 of 10 rows rejected: over the default 0.5, under 0.7.
  const rows = [...hhRows().slice(0, 4).map((r) => JSON.stringify(r)), ...Array.from({ length: 6 }, (_, i) => JSON.stringify({ prompt: `x${i}` }))];
  writeFileSync(join(dir, 'mixed.jsonl'), rows.join('\n') + '\n');
  const mixed = await runCli(['convert', join(dir, 'mixed.jsonl'), '--out', join(dir, 'c')]);
  assert.equal(mixed.code, 1, mixed.stderr);
  assert.match(mixed.stderr, /^error: 6 of 10 input rows \(60\.0%\) were rejected, more than --max-reject-rate 0\.5 /m);
  const allowed = await runCli(['convert', join(dir, 'mixed.jsonl'), '--out', join(dir, 'd'), '--max-reject-rate', '0.7']);
  assert.equal(allowed.code, 0, allowed.stderr);
  const bad = await runCli(['convert', join(dir, 'mixed.jsonl'), '--out', join(dir, 'e'), '--max-reject-rate', '2']);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /--max-reject-rate must be a number in \[0, 1\], got 2/);
});

test('a cut .jsonl.gz keeps its readable rows, records the damage, and the manifest agrees with the folders', async () => {
  const dir = await tempDir('convert-gz');
  const gz = gzipSync(Buffer.from(hhRows().slice(0, 600).map((r) => JSON.stringify(r)).join('\n')));
  writeFileSync(join(dir, 'cut.jsonl.gz'), gz.subarray(0, Math.floor(gz.length * 0.6)));
  const out = join(dir, 'o');
  const r = await runCli(['convert', join(dir, 'cut.jsonl.gz'), '--out', out]);
  assert.equal(r.code, 1, r.stderr);
  assert.match(r.stderr, /^error: 1 input file\(s\) are damaged: cut\.jsonl\.gz; the rows before the damage were kept/m);
  const m = readManifest(out);
  assert.equal(m.shards[0].status, 'done');
  assert.equal(m.totals.rejectsByReason['damaged input'], 1);
  await using db = await DuckDb.open({ threads: 1 });
  const [c] = await db.all(`SELECT (SELECT count(*) FROM ${pq(out, 'data')}) AS pairs, (SELECT count(*) FROM ${pq(out, 'rejects')}) AS rejects`);
  assert.ok(Number(c.pairs) > 100, `${c.pairs} rows kept`);
  assert.deepEqual([Number(c.pairs), Number(c.rejects)], [m.totals.rowsOut, m.totals.rowsRejected]);
  assert.equal(m.totals.rowsIn, m.totals.rowsOut + m.totals.rowsRejected);
});

test('damaged Parquet files (cut bodies, flipped bytes, broken footers) fail one by one with one line each; the process never dies and the good file is kept', async () => {
  const dir = await tempDir('convert-fuzz');
  const good = readFileSync(join(projectRoot(), 'data', 'sample', 'hh-rlhf-harmless-test-1k.parquet'));
  mkdirSync(join(dir, 'in'));
  writeFileSync(join(dir, 'in', 'good.parquet'), good);
  // Seeded damage of four kinds (a cut body, 16 flipped bytes, a broken footer, 64 bytes scattered
  // anywhere: page headers, dictionary pages), 36 files; some made parquet-wasm panic in the main
  // thread, and a reader must never crash on any.
  let seed = 3;
  const rand = (n: number) => ((seed = (seed * 1103515245 + 12345) % 2 ** 31), seed % n);
  for (let i = 0; i < 36; i++) {
    const b = Buffer.from(good);
    let bytes: Buffer = b;
    if (i % 4 === 0) bytes = Buffer.concat([b.subarray(0, 8 + rand(b.length - 16)), b.subarray(b.length - 8)]);
    else if (i % 4 === 1) for (let k = 0, off = 4 + rand(b.length - 16); k < 16; k++) b[off + k] ^= 0xff;
    else if (i % 4 === 2) for (let k = 0, off = b.length - 8 - 1 - rand(2000); k < 8; k++) b[off + k] = rand(256);
    else for (let k = 0; k < 64; k++) b[4 + rand(b.length - 12)] = rand(256);
    writeFileSync(join(dir, 'in', `damaged-${String(i).padStart(2, '0')}.parquet`), bytes);
  }
  const out = join(dir, 'o');
  const r = await runCli(['convert', join(dir, 'in'), '--out', out, '--log-level', 'warn']);
  assert.equal(r.code, 1, r.stderr);
  assert.doesNotMatch(r.stderr, /wasm-function|RuntimeError|internal error/);
  const m = readManifest(out);
  assert.equal(m.shards.length, 37);
  const failed = m.shards.filter((s) => s.status === 'failed');
  assert.ok(failed.length >= 18, `${failed.length} damaged files failed`);
  for (const s of failed) assert.equal(r.stderr.split('\n').filter((l) => l.includes(`failed: ${s.input.file}:`)).length, 1, s.input.file);
  const kept = m.shards.find((s) => s.input.file === 'good.parquet')!;
  assert.deepEqual([kept.status, kept.stats.rowsIn], ['done', 1000]);
});

test('without a terminal, progress is a log line every --progress-interval seconds, with an estimated total for JSON lines', async () => {
  const dir = await tempDir('convert-progress');
  const hh = hhRows();
  writeJsonl(join(dir, 'in.jsonl'), Array.from({ length: 30_000 }, (_, i) => ({ ...hh[i % hh.length], id: `r${i}` })));
  const r = await runCli(['convert', join(dir, 'in.jsonl'), '--out', join(dir, 'o'), '--progress-interval', '0.05']);
  assert.equal(r.code, 0, r.stderr);
  const lines = r.stderr.split('\n').filter((l) => l.startsWith('progress: '));
  assert.ok(lines.length >= 1, r.stderr);
  for (const l of lines) assert.match(l, /^progress: [\d,]+ \/ ~[\d,]+ rows \(\d+\.\d%\), [\d,]+ rows\/s(, ETA \S+( \S+)?)?$/);
  const quiet = await runCli(['convert', join(dir, 'in.jsonl'), '--out', join(dir, 'q'), '--progress-interval', '0']);
  assert.equal(quiet.code, 0, quiet.stderr);
  assert.doesNotMatch(quiet.stderr, /^progress: /m);
  const bad = await runCli(['convert', join(dir, 'in.jsonl'), '--out', join(dir, 'b'), '--progress-interval', '-1']);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /--progress-interval must be a number of seconds >= 0, got -1/);
});

test('--part-size splits a large JSON lines file at line starts: the same rows and rejects as one part, resumable per part, the same bytes for any number of ranks; gzip is never split', async () => {
  const dir = await tempDir('convert-split');
  const hh = hhRows();
  const lines = Array.from({ length: 3000 }, (_, i) => JSON.stringify({ ...hh[i % hh.length], id: `r${i}` }));
  lines[1234] = '{"chosen": "cut';
  lines[2000] = '';
  const text = lines.join('\n'); // no final newline: the last line is a row all the same
  writeFileSync(join(dir, 'big.jsonl'), text);
  const size = Buffer.byteLength(text);
  const one = join(dir, 'one');
  const split = join(dir, 'split');
  assert.equal((await runCli(['convert', join(dir, 'big.jsonl'), '--out', one])).code, 0);
  const r = await runCli(['convert', join(dir, 'big.jsonl'), '--out', split, '--part-size', '1MB']);
  assert.equal(r.code, 0, r.stderr);
  const m = readManifest(split);
  assert.ok(m.shards.length >= 3, `${m.shards.length} parts`);
  // The ranges tile the file, in order.
  const ranges = m.shards.map((s) => s.input.byteRange!);
  assert.deepEqual([ranges[0][0], ranges.at(-1)![1]], [0, size]);
  for (let k = 1; k < ranges.length; k++) assert.equal(ranges[k][0], ranges[k - 1][1]);
  await using db = await DuckDb.open();
  const rows = async (out: string, sub: string, cols: string) => JSON.stringify(await db.all(`SELECT ${cols} FROM ${pq(out, sub)} ORDER BY source_row`), (_k, v) => (typeof v === 'bigint' ? v.toString() : v));
  assert.equal(await rows(split, 'data', '*'), await rows(one, 'data', '*'));
  assert.equal(await rows(split, 'rejects', '*'), await rows(one, 'rejects', '*'));
  const whole = readManifest(one).totals;
  assert.deepEqual([m.totals.rowsIn, m.totals.rowsOut, m.totals.rowsRejected], [whole.rowsIn, whole.rowsOut, whole.rowsRejected]);
  assert.equal(m.totals.rejectsByReason['invalid JSON'], 1);
  // Two ranks, merged: the same shards.
  const ranked = join(dir, 'ranked');
  for (const rank of ['0', '1']) assert.equal((await runCli(['convert', join(dir, 'big.jsonl'), '--out', ranked, '--part-size', '1MB', '--world-size', '2', '--rank', rank])).code, 0);
  assert.equal((await runCli(['merge', ranked])).code, 0);
  assert.deepEqual(shardHashes(ranked), shardHashes(split));
  // A part is a unit of resume: without one part's record, a rerun redoes only that part.
  rmSync(join(split, 'completions', '00001.json'));
  const again = await runCli(['convert', join(dir, 'big.jsonl'), '--out', split, '--part-size', '1MB']);
  assert.equal(again.code, 0, again.stderr);
  assert.deepEqual([...again.stderr.matchAll(/^shard (\S+)/gm)].map((x) => x[1]), [`data/train-00001-of-${String(m.shards.length).padStart(5, '0')}.parquet`]);
  // gzip cannot be read from the middle: one part, whatever its size.
  writeFileSync(join(dir, 'big.jsonl.gz'), gzipSync(text));
  const gz = join(dir, 'gz');
  assert.equal((await runCli(['convert', join(dir, 'big.jsonl.gz'), '--out', gz, '--part-size', '1KB'])).code, 0);
  assert.equal(readManifest(gz).shards.length, 1);
  const bad = await runCli(['convert', join(dir, 'big.jsonl'), '--out', join(dir, 'b'), '--part-size', '12 parsecs']);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /--part-size must be a size such as 256MiB/);
});
