import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Prng } from '../../../src/probe/Prng.js';

test('same seed, same stream; different seeds differ', () => {
  const a = new Prng(7), b = new Prng(7), c = new Prng(8);
  const xa = Array.from({ length: 5 }, () => a.nextUint32());
  assert.deepEqual(xa, Array.from({ length: 5 }, () => b.nextUint32()));
  assert.notDeepEqual(xa, Array.from({ length: 5 }, () => c.nextUint32()));
});

test('uniform and normal have the right moments', () => {
  const r = new Prng(1);
  let s = 0, s2 = 0, n = 20000, mu = 0;
  for (let i = 0; i < n; i++) {
    const u = r.next();
    assert.ok(u >= 0 && u < 1);
    mu += u;
    const z = r.normal();
    s += z;
    s2 += z * z;
  }
  assert.ok(Math.abs(mu / n - 0.5) < 0.01);
  assert.ok(Math.abs(s / n) < 0.03);
  assert.ok(Math.abs(s2 / n - 1) < 0.05);
});

test('permutation is a permutation', () => {
  const p = new Prng(3).permutation(100);
  assert.deepEqual([...p].sort((a, b) => a - b), Array.from({ length: 100 }, (_, i) => i));
  assert.throws(() => new Prng(1.5), RangeError);
});
