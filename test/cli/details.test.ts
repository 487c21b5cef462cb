/** The small things a new user meets first: flags that say what was typed, files never replaced silently, help that reads well. */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { hhRows, runCli, tempDir } from '../helpers/badInputs.js';

test('a number flag given text names the flag and what was typed', async () => {
  for (const args of [['--batch-rows', 'abc'], ['--batch-rows=abc']]) {
    const r = await runCli(['convert', 'x.jsonl', '--out', 'o', ...args]);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /^prefrank: --batch-rows must be a number, got "abc"$/m);
  }
});

test('help shows the inputs without an internal default', async () => {
  const r = await runCli(['convert', '--help']);
  assert.equal(r.code, 0);
  assert.match(r.stdout, /inputs +Input files, folders or globs .*\[array\] \[required\]\n/);
  assert.doesNotMatch(r.stdout, /\[default: \[\]\]/);
  const sql = await runCli(['sql', '--help']);
  assert.match(sql.stdout, /'SELECT \* FROM pairs WHERE source_file = \$f' --param f=a\.parquet/, 'the example pastes into bash');
});

test('report --out and sql --out refuse to replace a file unless --overwrite', async () => {
  const dir = await tempDir('details-out');
  writeFileSync(join(dir, 'in.jsonl'), hhRows().slice(0, 4).map((r) => JSON.stringify(r)).join('\n') + '\n');
  const out = join(dir, 'o');
  assert.equal((await runCli(['convert', join(dir, 'in.jsonl'), '--out', out])).code, 0);
  const file = join(dir, 'taken.html');
  writeFileSync(file, 'mine');
  for (const args of [['report', out, '--out', file], ['sql', out, 'SELECT 1 AS x', '--format', 'csv', '--out', file]]) {
    const r = await runCli(args);
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, new RegExp(`^prefrank: --out ${file.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')} exists; pass --overwrite to replace it$`, 'm'));
    assert.equal((await runCli([...args, '--overwrite'])).code, 0);
  }
});
