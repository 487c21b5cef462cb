import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { checkQuery, exportQuery, parseAttach, parseParams, shortFloat32, streamQuery, tableQuery } from '../../src/analysis/query.js';
import { createOutputViews, openOutputFolder } from '../../src/analysis/views.js';
import { DuckDb } from '../../src/runtime/io/DuckDb.js';
import { UsageError, UserError } from '../../src/runtime/errors.js';
import { makeOutputFolder, type MadeOutputFolder } from '../helpers/makeOutputFolder.js';

let tmp: string;
let made: MadeOutputFolder;
before(() => {
  tmp = mkdtempSync(join(tmpdir(), 'prefrank-query-'));
  made = makeOutputFolder({ dir: join(tmp, 'out'), shards: 2, rowsPerShard: 25, rejectsPerShard: 2 });
});
after(() => rmSync(tmp, { recursive: true, force: true }));

async function open() {
  const db = await DuckDb.open();
  await createOutputViews(db, openOutputFolder(made.dir));
  return db;
}

test('parseParams and parseAttach', () => {
  assert.deepEqual(parseParams(['a=1', 'b=x=y', 'c=']), { a: '1', b: 'x=y', c: '' });
  assert.throws(() => parseParams(['novalue']), (e: unknown) => e instanceof UsageError && /--param novalue: expected name=value/.test(e.message));
  assert.throws(() => parseParams(['1x=2']), /not a parameter name/);
  assert.throws(() => parseParams(['a=1', 'a=2']), /--param a: given twice/);
  assert.deepEqual(parseAttach(['before=/x/y']), [{ name: 'before', dir: '/x/y' }]);
  assert.throws(() => parseAttach(['before']), /expected name=DIR/);
  assert.throws(() => parseAttach(['a=x', 'A=y']), /given twice/);
});

test('an injection attempt in a parameter stays a string', async () => {
  await using db = await open();
  const attack = "x' OR 1=1 --";
  const sql = 'SELECT count(*) AS n, $cat AS echoed FROM pairs WHERE category = $cat';
  await checkQuery(db, sql, { cat: attack });
  const res = await tableQuery(db, sql, { cat: attack }, 10, 60);
  assert.match(res.text, /^\s*n\s+echoed\n/);
  assert.match(res.text, /\n\s*0\s+x' OR 1=1 --/);
  // And a normal value finds its rows.
  const ok = await db.all(sql, { cat: 'privacy' });
  assert.equal(Number(ok[0].n), made.flippedByCategory.privacy.pairs);
});

test('checkQuery: one statement, parameters given and used', async () => {
  await using db = await open();
  await assert.rejects(checkQuery(db, 'SELECT 1; SELECT 2', {}), /exactly one SQL statement \(got 2\)/);
  await assert.rejects(checkQuery(db, 'SELECT $x', {}), (e: unknown) => e instanceof UsageError && /uses \$x; pass --param x=VALUE/.test(e.message));
  await assert.rejects(checkQuery(db, 'SELECT 1', { y: '1' }), /--param y: the query has no \$y/);
  await assert.rejects(checkQuery(db, 'SELECT ?', {}), /positional parameter/);
  await assert.rejects(checkQuery(db, 'SELEC 1', {}), (e: unknown) => e instanceof UserError && /^query failed: Parser Error: syntax error at or near "SELEC"$/.test(e.message));
  await assert.rejects(checkQuery(db, '  ', {}), /empty/);
});

test('tableQuery streams a bounded number of rows and escapes control characters', async () => {
  await using db = await open();
  const res = await tableQuery(db, `SELECT source_row, 'a' || chr(10) || chr(27) || '[31mb' AS t FROM pairs ORDER BY source_row`, {}, 3, 60);
  assert.equal(res.rows, 3);
  assert.equal(res.complete, false);
  assert.equal(res.text.split('\n').length, 5);
  assert.ok(res.text.includes('a\\n\\u001b[31mb'));
  assert.ok(!res.text.includes('\u001b'));
  assert.equal(shortFloat32(Math.fround(0.9472465)), '0.9472465');
});

test('exports: csv, json, jsonl and parquet hold the whole result, parameters bound', async () => {
  await using db = await open();
  const sql = 'SELECT pair_id, confidence, flipped FROM pairs WHERE flipped = $f::BOOLEAN ORDER BY pair_id;';
  for (const format of ['csv', 'json', 'jsonl', 'parquet'] as const) {
    const file = join(tmp, `r.${format}`);
    await exportQuery(db, sql, { f: 'true' }, format, file);
    const back = await db.all(`SELECT count(*) AS n, bool_and(flipped::BOOLEAN) AS all_flipped FROM '${file}'`);
    assert.equal(Number(back[0].n), made.flipped, format);
    assert.equal(back[0].all_flipped, true, format);
  }
  assert.ok(readFileSync(join(tmp, 'r.json'), 'utf8').startsWith('['));
  // A trailing comment without a newline does not swallow the closing parenthesis.
  await exportQuery(db, 'SELECT 1 AS one -- note', {}, 'csv', join(tmp, 'c.csv'));
  assert.equal(readFileSync(join(tmp, 'c.csv'), 'utf8'), 'one\n1\n');
  // Streaming to a writable gives the same bytes as the file.
  let text = '';
  const sink = new Writable({ write(chunk, _enc, cb) { text += chunk; cb(); } });
  await streamQuery(db, sql, { f: 'true' }, 'csv', sink);
  assert.equal(text, readFileSync(join(tmp, 'r.csv'), 'utf8'));
});
