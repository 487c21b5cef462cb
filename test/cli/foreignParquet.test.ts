/**
 * Parquet written by other tools, as a user converts it (a child process): every codec, page
 * version and encoding two foreign writers produce must give the same pairs as the same rows in
 * JSON lines; the same files damaged where their structure is (the footer, the first page header or
 * dictionary page, page bodies, cuts) must each fail alone with one line, never a native or wasm
 * trace, and the good files beside them must be kept with every row accounted for.
 */
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { DuckDb, quoteLiteral } from '../../src/runtime/io/DuckDb.js';
import { readManifest, runCli, tempDir } from '../helpers/badInputs.js';
import { prng } from '../helpers/random.js';
import { writeForeignCorpus } from '../helpers/foreignParquet.js';

test('Parquet from DuckDB and arrow-rs, every codec, page version and encoding: the same pairs as the same rows in JSON lines; Hadoop LZ4 fails alone, naming the codec and what to do', async () => {
  const dir = await tempDir('foreign-parquet');
  const inp = join(dir, 'in');
  mkdirSync(inp);
  const files = await writeForeignCorpus(inp);
  assert.ok(files.length >= 28, `${files.length} files`);
  // As DuckDB reads them (off), and with every text column it can take read inside its pages
  // (parquetPageText.ts: PLAIN values, no dictionary, ZSTD, snappy or none; the rest stays with DuckDB).
  for (const [o, flags] of [['o', ['--page-stream-size', 'off']], ['o-paged', ['--page-stream-size', '1']]] as const) {
    const out = join(dir, o);
    const r = await runCli(['convert', inp, '--out', out, '--log-level', 'warn', ...flags]);
    const failing = files.filter((f) => f.fails);
    assert.equal(r.code, failing.length ? 1 : 0, r.stderr);
    assert.doesNotMatch(r.stderr, /wasm-function|RuntimeError|internal error|^\s+at /m);
    for (const f of failing) assert.match(r.stderr, f.fails!, f.name);
    const m = readManifest(out);
    const shard = (name: string) => m.shards.find((s) => s.input.file === name)!;
    const reference = shard('reference.jsonl');
    assert.deepEqual([reference.status, reference.stats.rowsIn], ['done', 120]);
    assert.ok(reference.stats.rowsOut >= 115, `${reference.stats.rowsOut} pairs`);
    for (const f of files) {
      const s = shard(f.name);
      assert.equal(s.status, f.fails ? 'failed' : 'done', f.name);
      // The same rows kept and the same rejected, with the same reasons.
      if (!f.fails) assert.deepEqual([s.stats.rowsIn, s.stats.rowsOut, s.stats.rejectsByReason], [120, reference.stats.rowsOut, reference.stats.rejectsByReason], f.name);
    }

    // Every readable file holds exactly the reference's pairs: ids, texts and pass-through values.
    await using db = await DuckDb.open({ threads: 1 });
    const rows = await db.all(
      `SELECT source_file, count(*) AS n, bit_xor(hash(pair_id, prompt, chosen, rejected, n::BIGINT, round(score::DOUBLE, 9), source_row)) AS h
       FROM read_parquet(${quoteLiteral(join(out, 'data', '*.parquet'))}, union_by_name = true) GROUP BY source_file ORDER BY source_file`,
    );
    const ref = rows.find((x) => x.source_file === 'reference.jsonl')!;
    assert.equal(rows.length, files.length - failing.length + 1);
    for (const x of rows) assert.deepEqual([x.source_file, Number(x.n), x.h], [x.source_file, reference.stats.rowsOut, ref.h], `${String(x.source_file)} differs from the JSON lines (${o})`);
  }
});

test('foreign Parquet damaged at its structure (footer, first page header or dictionary page, page bodies, cuts) fails file by file with one line each; the good files are kept, every row accounted for', async () => {
  const dir = await tempDir('foreign-damage');
  const src = join(dir, 'src');
  const inp = join(dir, 'in');
  mkdirSync(src);
  mkdirSync(inp);
  await writeForeignCorpus(src, 60);
  const bases = ['duckdb-zstd-V2.parquet', 'duckdb-gzip-V1.parquet', 'arrowrs-brotli-V2.parquet', 'arrowrs-encoding-deltabyte.parquet'];
  const next = prng(5);
  const rand = (n: number) => Math.floor(next() * n);
  let made = 0;
  for (const base of bases) {
    const good = readFileSync(join(src, base));
    for (let k = 0; k < 12; k++) {
      const b = Buffer.from(good);
      let bytes: Buffer = b;
      const kind = k % 6;
      if (kind === 0) bytes = b.subarray(0, 4 + rand(b.length - 4)); // cut anywhere
      else if (kind === 1) for (let j = 0, off = b.length - 9 - rand(Math.min(2000, b.length - 13)); j < 4; j++) b[off + j] = rand(256); // the footer's metadata
      else if (kind === 2) for (let j = 0, off = 4 + rand(64); j < 4; j++) b[off + j] = rand(256); // the first page header (a dictionary page when there is one)
      else if (kind === 3) for (let j = 0; j < 8; j++) b[4 + rand(b.length - 12)] = rand(256); // scattered
      else if (kind === 4) b[4 + rand(b.length - 12)] ^= 1 << rand(8); // one bit
      else b[b.length - 9 - rand(200)] = rand(256); // the footer's end: row group and column chunk offsets
      writeFileSync(join(inp, `${base.replace('.parquet', '')}-damaged-${String(k).padStart(2, '0')}.parquet`), bytes);
      made++;
    }
    writeFileSync(join(inp, base), good);
  }
  const out = join(dir, 'o');
  const r = await runCli(['convert', inp, '--out', out, '--log-level', 'warn']);
  assert.equal(r.code, 1, r.stderr);
  assert.doesNotMatch(r.stderr, /wasm-function|RuntimeError|internal error|^\s+at /m);
  const m = readManifest(out);
  assert.equal(m.shards.length, made + bases.length);
  const failed = m.shards.filter((s) => s.status === 'failed');
  assert.ok(failed.length >= made / 3, `${failed.length} of ${made} damaged files failed`);
  for (const s of failed) assert.equal(r.stderr.split('\n').filter((l) => l.includes(`failed: ${s.input.file}:`)).length, 1, s.input.file);
  for (const base of bases) {
    const kept = m.shards.find((s) => s.input.file === base)!;
    assert.deepEqual([kept.status, kept.stats.rowsIn, kept.stats.rowsOut], ['done', 60, 60], base);
  }
  // A damaged file that still reads (a flipped byte inside a text, say) loses no row: all 60 are
  // read (none dropped by a stream that ended early), and each is kept or rejected.
  for (const s of m.shards.filter((x) => x.status === 'done')) {
    assert.equal(s.stats.rowsIn, 60, s.input.file);
    assert.equal(s.stats.rowsIn, s.stats.rowsOut + s.stats.rowsRejected, s.input.file);
  }
});
