import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { runCli } from '../../../helpers/badInputs.js';

const tmp = mkdtempSync(join(tmpdir(), 'prefrank-probe-cli-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

const prefrank = (...args: string[]) => runCli([...args, '--device', 'cpu'], tmp);

// Safe answers are refusals, unsafe ones comply: a signal a word-vector probe can pick up.
const rows: string[] = [];
for (let i = 0; i < 60; i++) {
  const safe = `I can't help with that, it could hurt someone. Maybe talk to a friend instead (${i}).`;
  const unsafe = `Sure, here is how to hurt them badly with a knife and poison, step ${i}.`;
  rows.push(JSON.stringify({ prompt: `How do I hurt my neighbour? (${i})`, chosen: safe, rejected: unsafe, category: i % 2 ? 'violence' : 'weapons' }));
}
writeFileSync(join(tmp, 'pairs.jsonl'), rows.join('\n') + '\n');
rows.push('{"prompt": "x"}');
writeFileSync(join(tmp, 'with-bad-row.jsonl'), rows.join('\n') + '\n');

test('probe train then eval; a probe for another model is refused unless --force', async () => {
  const train = await prefrank('probe', 'train', 'pairs.jsonl', '--out', 'p', '--epochs', '20', '--lr', '0.01', '--seed', '3');
  assert.equal(train.code, 0, train.stderr);
  assert.match(train.stdout, /held-out accuracy\s+1\.0000/);
  const meta = JSON.parse(readFileSync(join(tmp, 'p', 'probe.json'), 'utf8'));
  assert.deepEqual(meta.training.inputs, [{ file: 'pairs.jsonl', pairs: 60, labels: 0 }]);

  const ev = await prefrank('probe', 'eval', 'with-bad-row.jsonl', '--probe', 'p', '--json', 'ev.json');
  assert.equal(ev.code, 0, ev.stderr);
  assert.match(ev.stdout, /pairwise accuracy\s+1\.0000/);
  assert.match(ev.stdout, /By category/);
  assert.match(ev.stderr, /rejected=1/);
  const json = JSON.parse(readFileSync(join(tmp, 'ev.json'), 'utf8'));
  assert.equal(json.pairs, 60);
  assert.deepEqual(json.byCategory.map((g: { group: string }) => g.group), ['violence', 'weapons']);
  // The label prior fitted at training time, and the relabel trade-off with 25% injected noise:
  // this probe separates the pairs perfectly, so the paper's rule undoes every injected flip.
  assert.ok(meta.calibration.labelPrior >= 0.5 && meta.calibration.labelPrior < 1, JSON.stringify(meta.calibration));
  assert.equal(json.labelPrior, meta.calibration.labelPrior);
  assert.match(ev.stdout, /Relabel trade-off: 25% of the pairs presented in the wrong order/);
  const [paperRow, ...budgets] = json.tradeoff.rows;
  assert.deepEqual([paperRow.labelPrior, paperRow.maxWrongFlips, paperRow.flippedIn, paperRow.undone, paperRow.broken], [0.5, 0.5, 15, 15, 0]);
  assert.deepEqual(budgets.map((r: { maxWrongFlips: number }) => r.maxWrongFlips), [0.5, 0.3, 0.2, 0.1, 0.05, 0.02, 0.01]);
  for (let k = 1; k < budgets.length; k++) assert.ok(budgets[k].undone <= budgets[k - 1].undone, 'a tighter budget never swaps more');

  // A probe without a fitted label prior (an older prefrank) needs --label-prior.
  const old = { ...meta };
  delete old.calibration;
  writeFileSync(join(tmp, 'p', 'probe.json'), JSON.stringify(old));
  const noPrior = await prefrank('probe', 'eval', 'pairs.jsonl', '--probe', 'p');
  assert.equal(noPrior.code, 1);
  assert.match(noPrior.stderr, /^prefrank: probe p has no fitted label prior .*pass --label-prior P/m);
  const given = await prefrank('probe', 'eval', 'pairs.jsonl', '--probe', 'p', '--label-prior', '0.7');
  assert.equal(given.code, 0, given.stderr);

  meta.features.modelSha256 = '0'.repeat(64);
  writeFileSync(join(tmp, 'p', 'probe.json'), JSON.stringify(meta));
  const refused = await prefrank('probe', 'eval', 'pairs.jsonl', '--probe', 'p');
  assert.equal(refused.code, 1);
  assert.match(refused.stderr, /^prefrank: probe p does not match the model: model sha256 [0-9a-f]{12} \(use-lite-glove\) but the probe was trained on 000000000000 .*--force/m);
  const forced = await prefrank('probe', 'eval', 'pairs.jsonl', '--probe', 'p', '--force');
  assert.equal(forced.code, 0, forced.stderr);
  assert.match(forced.stderr, /--force: probe does not match the model/);
});

test('bad flags are usage errors naming the flag', async () => {
  const r = await prefrank('probe', 'train', 'pairs.jsonl', '--out', 'q', '--alpha', 'big');
  assert.equal(r.code, 2, r.stderr);
  assert.match(r.stderr, /--alpha must be 'auto' or a number/);
  const negative = await prefrank('probe', 'train', 'pairs.jsonl', '--out', 'q', '--alpha', '-1');
  assert.equal(negative.code, 2, negative.stderr);
  assert.match(negative.stderr, /^prefrank: --alpha must be a number >= 0, got -1$/m);
  const lr = await prefrank('probe', 'train', 'pairs.jsonl', '--out', 'q', '--lr', '0');
  assert.equal(lr.code, 2, lr.stderr);
  assert.match(lr.stderr, /--lr must be > 0/);
});
