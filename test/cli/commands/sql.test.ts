import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { makeOutputFolder, type MadeOutputFolder } from '../../helpers/makeOutputFolder.js';
import { runCli } from '../../helpers/badInputs.js';


const cli = (...args: string[]) => runCli(args);

let tmp: string;
let made: MadeOutputFolder;
before(() => {
  tmp = mkdtempSync(join(tmpdir(), 'prefrank-cli-sql-'));
  made = makeOutputFolder({ dir: join(tmp, 'out'), shards: 2, rowsPerShard: 20, rejectsPerShard: 2 });
  makeOutputFolder({ dir: join(tmp, 'before'), shards: 2, rowsPerShard: 20, rejectsPerShard: 2, seed: 8 });
});
after(() => rmSync(tmp, { recursive: true, force: true }));

test('sql prints an aligned table; --param binds; --attach adds a schema', async () => {
  const r = await cli('sql', made.dir, 'SELECT count(*) AS n FROM pairs WHERE flipped = $f::BOOLEAN', '--param', 'f=true');
  assert.equal(r.code, 0, r.stderr);
  const w = Math.max(1, String(made.flipped).length);
  assert.equal(r.stdout, `${'n'.padStart(w)}\n${'-'.repeat(w)}\n${made.flipped}\n`);
  assert.match(r.stderr, /\(1 row\)/);
  const j = await cli(
    'sql', made.dir,
    'SELECT count(*) AS n FROM pairs a JOIN before.pairs b USING (pair_id) WHERE a.flipped <> b.flipped',
    '--attach', `before=${join(tmp, 'before')}`, '--format', 'json',
  );
  assert.equal(j.code, 0, j.stderr);
  assert.ok(Array.isArray(JSON.parse(j.stdout)));
  const inj = await cli('sql', made.dir, 'SELECT count(*) AS n FROM pairs WHERE category = $c', '--param', "c=x' OR 1=1 --", '--format', 'csv');
  assert.equal(inj.stdout, 'n\n0\n');
});

test('sql --format parquet --out writes a file', async () => {
  const out = join(tmp, 'flips.parquet');
  const r = await cli('sql', made.dir, 'SELECT * FROM pairs WHERE flipped', '--format', 'parquet', '--out', out);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(readFileSync(out).subarray(0, 4).toString(), 'PAR1');
});

test('user mistakes end in one clear line and a non-zero exit', async () => {
  const cases: [string[], number, RegExp][] = [
    [['sql', join(tmp, 'missing'), 'SELECT 1'], 1, /^prefrank: .*missing: no such folder\n$/],
    [['sql', made.dir, 'SELECT * FROM nope'], 1, /^prefrank: query failed: Catalog Error: Table with name nope does not exist![^\n]*\n$/],
    [['sql', made.dir, 'SELECT 1', '--param', 'oops'], 2, /^prefrank: --param oops: expected name=value\n$/],
    [['sql', made.dir, 'SELECT $a'], 2, /^prefrank: the query uses \$a; pass --param a=VALUE\n$/],
    [['sql', made.dir, 'SELECT 1', '--attach', 'main=' + made.dir], 2, /^prefrank: --attach main: 'main' is reserved/],
    [['stats', join(tmp, 'missing')], 1, /no such folder/],
    [['report', made.dir], 2, /^prefrank: report needs --out FILE\n$/],
  ];
  // In parallel: each run starts a node process (about a second).
  const results = await Promise.all(cases.map(([args]) => cli(...args)));
  cases.forEach(([args, code, msg], i) => {
    assert.equal(results[i].code, code, `${args.join(' ')}: ${results[i].stderr}`);
    assert.match(results[i].stderr, msg, `${args.join(" ")}: ${JSON.stringify(results[i].stderr)}`);
  });
});

test('sql --format table over a shard damaged after its first rows fails with DuckDB\'s reason, never prints a shorter result as whole', async () => {
  // DuckDB's streaming result ends a scan that fails partway exactly like a finished one, and
  // @duckdb/node-api does not read the error: before readJson stopped streaming, this printed the
  // rows before the damage, "(N rows)", and exited 0.
  const { DuckDb } = await import('../../../src/runtime/io/DuckDb.js');
  const damaged = makeOutputFolder({ dir: join(tmp, 'damaged'), shards: 1, rowsPerShard: 6000, rejectsPerShard: 0, rowGroupRows: 500 });
  const shard = join(damaged.dir, 'data', 'train-00000-of-00001.parquet');
  let page: { offset: number; size: number };
  {
    await using db = await DuckDb.open({ threads: 1 });
    const meta = await db.all(`SELECT data_page_offset AS o, total_compressed_size AS n FROM parquet_metadata('${shard}') WHERE path_in_schema = 'chosen' ORDER BY row_group_id DESC LIMIT 1`);
    page = { offset: Number(meta[0].o), size: Number(meta[0].n) };
  }
  // ZSTD has no checksum here, so bytes flipped inside a page may decode to other text; flipped
  // across the whole compressed page they break the frame.
  const bytes = readFileSync(shard);
  for (let k = page.offset + 64; k < page.offset + page.size - 16; k += 7) bytes[k] ^= 0xff;
  writeFileSync(shard, bytes);
  const r = await cli('sql', damaged.dir, 'SELECT pair_id, chosen FROM pairs', '--max-rows', '10000', '--max-width', '20');
  assert.equal(r.code, 1, `exit ${r.code}: ${r.stderr.slice(-300)}`);
  assert.match(r.stderr, /^prefrank: query failed: .*(corrupt|ZSTD|[Dd]ecompress)/m);
  // What a table does not need is not read: the first rows still print.
  const head = await cli('sql', damaged.dir, 'SELECT pair_id, chosen FROM pairs', '--max-rows', '5', '--max-width', '20');
  assert.equal(head.code, 0, head.stderr);
  assert.match(head.stderr, /\(first 5 rows;/);
});

test('stats prints tables, or JSON with --json', async () => {
  const t = await cli('stats', made.dir);
  assert.equal(t.code, 0, t.stderr);
  assert.match(t.stdout, /pairs\s+flipped\s+flipped %/);
  const j = await cli('stats', made.dir, '--json');
  assert.equal(JSON.parse(j.stdout).pairs, made.pairs);
});

test('report writes the HTML file', async () => {
  const out = join(tmp, 'r.html');
  const r = await cli('report', made.dir, '--out', out);
  assert.equal(r.code, 0, r.stderr);
  assert.match(readFileSync(out, 'utf8'), /^<!DOCTYPE html>/);
});
