import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createOutputViews, openOutputFolder } from '../../src/analysis/views.js';
import { DuckDb } from '../../src/runtime/io/DuckDb.js';
import { UserError, UsageError } from '../../src/runtime/errors.js';
import { makeOutputFolder, type MadeOutputFolder } from '../helpers/makeOutputFolder.js';

let tmp: string;
let made: MadeOutputFolder;
before(() => {
  tmp = mkdtempSync(join(tmpdir(), 'prefrank-views-'));
  made = makeOutputFolder({ dir: join(tmp, 'out'), shards: 3, rowsPerShard: 30, rejectsPerShard: 4 });
});
after(() => rmSync(tmp, { recursive: true, force: true }));

test('pairs, rejects and shards over an output folder', async () => {
  await using db = await DuckDb.open();
  await createOutputViews(db, openOutputFolder(made.dir));
  const [p] = await db.all('SELECT count(*) AS n, count(*) FILTER (WHERE flipped) AS f, count(*) FILTER (WHERE truncated) AS t, count(DISTINCT pair_id) AS ids FROM pairs');
  assert.deepEqual([p.n, p.f, p.t, p.ids], [BigInt(made.pairs), BigInt(made.flipped), BigInt(made.truncated), BigInt(made.pairs)]);
  // Shards differ in pass-through columns: read by name, missing values are NULL.
  const [pt] = await db.all('SELECT count(lang) AS lang, count(turns) AS turns FROM pairs');
  assert.equal(pt.lang, BigInt(made.pairs));
  assert.equal(pt.turns, BigInt(made.pairs - 30));
  const reasons = await db.all('SELECT reason, count(*) AS n FROM rejects GROUP BY 1 ORDER BY 1');
  assert.deepEqual(Object.fromEntries(reasons.map((r) => [r.reason, Number(r.n)])), made.rejectsByReason);
  const shards = await db.all('SELECT "index", status, rows_out, rows_flipped, rejects_by_reason, confidence_histogram FROM shards ORDER BY 1');
  assert.equal(shards.length, 3);
  assert.equal(shards.reduce((s, r) => s + Number(r.rows_flipped), 0), made.flipped);
  assert.equal(shards[0].status, 'done');
  // Every pair and every reject sits in exactly one shard, and the manifest agrees with the data.
  const [agree] = await db.all(`SELECT (SELECT sum(rows_out) FROM shards) = (SELECT count(*) FROM pairs) AS ok`);
  assert.equal(agree.ok, true);
});

test('attached folders live in their own schema, side by side', async () => {
  const other = makeOutputFolder({ dir: join(tmp, 'other'), shards: 1, rowsPerShard: 10, rejectsPerShard: 0, seed: 99, plant: false });
  await using db = await DuckDb.open();
  await createOutputViews(db, openOutputFolder(made.dir));
  await createOutputViews(db, openOutputFolder(other.dir), 'after');
  const [r] = await db.all('SELECT (SELECT count(*) FROM pairs) AS a, (SELECT count(*) FROM after.pairs) AS b, (SELECT count(*) FROM after.rejects) AS c, (SELECT count(*) FROM after.shards) AS d');
  assert.deepEqual([r.a, r.b, r.c, r.d], [BigInt(made.pairs), 10n, 0n, 1n]);
  await assert.rejects(createOutputViews(db, openOutputFolder(other.dir), 'main'), UsageError);
  await assert.rejects(createOutputViews(db, openOutputFolder(other.dir), 'a-b'), UsageError);
});

test('a folder without shard files still has typed, empty views', async () => {
  const dir = join(tmp, 'empty');
  mkdirSync(join(dir, 'data'), { recursive: true });
  await using db = await DuckDb.open();
  await createOutputViews(db, openOutputFolder(dir));
  const [r] = await db.all('SELECT count(*) AS n, avg(confidence) AS c FROM pairs');
  assert.deepEqual([r.n, r.c], [0n, null]);
  const cols = await db.all(`SELECT column_name, data_type FROM information_schema.columns WHERE table_name = 'pairs' ORDER BY ordinal_position`);
  assert.deepEqual(cols.slice(0, 4).map((c) => `${c.column_name}:${c.data_type}`), ['prompt:VARCHAR', 'chosen:VARCHAR', 'rejected:VARCHAR', 'confidence:FLOAT']);
  assert.equal((await db.all('SELECT count(*) AS n FROM rejects'))[0].n, 0n);
  assert.equal((await db.all('SELECT count(*) AS n FROM shards'))[0].n, 0n);
});

test('a missing folder, a non-output folder and a broken manifest are one-line user errors', () => {
  assert.throws(() => openOutputFolder(join(tmp, 'nope')), (e: unknown) => e instanceof UserError && /nope: no such folder/.test(e.message));
  const plain = join(tmp, 'plain');
  mkdirSync(plain);
  assert.throws(() => openOutputFolder(plain), /not a prefrank output folder/);
  const broken = join(tmp, 'broken');
  mkdirSync(broken);
  writeFileSync(join(broken, 'manifest.json'), '{"shards": [');
  assert.throws(() => openOutputFolder(broken), /manifest\.json: not valid JSON/);
});
