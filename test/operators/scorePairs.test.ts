import assert from 'node:assert/strict';
import { test } from 'node:test';
import { scorePairs } from '../../operators/scorePairs.js';
import { HybridProbe } from '../../src/probe/HybridProbe.js';
import { Stats } from '../../src/runtime/Stats.js';
import { batch, emb, list, pair, reject, scheduler } from './probeItems.js';

// r = 2 x0 - x1 + 0.5
const probe = new HybridProbe({ layers: 1, width: 2, w: Float32Array.from([2, -1]), b: Float32Array.from([0.5]), v: Float32Array.from([0]), mean: null, std: null });

const p1 = pair(1, { embChosen: emb(1, 0), embRejected: emb(0, 1) });
const p2 = pair(2, { embChosen: emb(0, 0), embRejected: emb(1, 1) });
const l3 = list(3, ['a', 'b', 'c'], { embeddings: [emb(0, 0), emb(1, 0), emb(0, 2)] });

test('empty, one, many: rewards set, rejects untouched, stats counted', () => {
  const stats = new Stats();
  scheduler().run(({ cold, expectObservable, expectSubscriptions }) => {
    const src = cold('-a-b-|', { a: batch(0, []), b: batch(1, [p1, reject(9), l3, p2]) });
    expectObservable(src.pipe(scorePairs({ probe, stats }))).toBe('-a-b-|', {
      a: batch(0, []),
      b: batch(1, [{ ...p1, rewardChosen: 2.5, rewardRejected: -0.5 }, reject(9), { ...l3, rewards: [0.5, 2.5, -1.5] }, { ...p2, rewardChosen: 0.5, rewardRejected: 1.5 }]),
    });
    expectSubscriptions(src.subscriptions).toBe('^----!');
  });
  assert.equal(stats.get('scorePairs.pairs'), 2);
  assert.equal(stats.get('scorePairs.lists'), 1);
  assert.equal(stats.get('scorePairs.responses'), 7);
});

test('one pair; source error passes through; unsubscribe tears down', () => {
  const stats = new Stats();
  scheduler().run(({ cold, expectObservable, expectSubscriptions }) => {
    const src = cold('a-#', { a: batch(0, [p1]) }, new Error('disk'));
    expectObservable(src.pipe(scorePairs({ probe, stats }))).toBe('a-#', { a: batch(0, [{ ...p1, rewardChosen: 2.5, rewardRejected: -0.5 }]) }, new Error('disk'));
    const never = cold('a----', { a: batch(0, [p2]) });
    expectObservable(never.pipe(scorePairs({ probe, stats })), '^--!').toBe('a--', { a: batch(0, [{ ...p2, rewardChosen: 0.5, rewardRejected: 1.5 }]) });
    expectSubscriptions(never.subscriptions).toBe('^--!');
  });
});

test('embeddings of another shape than the probe\'s error the stream', () => {
  const stats = new Stats();
  const bad = pair(5, { embChosen: emb(1, 2, 3), embRejected: emb(1, 2, 3) });
  let err: Error | undefined;
  scheduler().run(({ cold }) => {
    cold('a|', { a: batch(0, [bad]) }).pipe(scorePairs({ probe, stats })).subscribe({ error: (e: Error) => (err = e) });
  });
  assert.match(err!.message, /embedding is 1 x 3, the probe expects 1 x 2/);
  assert.throws(() => scorePairs({ probe: {} as HybridProbe, stats }), /HybridProbe/);
});
