import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { DuckDb } from '../../../src/runtime/io/DuckDb.js';
import { sharedPath } from '../../../src/runtime/paths.js';
import { runCli } from '../../helpers/badInputs.js';

const tmp = mkdtempSync(join(tmpdir(), 'prefrank-cli-embed-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

const cli = (...args: string[]) => runCli(args);

const input = join(tmp, 'pairs.jsonl');
writeFileSync(
  input,
  [
    { prompt: 'the people said', chosen: ' that he was not there', rejected: ' it was the first time' },
    { prompt: 'they had been', chosen: ' in the city', rejected: ' in the city' }, // chosen == rejected: a reject
    { prompt: 'what is new', responses: [' the year', ' the government', ' two people'] },
  ]
    .map((r) => JSON.stringify(r))
    .join('\n') + '\n',
);

test('prefrank embed writes feature shards the same way twice, with the manifest and rejects', async () => {
  const model = sharedPath('fixtures', 'llama-tiny');
  const args = (out: string) => ['embed', input, '--out', out, '--model', model, '--device', 'cpu', '--layers', '1-2', '--format', 'auto'];
  const a = await cli(...args(join(tmp, 'a')));
  assert.equal(a.code, 0, a.stderr);
  assert.match(a.stderr, /embed: 5 texts/); // the pair with chosen == rejected is rejected before embedding
  const b = await cli(...args(join(tmp, 'b')));
  assert.equal(b.code, 0, b.stderr);
  const shard = 'features/train-00000-of-00001.parquet';
  const sha = (d: string) => createHash('sha256').update(readFileSync(join(tmp, d, shard))).digest('hex');
  assert.equal(sha('a'), sha('b'));

  const manifest = JSON.parse(readFileSync(join(tmp, 'a', 'manifest.json'), 'utf8'));
  assert.deepEqual(manifest.config.layers, [1, 2]);
  assert.equal(manifest.totals.rowsRejected, 1);
  await using db = await DuckDb.open();
  const rows = await db.all(`SELECT role, count(*)::INT AS n, min(len(features))::INT AS w FROM read_parquet('${join(tmp, 'a', shard)}') GROUP BY role ORDER BY role`);
  assert.deepEqual(rows, [
    { role: 'candidate', n: 3, w: 128 },
    { role: 'chosen', n: 1, w: 128 },
    { role: 'rejected', n: 1, w: 128 },
  ]);

  const bad = await cli('embed', input, '--out', join(tmp, 'c'), '--model', model, '--layers', 'x');
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /--layers: cannot read "x"/);
});
