import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DuckDBInstance } from '@duckdb/node-api';
import { cleanDuckDbMessage, DuckDb, DuckDbError, instanceConfig, quoteIdent, quoteLiteral } from '../../src/runtime/io/DuckDb.js';

test('named parameters are bound as values: an injection attempt stays a string', async () => {
  await using db = await DuckDb.open({ threads: 1 });
  await db.exec(`CREATE TABLE t AS SELECT * FROM (VALUES ('a', 1), ('b', 2)) v(name, n)`);
  const attack = "x' OR 1=1 --";
  const rows = await db.all('SELECT count(*) AS n, $v AS v FROM t WHERE name = $v', { v: attack });
  assert.equal(rows[0].n, 0n);
  assert.equal(rows[0].v, attack);
  // A string parameter is cast to the type the statement needs.
  const [r] = await db.all('SELECT count(*) AS n FROM t WHERE n > $min', { min: '1' });
  assert.equal(r.n, 1n);
});

test('readJson streams up to a row limit and says whether the result is complete', async () => {
  await using db = await DuckDb.open();
  const some = await db.readJson('SELECT range AS i FROM range(10000)', {}, 5);
  assert.equal(some.rows.length, 5);
  assert.equal(some.complete, false);
  assert.deepEqual(some.columns, ['i']);
  assert.deepEqual(some.types, ['BIGINT']);
  const all = await db.readJson('SELECT 1 AS a, 2 AS a', {}, 5);
  assert.equal(all.complete, true);
  assert.deepEqual(all.rows, [[1, 2]]);
});

test('statementCount and parameterNames', async () => {
  await using db = await DuckDb.open();
  assert.equal(await db.statementCount('SELECT 1; SELECT 2'), 2);
  assert.deepEqual(await db.parameterNames('SELECT $b + $a + $b'), ['b', 'a']);
});

test('a DuckDB error rejects with DuckDB\'s message on one line', async () => {
  await using db = await DuckDb.open();
  await assert.rejects(db.all('SELECT * FROM nope'), (e: unknown) => {
    assert.ok(e instanceof DuckDbError);
    assert.match(e.message, /^Catalog Error: Table with name nope does not exist/);
    assert.doesNotMatch(e.message, /\n|LINE 1/);
    return true;
  });
  assert.equal(cleanDuckDbMessage('Parser Error: syntax error at or near "x"\n\nLINE 1: x\n        ^'), 'Parser Error: syntax error at or near "x"');
});

test('closing twice is harmless; a closed database refuses queries', async () => {
  const db = await DuckDb.open();
  await db.close();
  await db[Symbol.asyncDispose]();
  await assert.rejects(db.all('SELECT 1'), /closed/);
});

test('dispose waits for a query in flight instead of closing under it', async () => {
  let inFlight: Promise<unknown>;
  {
    await using db = await DuckDb.open({ threads: 1 });
    // Deliberately not awaited before the scope ends.
    inFlight = db.all('SELECT sum(range) AS s FROM range(3000000)');
  }
  const [r] = (await inFlight) as { s: unknown }[];
  assert.equal(r.s, 4499998500000n);
});

test('quoting helpers', () => {
  assert.equal(quoteIdent('a"b'), '"a""b"');
  assert.equal(quoteLiteral("it's"), "'it''s'");
  assert.throws(() => quoteLiteral('a\0b'), DuckDbError);
  assert.rejects(DuckDb.open({ threads: 0 }), RangeError);
});

test('instanceConfig: extensions are never installed; autoloading and threads only when asked, as DuckDB takes them', async () => {
  assert.deepEqual(instanceConfig(), { autoinstall_known_extensions: 'false' });
  // The Parquet encoder's settings (parquetEncoderWorker.ts).
  const instance = await DuckDBInstance.create(':memory:', instanceConfig({ threads: 1, autoloadExtensions: false }));
  const c = await instance.connect();
  const [row] = (await c.runAndReadAll("SELECT current_setting('threads') AS t, current_setting('autoload_known_extensions') AS load, current_setting('autoinstall_known_extensions') AS install")).getRowObjectsJS();
  c.closeSync();
  instance.closeSync();
  assert.deepEqual(row, { t: 1n, load: false, install: false });
  assert.throws(() => instanceConfig({ threads: 0 }), /threads must be a positive integer, got 0/);
});
