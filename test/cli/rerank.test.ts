import assert from 'node:assert/strict';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { DuckDb } from '../../src/runtime/io/DuckDb.js';
import { sha256File } from '../../src/runtime/hash.js';
import { RELABEL_DEFAULTS } from '../../src/probe/posterior.js';
import { sharedHhFile, sharedPath } from '../../src/runtime/paths.js';
import { hhRows, readManifest, runCli, tempDir } from '../helpers/badInputs.js';

/**
 * The posterior P(input label right) in SQL over an output shard (src/probe/posterior.ts): the
 * rewards in the input's order are the output's, swapped back for flipped pairs.
 */
function posteriorSql(labelPrior: number, alpha: number, unsafeSlope: number): string {
  const rc = 'CASE WHEN flipped THEN reward_rejected ELSE reward_chosen END';
  const rr = 'CASE WHEN flipped THEN reward_chosen ELSE reward_rejected END';
  return `(1 / (1 + exp(-(ln(${labelPrior} / (1 - ${labelPrior})) + (${rc} - ${rr}) * greatest(0, ${alpha} + ${unsafeSlope} * -least(${rc}, ${rr}))))))`;
}

/** The first n HH-RLHF pairs as a JSON-lines file in `dir`. */
function hhInput(dir: string, n: number): string {
  const input = join(dir, 'hh.jsonl');
  writeFileSync(input, hhRows().slice(0, n).map((r) => JSON.stringify(r)).join('\n') + '\n');
  return input;
}

async function rows(dir: string, sql: string): Promise<Record<string, unknown>[]> {
  await using db = await DuckDb.open();
  return db.all(sql.replaceAll('$data', `read_parquet('${join(dir, 'data', '*.parquet')}')`).replaceAll('$rejects', `read_parquet('${join(dir, 'rejects', '*.parquet')}')`));
}

test('rerank: the whole method on real pairs, a posterior confidence, expected errors, the same bytes twice', async () => {
  const dir = await tempDir('rerank-cli');
  const input = hhInput(dir, 60);
  const a = await runCli(['rerank', input, '--out', join(dir, 'a'), '--device', 'cpu']);
  assert.equal(a.code, 0, a.stderr);
  const summary = JSON.parse(a.stdout.trim().split('\n').at(-1)!);
  assert.equal(summary.pairs, 60);
  assert.equal(summary.maxWrongFlips, RELABEL_DEFAULTS.maxWrongFlips);
  assert.ok(summary.labelPrior > 0.5 && summary.labelPrior < 1, `label prior ${summary.labelPrior}`);
  assert.match(a.stderr, /rerank: 60 pairs written, \d+ flipped/);
  assert.match(a.stderr, /rerank: expected [\d.]+ wrong swaps; expected labels wrong [\d.]+ before -> [\d.]+ after/);

  // confidence = P(this order is right) = sigmoid(logit(p0) + alpha * margin in the input order),
  // 1 - that for a swapped pair; a pair is swapped only when its posterior is within the budget.
  const { alpha, unsafeSlope, labelPrior, maxWrongFlips } = readManifest(join(dir, 'a')).config as Record<string, number>;
  const cIn = posteriorSql(labelPrior, alpha, unsafeSlope);
  const [check] = await rows(join(dir, 'a'), `SELECT count(*)::INT AS n,
      max(abs(confidence - CASE WHEN flipped THEN 1 - ${cIn} ELSE ${cIn} END))::DOUBLE AS err,
      count(*) FILTER (WHERE flipped AND ${cIn} > ${maxWrongFlips})::INT AS over_budget,
      sum(CASE WHEN flipped THEN 1 - confidence ELSE 0 END)::DOUBLE AS ewf, sum(1 - confidence)::DOUBLE AS ewa,
      count(*) FILTER (WHERE NOT flipped AND confidence < 0.5)::INT AS held_back, sum(flipped::INT)::INT AS flipped FROM $data`);
  assert.equal(check.n, 60);
  assert.ok((check.err as number) < 1e-6, `confidence off by ${check.err}`);
  assert.equal(check.over_budget, 0);
  assert.equal(check.flipped, summary.flipped);
  // The manifest's expected errors are the sums the data implies (float32 confidences).
  const totals = readManifest(join(dir, 'a')).totals.expectedErrors!;
  assert.ok(Math.abs(totals.expectedWrongFlips - (check.ewf as number)) < 1e-4);
  assert.ok(Math.abs(totals.expectedWrongAfter - (check.ewa as number)) < 1e-4);
  assert.equal(totals.heldBack, check.held_back);
  assert.equal(summary.heldBack, check.held_back);
  assert.match(readFileSync(join(dir, 'a', 'README.md'), 'utf8'), /## Expected label errors[\s\S]*labels wrong after re-ranking \(expected\) \| [\d.]+ \|/);

  const b = await runCli(['rerank', input, '--out', join(dir, 'b'), '--device', 'cpu']);
  assert.equal(b.code, 0, b.stderr);
  for (const f of ['data/train-00000-of-00001.parquet', 'rejects/train-00000-of-00001.parquet']) {
    assert.equal(await sha256File(join(dir, 'a', f)), await sha256File(join(dir, 'b', f)), f);
  }
});

test("rerank --label-prior 0.5 --max-wrong-flips 0.5 is the paper's rule: every pair the reward disagrees with is swapped", async () => {
  const dir = await tempDir('rerank-paper');
  const input = hhInput(dir, 60);
  const r = await runCli(['rerank', input, '--out', join(dir, 'o'), '--device', 'cpu', '--label-prior', '0.5', '--max-wrong-flips', '0.5']);
  assert.equal(r.code, 0, r.stderr);
  const summary = JSON.parse(r.stdout.trim().split('\n').at(-1)!);
  const cIn = posteriorSql(0.5, summary.alpha as number, summary.unsafeSlope as number);
  const [check] = await rows(join(dir, 'o'), `SELECT count(*) FILTER (WHERE reward_chosen < reward_rejected)::INT AS wrong,
      max(abs(confidence - CASE WHEN flipped THEN 1 - ${cIn} ELSE ${cIn} END))::DOUBLE AS err, sum(flipped::INT)::INT AS flipped FROM $data`);
  assert.ok(summary.flipped > 0 && summary.flipped < 60, `flipped ${summary.flipped}`);
  assert.equal(check.wrong, 0);
  assert.ok((check.err as number) < 1e-6);
  assert.ok(summary.confidenceQuantiles.p05 >= 0.5);
  assert.equal(summary.heldBack, 0);
});

test('rerank: confidence flags out of range are usage errors naming the flag', async () => {
  const dir = await tempDir('rerank-flags');
  const input = hhInput(dir, 2);
  for (const [flag, value, pattern] of [
    ['--label-prior', '1.5', /--label-prior must be 'auto' or a number in \(0, 1\), got 1.5/],
    ['--max-wrong-flips', '0.7', /--max-wrong-flips must be in \(0, 0.5\], got 0.7/],
    ['--alpha', 'x', /--alpha must be 'auto' or a number, got "x"/],
    ['--alpha', '-1', /^prefrank: --alpha must be a number >= 0, got -1$/m],
    // The operator's own check, so the flag and relabelPairs can never disagree again.
    ['--min-margin', '0.5', /^prefrank: --min-margin must be in \[0, 0.5\), got 0.5$/m],
  ] as const) {
    const r = await runCli(['rerank', input, '--out', join(dir, 'o'), '--device', 'cpu', flag, value]);
    assert.equal(r.code, 2, `${flag} ${value}: ${r.stderr}`);
    assert.match(r.stderr, pattern);
  }
});

test('rerank --policy filter: low-confidence pairs go to rejects, nothing is lost', async () => {
  const dir = await tempDir('rerank-filter');
  const input = hhInput(dir, 60);
  const r = await runCli(['rerank', input, '--out', join(dir, 'o'), '--device', 'cpu', '--policy', 'filter', '--min-margin', '0.3']);
  assert.equal(r.code, 0, r.stderr);
  const [kept] = await rows(join(dir, 'o'), 'SELECT count(*)::INT AS n, count(*) FILTER (WHERE abs(confidence - 0.5) < 0.3)::INT AS low, sum(flipped::INT)::INT AS flipped FROM $data');
  const [dropped] = await rows(join(dir, 'o'), "SELECT count(*)::INT AS n, count(*) FILTER (WHERE reason = 'low confidence')::INT AS low FROM $rejects");
  assert.equal((kept.n as number) + (dropped.n as number), 60);
  assert.ok((dropped.low as number) > 0);
  assert.deepEqual([kept.low, kept.flipped], [0, 0]);
});

test('rerank refuses a probe for another model in one line, and leaves no claim on the new folder', async () => {
  const dir = await tempDir('rerank-mismatch');
  const out = join(dir, 'o');
  const r = await runCli(['rerank', sharedHhFile(), '--out', out, '--model', sharedPath('fixtures', 'bert-tiny'), '--device', 'cpu']);
  assert.equal(r.code, 1);
  const lines = r.stderr.trim().split('\n').filter((l) => l.startsWith('prefrank:'));
  assert.equal(lines.length, 1);
  assert.match(lines[0], /probe default does not match the model: .*width 64 but the probe expects 512/);
  assert.equal(existsSync(join(out, 'run.json')), false);
});
