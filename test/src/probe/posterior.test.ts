import assert from 'node:assert/strict';
import { test } from 'node:test';
import { sigmoid } from '../../../src/probe/HybridProbe.js';
import {
  addExpectedErrors,
  emptyExpectedErrors,
  fitLabelPrior,
  impliedLabelPrior,
  labelPosterior,
  relabelOutcomes,
  shouldSwap,
  sumExpectedErrors,
  tradeoffCurve,
} from '../../../src/probe/posterior.js';
import { Prng } from '../../../src/probe/Prng.js';

test('labelPosterior: prior 0.5 is the paper form; a reliable label needs more evidence to lose', () => {
  for (const d of [-3, -0.4, 0, 1.2]) assert.ok(Math.abs(labelPosterior(0.5, 0.8, d) - sigmoid(0.8 * d)) < 1e-12);
  assert.ok(Math.abs(labelPosterior(0.75, 0, 5) - 0.75) < 1e-12, 'no evidence: the prior');
  assert.ok(labelPosterior(0.9, 1, -1) > labelPosterior(0.6, 1, -1));
  assert.equal(shouldSwap(0.04, 0.05), true);
  assert.equal(shouldSwap(0.06, 0.05), false);
  assert.equal(shouldSwap(0.5, 0.5), false, 'a coin flip is no reason to swap');
});

/**
 * Pairs from the label-noise model: a true margin d* ~ N(mu, 1) in the true order (the probe's
 * view), the label kept with probability p0, d = d* when kept and -d* when flipped.
 */
function simulate(n: number, p0: number, mu: number, seed: number): number[] {
  const rng = new Prng(seed);
  return Array.from({ length: n }, () => {
    const dTrue = mu + rng.normal();
    return rng.next() < p0 ? dTrue : -dTrue;
  });
}

test('fitLabelPrior recovers the labels\' reliability when the probe separates well', () => {
  for (const p0 of [0.6, 0.75, 0.9]) {
    const fit = fitLabelPrior(simulate(4000, p0, 3, 11))!;
    assert.ok(Math.abs(fit.labelPrior - p0) < 0.03, `p0 ${p0}: fitted ${fit.labelPrior}`);
    assert.ok(fit.probeAccuracy > 0.95, `accuracy ${fit.probeAccuracy}`);
  }
  assert.equal(fitLabelPrior([]), null);
  // Deterministic: the same margins give the same numbers.
  assert.deepEqual(fitLabelPrior(simulate(300, 0.7, 1, 3)), fitLabelPrior(simulate(300, 0.7, 1, 3)));
});

test('impliedLabelPrior: the moment estimate p0 = (q - (1 - a)) / (2a - 1)', () => {
  // Labels right 80% of the time, probe right 90%: agreement 0.8*0.9 + 0.2*0.1 = 0.74.
  assert.ok(Math.abs(impliedLabelPrior(0.74, 0.9)! - 0.8) < 1e-12);
  assert.equal(impliedLabelPrior(0.6, 0.5), null, 'a chance-level probe says nothing');
  assert.equal(impliedLabelPrior(0.01, 0.9), 0, 'clamped');
});

test('expected errors are sums of posteriors over what was kept and what was swapped', () => {
  const e = emptyExpectedErrors();
  addExpectedErrors(e, 0.9, false); // kept, wrong with 0.1 before and after
  addExpectedErrors(e, 0.97, true); // swapped: the swap was wrong with 0.03; before, wrong with 0.97
  addExpectedErrors(e, 0.3, false); // kept although doubtful: held back
  assert.ok(Math.abs(e.expectedWrongFlips - 0.03) < 1e-12);
  assert.ok(Math.abs(e.expectedWrongAfter - (0.1 + 0.03 + 0.7)) < 1e-12);
  assert.ok(Math.abs(e.expectedWrongBefore - (0.1 + 0.97 + 0.7)) < 1e-12);
  assert.equal(e.heldBack, 1);
  const total = sumExpectedErrors([e, undefined, e])!;
  assert.deepEqual(total, { expectedWrongFlips: 0.06, expectedWrongAfter: 1.66, expectedWrongBefore: 3.54, heldBack: 2 });
  assert.equal(sumExpectedErrors([undefined]), undefined);
});

test('tradeoffCurve counts flips undone and correct pairs broken, as rerank would decide', () => {
  // Clean-order margins; pairs 0 and 1 are presented flipped.
  const d = [4, 0.2, 3, -0.5];
  const flipped = [true, true, false, false];
  const [paperRow, strict] = tradeoffCurve(d, 1, [{ labelPrior: 0.5, maxWrongFlips: 0.5 }, { labelPrior: 0.75, maxWrongFlips: 0.05 }], flipped);
  // Paper rule swaps every presented margin < 0: pairs 0 (-4), 1 (-0.2) and 3 (-0.5).
  assert.deepEqual([paperRow.undone, paperRow.broken, paperRow.flippedIn], [2, 1, 2]);
  assert.equal(paperRow.agreeAfter, (2 + 2 - 1) / 4);
  // Posterior, prior 0.75, budget 0.05: only pair 0 (c = sigmoid(1.1 - 4) = 0.052 > 0.05: none).
  assert.deepEqual([strict.undone, strict.broken], [0, 0]);
  const o = relabelOutcomes([6, 1], 1, { labelPrior: 0.75, maxWrongFlips: 0.05 }, [true, false]);
  assert.deepEqual([...o.outcome], [1, 0]);
  assert.ok(Math.abs(o.expectedWrongFlips - sigmoid(Math.log(3) - 6)) < 1e-12);
});
