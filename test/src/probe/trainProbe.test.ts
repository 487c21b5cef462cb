import assert from 'node:assert/strict';
import { test } from 'node:test';
import { hybridForward } from '../../../src/probe/HybridProbe.js';
import { Prng } from '../../../src/probe/Prng.js';
import { labelLossAndGradient, pairLossAndGradient, splitIndices, trainProbe, type ProbeParams } from '../../../src/probe/trainProbe.js';
import { syntheticLabels, syntheticPairs } from './synthetic.js';

function params(L: number, D: number, seed: number): ProbeParams {
  const r = new Prng(seed);
  const f = (n: number) => Float64Array.from({ length: n }, () => r.normal() * 0.7);
  return { L, D, w: f(L * D), b: f(L), v: f(L * L) };
}

function zeros(p: ProbeParams): ProbeParams {
  return { L: p.L, D: p.D, w: new Float64Array(p.w.length), b: new Float64Array(p.b.length), v: new Float64Array(p.v.length) };
}

/** Central finite differences of `loss` against every parameter, compared with the analytic gradient. */
function checkGradient(p: ProbeParams, loss: (q: ProbeParams, grad: ProbeParams | null) => number): void {
  const grad = zeros(p);
  loss(p, grad);
  const h = 1e-6;
  for (const key of ['w', 'b', 'v'] as const) {
    if (key === 'v' && p.L === 1) continue; // no gate with one layer
    for (let i = 0; i < p[key].length; i++) {
      const old = p[key][i];
      p[key][i] = old + h;
      const up = loss(p, null);
      p[key][i] = old - h;
      const down = loss(p, null);
      p[key][i] = old;
      const fd = (up - down) / (2 * h);
      assert.ok(Math.abs(fd - grad[key][i]) < 1e-6 + 1e-5 * Math.abs(fd), `${key}[${i}]: analytic ${grad[key][i]} vs finite difference ${fd}`);
    }
  }
}

for (const L of [1, 3]) {
  test(`pair and label gradients match finite differences (${L} layer(s))`, () => {
    const D = 4;
    const r = new Prng(11 + L);
    const x = () => Float64Array.from({ length: L * D }, () => r.normal());
    const p = params(L, D, L);
    const xc = x(), xr = x(), xl = x();
    checkGradient(p, (q, g) => pairLossAndGradient(q, xc, xr, 1, 0.5, g) * (g ? 1 : 0.5));
    checkGradient(p, (q, g) => labelLossAndGradient(q, xl, true, 1, g));
    checkGradient(p, (q, g) => labelLossAndGradient(q, xl, false, 1, g));
  });
}

test('the loss is what the paper says: -log sigmoid(r_c - r_r - m)', () => {
  const p = params(2, 3, 5);
  const r = new Prng(1);
  const xc = Float64Array.from({ length: 6 }, () => r.normal()), xr = Float64Array.from({ length: 6 }, () => r.normal());
  const d = hybridForward(2, 3, p.w, p.b, p.v, xc, 0) - hybridForward(2, 3, p.w, p.b, p.v, xr, 0);
  assert.ok(Math.abs(pairLossAndGradient(p, xc, xr, 1, 1, null) - Math.log1p(Math.exp(-(d - 1)))) < 1e-12);
});

test('splitIndices is seeded, disjoint and complete', () => {
  const [a, b] = splitIndices(50, 0.2, 3);
  assert.equal(b.length, 10);
  assert.deepEqual([...a, ...b].sort((x, y) => x - y), Array.from({ length: 50 }, (_, i) => i));
  assert.deepEqual(splitIndices(50, 0.2, 3), [a, b]);
  assert.notDeepEqual(splitIndices(50, 0.2, 4)[1], b);
});

test('learns a planted direction from pairs, deterministically, and fits alpha', () => {
  const pairs = syntheticPairs(300, 2, 8, 1, 0.1);
  const opts = { layers: 2, width: 8, epochs: 30, seed: 5, lr: 1e-2 };
  const a = trainProbe(pairs, [], opts);
  const b = trainProbe(pairs, [], opts);
  assert.deepEqual(a.probe, b.probe);
  assert.equal(a.alpha, b.alpha);
  assert.equal(a.metrics.heldOutPairs, 60);
  // 10% of labels are flipped, so ~0.9 is the ceiling against the noisy labels.
  assert.ok(a.metrics.heldOutAccuracy! > 0.8, `held-out accuracy ${a.metrics.heldOutAccuracy}`);
  assert.ok(a.alpha > 0 && a.alpha < 100);
  assert.ok(a.metrics.bestEpoch >= 1 && a.metrics.bestEpoch <= a.metrics.epochsRun);
  assert.deepEqual(a.metrics.heldOutByGroup.map((g) => g.group), ['even', 'odd']);
  assert.ok(a.probe.mean && a.probe.std);
  const c = trainProbe(pairs, [], { ...opts, seed: 6 });
  assert.notDeepEqual(c.probe.w, a.probe.w);
});

test('learns from labels alone and from both', () => {
  const labels = syntheticLabels(300, 1, 8, 2);
  const a = trainProbe([], labels, { layers: 1, width: 8, epochs: 20, seed: 1, lr: 1e-2 });
  assert.ok(a.metrics.heldOutAuroc! > 0.9, `auroc ${a.metrics.heldOutAuroc}`);
  assert.equal(a.metrics.heldOutAccuracy, null);
  const both = trainProbe(syntheticPairs(100, 1, 8, 3), labels, { layers: 1, width: 8, epochs: 20, seed: 1, lr: 1e-2, standardize: false, alpha: 2 });
  assert.equal(both.alpha, 2);
  assert.equal(both.alphaSource, 'fixed');
  assert.equal(both.probe.mean, null);
  assert.ok(both.metrics.heldOutAccuracy! > 0.8);
});

test('bad options and shapes are RangeErrors', () => {
  const pairs = syntheticPairs(10, 1, 4, 1);
  assert.throws(() => trainProbe(pairs, [], { layers: 1, width: 4, lr: -1 }), /lr must be > 0/);
  assert.throws(() => trainProbe(pairs, [], { layers: 1, width: 4, holdout: 1 }), /holdout/);
  assert.throws(() => trainProbe(pairs, [], { layers: 1, width: 5 }), /pair 0 has 4\/4 features/);
  assert.throws(() => trainProbe([], [], { layers: 1, width: 4 }), /no training data/);
});
