/**
 * `--output-format arrow` as a user runs it: convert, rerank-side readers (sql, stats, merge, the
 * dataset card), embed and probe train all work on Arrow IPC shards; a folder keeps its format.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { tableFromIPC } from 'apache-arrow';
import { hhRows, runCli, tempDir, writeJsonl } from '../helpers/badInputs.js';

test('convert --output-format arrow: Arrow shards that sql, stats and merge read, a card that points at them, and a folder that keeps its format', async () => {
  const root = await tempDir('cli-arrow');
  process.env.PREFRANK_CACHE_DIR = join(root, 'cache');
  writeJsonl(join(root, 'in.jsonl'), [...hhRows().slice(0, 30), { chosen: 'same', rejected: 'same' }]);
  const c = await runCli(['convert', 'in.jsonl', '--out', 'out', '--output-format', 'arrow'], root);
  assert.equal(c.code, 0, c.stderr);
  assert.deepEqual(readdirSync(join(root, 'out', 'data')), ['train-00000-of-00001.arrow']);
  assert.deepEqual(readdirSync(join(root, 'out', 'rejects')), ['train-00000-of-00001.arrow']);
  const t = tableFromIPC(readFileSync(join(root, 'out', 'data', 'train-00000-of-00001.arrow')));
  assert.equal(t.numRows, 30);
  assert.deepEqual(t.schema.fields.slice(0, 3).map((f) => f.name), ['prompt', 'chosen', 'rejected']);
  assert.match(readFileSync(join(root, 'out', 'README.md'), 'utf8'), /path: data\/train-\*\.arrow/);

  const q = await runCli(['sql', 'out', 'SELECT (SELECT count(*) FROM pairs) AS pairs, (SELECT count(*) FROM rejects) AS rejects', '--format', 'json'], root);
  assert.equal(q.code, 0, q.stderr);
  assert.deepEqual(JSON.parse(q.stdout), [{ pairs: 30, rejects: 1 }]);
  const s = await runCli(['stats', 'out', '--json'], root);
  assert.equal(s.code, 0, s.stderr);
  assert.equal(JSON.parse(s.stdout).pairs, 30);
  const m = await runCli(['merge', 'out'], root);
  assert.equal(m.code, 0, m.stderr);

  // The format is part of the folder's settings: the same command in Parquet is refused, naming it.
  const again = await runCli(['convert', 'in.jsonl', '--out', 'out'], root);
  assert.equal(again.code, 1);
  assert.match(again.stderr, /other settings \(outputFormat: "arrow" -> undefined/);
});

test('embed --output-format arrow, then probe train on the folder: the features and their metadata come through', async () => {
  const root = await tempDir('cli-arrow-embed');
  writeJsonl(join(root, 'in.jsonl'), hhRows().slice(0, 40));
  const e = await runCli(['embed', 'in.jsonl', '--out', 'feats', '--output-format', 'arrow'], root);
  assert.equal(e.code, 0, e.stderr);
  assert.deepEqual(readdirSync(join(root, 'feats', 'features')), ['train-00000-of-00001.arrow']);
  const t = tableFromIPC(readFileSync(join(root, 'feats', 'features', 'train-00000-of-00001.arrow')));
  assert.equal(t.numRows, 80);
  assert.ok(JSON.parse(t.schema.metadata.get('prefrank')!).width > 0);
  const p = await runCli(['probe', 'train', 'feats', '--out', 'probe'], root);
  assert.equal(p.code, 0, p.stderr);
  const meta = JSON.parse(readFileSync(join(root, 'probe', 'probe.json'), 'utf8'));
  assert.equal(meta.metrics.trainPairs + meta.metrics.heldOutPairs, 40);
});
