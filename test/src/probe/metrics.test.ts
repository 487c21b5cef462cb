import assert from 'node:assert/strict';
import { test } from 'node:test';
import { sigmoid } from '../../../src/probe/HybridProbe.js';
import { accuracyByGroup, auroc, fitAlpha, pairReliability, pairwiseAccuracy, reliability } from '../../../src/probe/metrics.js';
import { Prng } from '../../../src/probe/Prng.js';

test('pairwise accuracy counts ties half', () => {
  assert.equal(pairwiseAccuracy([1, 2, 3, 0], [0, 2, 4, -1]), (1 + 0.5 + 0 + 1) / 4);
  assert.ok(Number.isNaN(pairwiseAccuracy([], [])));
});

test('AUROC: perfect, reversed, ties, one class', () => {
  assert.equal(auroc([0.1, 0.2, 0.8, 0.9], [false, false, true, true]), 1);
  assert.equal(auroc([0.9, 0.8, 0.2, 0.1], [false, false, true, true]), 0);
  assert.equal(auroc([0.5, 0.5, 0.5, 0.5], [false, true, false, true]), 0.5);
  // positives {0.4, 0.8}, negatives {0.1, 0.4, 0.6}: wins 1 + 0.5 (tie) + 0... = (2 + 0.5) + 3 over 6
  assert.equal(auroc([0.4, 0.8, 0.1, 0.4, 0.6], [true, true, false, false, false]), (1 + 0.5 + 3) / 6);
  assert.equal(auroc([1, 2], [true, true]), null);
});

test('reliability table and ECE', () => {
  const r = reliability([0.05, 0.15, 0.95, 0.95], [false, true, true, false], 10);
  assert.equal(r.bins.length, 10);
  assert.equal(r.bins[0].n, 1);
  assert.equal(r.bins[9].n, 2);
  assert.equal(r.bins[9].accuracy, 0.5);
  // ECE = 1/4 |0 - 0.05| + 1/4 |1 - 0.15| + 2/4 |0.5 - 0.95|
  assert.ok(Math.abs(r.ece - (0.05 / 4 + 0.85 / 4 + 0.45 / 2)) < 1e-12);
  const p = pairReliability([2, -1, 0.5], [0, 0, 0], 1);
  assert.equal(p.bins.reduce((a, b) => a + b.n, 0), 3);
  assert.ok(p.bins[0].lo === 0.5);
});

test('fitAlpha recovers the temperature of a logistic label model', () => {
  const r = new Prng(4);
  const d: number[] = [];
  for (let i = 0; i < 20000; i++) {
    const x = r.normal() * 2;
    // The label agrees with the sign of x with probability sigmoid(1.5 x).
    d.push(r.next() < sigmoid(1.5 * x) ? x : -x);
  }
  const a = fitAlpha(d);
  assert.ok(Math.abs(a - 1.5) < 0.1, `alpha ${a}`);
  assert.equal(fitAlpha([1, 2, 3]), 100); // separable: no finite maximum
  assert.equal(fitAlpha([-1, -2, 0.5]), 0);
  assert.equal(fitAlpha([]), 0);
});

test('accuracy by group is sorted by group', () => {
  assert.deepEqual(accuracyByGroup(['b', 'a', 'b'], [1, 0, 0], [0, 1, 1]), [
    { group: 'a', n: 1, accuracy: 0 },
    { group: 'b', n: 2, accuracy: 0.5 },
  ]);
});
