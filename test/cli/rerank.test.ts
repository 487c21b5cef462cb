import assert from 'node:assert/strict';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import type { Manifest } from '../../schemas/manifest.js';
import { DuckDb } from '../../src/runtime/DuckDb.js';
import { sha256File } from '../../src/runtime/hash.js';
import { sharedPath } from '../../src/runtime/paths.js';
import { hhRows, runCli, tempDir } from '../helpers/badInputs.js';

async function rows(dir: string, sql: string): Promise<Record<string, unknown>[]> {
  await using db = await DuckDb.open();
  return db.all(sql.replaceAll('$data', `read_parquet('${join(dir, 'data', '*.parquet')}')`).replaceAll('$rejects', `read_parquet('${join(dir, 'rejects', '*.parquet')}')`));
}

test('rerank: the whole method on real pairs, a summary, the swap invariant, the same bytes twice', async () => {
  const dir = await tempDir('rerank-cli');
  const input = join(dir, 'hh.jsonl');
  writeFileSync(input, hhRows().slice(0, 60).map((r) => JSON.stringify(r)).join('\n') + '\n');
  const a = await runCli(['rerank', input, '--out', join(dir, 'a'), '--device', 'cpu']);
  assert.equal(a.code, 0, a.stderr);
  const summary = JSON.parse(a.stdout.trim().split('\n').at(-1)!);
  assert.equal(summary.pairs, 60);
  assert.ok(summary.flipped > 0 && summary.flipped < 60, `flipped ${summary.flipped}`);
  assert.ok(summary.confidenceQuantiles.p05 >= 0.5 && summary.confidenceQuantiles.p95 <= 1);
  assert.match(a.stderr, /rerank: 60 pairs written, \d+ flipped/);

  // Under swap, chosen always has the higher reward, and confidence = sigmoid(alpha * margin).
  const alpha = (JSON.parse(readFileSync(join(dir, 'a', 'manifest.json'), 'utf8')) as Manifest).config.alpha as number;
  const [check] = await rows(join(dir, 'a'), `SELECT count(*)::INT AS n, count(*) FILTER (WHERE reward_chosen < reward_rejected)::INT AS wrong,
      max(abs(confidence - 1 / (1 + exp(-${alpha} * (reward_chosen - reward_rejected)))))::DOUBLE AS err, sum(flipped::INT)::INT AS flipped FROM $data`);
  assert.deepEqual([check.n, check.wrong], [60, 0]);
  assert.ok((check.err as number) < 1e-6, `confidence off by ${check.err}`);
  assert.equal(check.flipped, summary.flipped);

  const b = await runCli(['rerank', input, '--out', join(dir, 'b'), '--device', 'cpu']);
  assert.equal(b.code, 0, b.stderr);
  for (const f of ['data/train-00000-of-00001.parquet', 'rejects/train-00000-of-00001.parquet']) {
    assert.equal(await sha256File(join(dir, 'a', f)), await sha256File(join(dir, 'b', f)), f);
  }
});

test('rerank --policy filter: low-confidence pairs go to rejects, nothing is lost', async () => {
  const dir = await tempDir('rerank-filter');
  const input = join(dir, 'hh.jsonl');
  writeFileSync(input, hhRows().slice(0, 60).map((r) => JSON.stringify(r)).join('\n') + '\n');
  const r = await runCli(['rerank', input, '--out', join(dir, 'o'), '--device', 'cpu', '--policy', 'filter', '--min-margin', '0.05']);
  assert.equal(r.code, 0, r.stderr);
  const [kept] = await rows(join(dir, 'o'), 'SELECT count(*)::INT AS n, count(*) FILTER (WHERE abs(confidence - 0.5) < 0.05)::INT AS low, sum(flipped::INT)::INT AS flipped FROM $data');
  const [dropped] = await rows(join(dir, 'o'), "SELECT count(*)::INT AS n, count(*) FILTER (WHERE reason = 'low confidence')::INT AS low FROM $rejects");
  assert.equal((kept.n as number) + (dropped.n as number), 60);
  assert.ok((dropped.low as number) > 0);
  assert.deepEqual([kept.low, kept.flipped], [0, 0]);
});

test('rerank refuses a probe for another model in one line, and leaves no claim on the new folder', async () => {
  const dir = await tempDir('rerank-mismatch');
  const out = join(dir, 'o');
  const r = await runCli(['rerank', sharedPath('data', 'hh-rlhf-harmless-base', 'test.jsonl.gz'), '--out', out, '--model', sharedPath('fixtures', 'bert-tiny'), '--device', 'cpu']);
  assert.equal(r.code, 1);
  const lines = r.stderr.trim().split('\n').filter((l) => l.startsWith('prefrank:'));
  assert.equal(lines.length, 1);
  assert.match(lines[0], /probe default does not match the model: .*width 64 but the probe expects 100/);
  assert.equal(existsSync(join(out, 'run.json')), false);
});
