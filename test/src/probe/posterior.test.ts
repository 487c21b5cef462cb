import assert from 'node:assert/strict';
import { test } from 'node:test';
import { sigmoid } from '../../../src/probe/HybridProbe.js';
import { addExpectedErrors, emptyExpectedErrors, sumExpectedErrors } from '../../../schemas/manifest.js';
import {
  evidence,
  fitCalibration,
  impliedLabelPrior,
  labelPosterior,
  relabelOutcomes,
  shouldSwap,
  tradeoffCurve,
} from '../../../src/probe/posterior.js';
import { Prng } from '../../../src/probe/Prng.js';

const plain = (alpha: number) => ({ alpha, unsafeSlope: 0 });

test('labelPosterior: prior 0.5 is the paper form; a reliable label needs more evidence to lose', () => {
  for (const d of [-3, -0.4, 0, 1.2]) assert.ok(Math.abs(labelPosterior(0.5, plain(0.8), d, 0) - sigmoid(0.8 * d)) < 1e-12);
  assert.ok(Math.abs(labelPosterior(0.75, plain(0), 5, 0) - 0.75) < 1e-12, 'no evidence: the prior');
  assert.ok(labelPosterior(0.9, plain(1), -1, 0) > labelPosterior(0.6, plain(1), -1, 0));
  // The evidence is antisymmetric, and its slope grows with how unsafe the worse response looks.
  const e = { alpha: 0.5, unsafeSlope: 1 };
  assert.equal(evidence(e, 2, -3), -evidence(e, -3, 2));
  assert.equal(evidence(e, 2, -3), 5 * (0.5 + 3));
  assert.equal(evidence({ alpha: 0.5, unsafeSlope: 1 }, 5, 4), 0, 'the slope never turns negative (u = -4)');
  assert.equal(shouldSwap(0.04, 0.05), true);
  assert.equal(shouldSwap(0.06, 0.05), false);
  assert.equal(shouldSwap(0.5, 0.5), false, 'a coin flip is no reason to swap');
});

/**
 * Pairs from the label-noise model: a reward margin d ~ N(0, spread); the true order agrees with it
 * with probability sigmoid(slope d) (the true-order model); the label keeps the true order with
 * probability p0 (p0 = 1: clean pairs). Rewards (d/2, -d/2) in the label's order.
 */
function simulate(n: number, p0: number, slope: number, spread: number, seed: number): { rc: number[]; rr: number[] } {
  const rng = new Prng(seed);
  const rc: number[] = [];
  const rr: number[] = [];
  for (let i = 0; i < n; i++) {
    const d = spread * rng.normal();
    const inTrueOrder = rng.next() < sigmoid(slope * d) ? d : -d;
    const labelled = rng.next() < p0 ? inTrueOrder : -inTrueOrder;
    rc.push(labelled / 2);
    rr.push(-labelled / 2);
  }
  return { rc, rr };
}

test("fitCalibration recovers the labels' reliability, and clean pairs pin down the slope", () => {
  for (const p0 of [0.6, 0.75, 0.9]) {
    const fit = fitCalibration(simulate(4000, p0, 2, 3, 11))!;
    assert.ok(Math.abs(fit.labelPrior - p0) < 0.03, `p0 ${p0}: fitted ${fit.labelPrior}`);
    // The accuracy against the true order, under the fitted model (slope 2, margins of spread 3:
    // the true-order model gives about 0.91), so that the implied reliability of a run is consistent.
    assert.ok(Math.abs(fit.probeAccuracy - 0.91) < 0.03, `accuracy ${fit.probeAccuracy}`);
    assert.equal(fit.slopeSource, 'agreement');
    assert.equal(fit.unsafeSlope, 0);
  }
  // A weak probe (margins of spread 0.5): noisy pairs alone cannot tell the slope from p0; clean
  // pairs from the same true-order model pin the slope down, and p0 follows.
  const fit = fitCalibration(simulate(2000, 0.8, 2, 0.5, 12), simulate(3000, 1, 2, 1.5, 5))!;
  assert.equal(fit.slopeSource, 'clean pairs');
  assert.ok(Math.abs(fit.alpha - 2) < 0.4, `alpha ${fit.alpha}, unsafe slope ${fit.unsafeSlope}`);
  assert.ok(Math.abs(fit.labelPrior - 0.8) < 0.08, `label prior ${fit.labelPrior}`);
  assert.equal(fitCalibration({ rc: [], rr: [] }), null);
  // Deterministic: the same rewards give the same numbers.
  assert.deepEqual(fitCalibration(simulate(300, 0.7, 2, 1, 3)), fitCalibration(simulate(300, 0.7, 2, 1, 3)));
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
  const d = { rc: [4, 0.2, 3, -0.5], rr: [0, 0, 0, 0] };
  const flipped = [true, true, false, false];
  const [paperRow, strict] = tradeoffCurve(d, plain(1), [{ labelPrior: 0.5, maxWrongFlips: 0.5 }, { labelPrior: 0.75, maxWrongFlips: 0.05 }], flipped);
  // Paper rule swaps every presented margin < 0: pairs 0 (-4), 1 (-0.2) and 3 (-0.5).
  assert.deepEqual([paperRow.undone, paperRow.broken, paperRow.flippedIn], [2, 1, 2]);
  assert.equal(paperRow.agreeAfter, (2 + 2 - 1) / 4);
  // Posterior, prior 0.75, budget 0.05: only pair 0 (c = sigmoid(1.1 - 4) = 0.052 > 0.05: none).
  assert.deepEqual([strict.undone, strict.broken], [0, 0]);
  const o = relabelOutcomes({ rc: [6, 1], rr: [0, 0] }, { ...plain(1), labelPrior: 0.75, maxWrongFlips: 0.05 }, [true, false]);
  assert.deepEqual([...o.outcome], [1, 0]);
  assert.ok(Math.abs(o.expectedWrongFlips - sigmoid(Math.log(3) - 6)) < 1e-12);
});
