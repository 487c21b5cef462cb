import assert from 'node:assert/strict';
import { test } from 'node:test';
import { HybridProbe, sigmoid } from '../../../src/probe/HybridProbe.js';
import { Prng } from '../../../src/probe/Prng.js';

function randomProbe(L: number, D: number, seed: number, standardize = false): HybridProbe {
  const r = new Prng(seed);
  const f = (n: number, s = 1) => Float32Array.from({ length: n }, () => s * r.normal());
  return new HybridProbe({
    layers: L,
    width: D,
    w: f(L * D),
    b: f(L),
    v: f(L * L),
    mean: standardize ? f(L * D) : null,
    std: standardize ? Float32Array.from({ length: L * D }, () => 0.5 + r.next()) : null,
  });
}

test('one layer is a plain linear probe', () => {
  const p = randomProbe(1, 4, 1);
  const x = Float32Array.from([1, 2, -1, 0.5]);
  const want = p.w[0] * 1 + p.w[1] * 2 - p.w[2] + p.w[3] * 0.5 + p.b[0];
  assert.equal(p.score(x), Math.fround(want));
});

test('several layers: r = sum_l sigmoid(V s)_l s_l', () => {
  const L = 3, D = 2;
  const p = randomProbe(L, D, 2);
  const x = Float32Array.from([0.3, -1, 2, 0.1, -0.7, 1.5]);
  const s = [0, 1, 2].map((l) => p.w[l * D] * x[l * D] + p.w[l * D + 1] * x[l * D + 1] + p.b[l]);
  let r = 0;
  for (let k = 0; k < L; k++) r += sigmoid(p.v[k * L] * s[0] + p.v[k * L + 1] * s[1] + p.v[k * L + 2] * s[2]) * s[k];
  assert.ok(Math.abs(p.score(x) - r) < 1e-5 * Math.max(1, Math.abs(r)));
});

test('standardisation applies (x - mean) / std', () => {
  const p = randomProbe(2, 3, 3, true);
  const x = Float32Array.from([1, 2, 3, 4, 5, 6]);
  const z = Float32Array.from(x, (v, i) => (v - p.mean![i]) / p.std![i]);
  const raw = new HybridProbe({ ...p, mean: null, std: null });
  assert.ok(Math.abs(p.score(x) - raw.score(z)) < 1e-5);
});

test('batched scoring equals one at a time and is deterministic', () => {
  const p = randomProbe(3, 5, 4, true);
  const r = new Prng(9);
  const m = Float32Array.from({ length: 7 * 15 }, () => r.normal());
  const batch = p.scoreMatrix(m, 7);
  for (let i = 0; i < 7; i++) assert.equal(batch[i], p.score(m.subarray(i * 15, (i + 1) * 15)));
  assert.deepEqual(p.scoreMatrix(m, 7), batch);
  const embs = Array.from({ length: 7 }, (_, i) => ({ features: m.slice(i * 15, (i + 1) * 15), layers: 3, width: 5, tokens: 1, truncated: false }));
  assert.deepEqual(p.scoreEmbeddings(embs), batch);
  assert.throws(() => p.scoreEmbeddings([{ features: new Float32Array(10), layers: 2, width: 5, tokens: 1, truncated: false }]), /2 x 5/);
});

test('tensors round trip', () => {
  const p = randomProbe(2, 3, 5, true);
  const q = HybridProbe.fromTensors(p.toTensors());
  assert.deepEqual(q, p);
  assert.throws(() => new HybridProbe({ ...p, b: new Float32Array(3) }), /b has 3/);
});
