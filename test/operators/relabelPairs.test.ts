import assert from 'node:assert/strict';
import { test } from 'node:test';
import { relabelPairs } from '../../operators/relabelPairs.js';
import { sigmoid } from '../../src/probe/HybridProbe.js';
import { Stats } from '../../src/runtime/Stats.js';
import { batch, emb, list, pair, reject, scheduler } from './probeItems.js';

const good = pair(1, { rewardChosen: 2, rewardRejected: 0, embChosen: emb(1), embRejected: emb(2) }); // c = sigmoid(2)
const bad = pair(2, { rewardChosen: -1, rewardRejected: 0.5, embChosen: emb(3), embRejected: emb(4) }); // c = sigmoid(-1.5)
const close = pair(3, { rewardChosen: 0.1, rewardRejected: 0, chosenSafe: null, rejectedSafe: null }); // c = sigmoid(0.1)
const f = Math.fround;

test('swap: re-orders texts, labels, embeddings and rewards when c < threshold', () => {
  const stats = new Stats();
  const swapped = {
    ...bad,
    chosen: bad.rejected,
    rejected: bad.chosen,
    chosenSafe: false,
    rejectedSafe: true,
    embChosen: bad.embRejected,
    embRejected: bad.embChosen,
    rewardChosen: 0.5,
    rewardRejected: -1,
    confidence: f(1 - sigmoid(-1.5)),
    flipped: true,
  };
  scheduler().run(({ cold, expectObservable, expectSubscriptions }) => {
    const src = cold('a-b-|', { a: batch(0, []), b: batch(1, [good, reject(7), bad, list(8, ['x'])]) });
    expectObservable(src.pipe(relabelPairs({ alpha: 1, stats }))).toBe('a-b-|', {
      a: batch(0, []),
      b: batch(1, [{ ...good, confidence: f(sigmoid(2)), flipped: false }, reject(7), swapped, list(8, ['x'])]),
    });
    expectSubscriptions(src.subscriptions).toBe('^---!');
  });
  assert.equal(stats.get('relabelPairs.pairs'), 2);
  assert.equal(stats.get('relabelPairs.flipped'), 1);
  assert.equal(stats.metrics.get('relabelPairs.confidence')!.min, f(sigmoid(1.5)));
});

test('threshold and alpha change the decision', () => {
  const stats = new Stats();
  scheduler().run(({ cold, expectObservable }) => {
    const src = cold('a|', { a: batch(0, [close]) });
    // sigmoid(0.1) = 0.525 < 0.6: swapped
    expectObservable(src.pipe(relabelPairs({ alpha: 1, threshold: 0.6, stats }))).toBe('a|', {
      a: batch(0, [{ ...close, chosen: close.rejected, rejected: close.chosen, embChosen: undefined, embRejected: undefined, rewardChosen: 0, rewardRejected: 0.1, confidence: f(1 - sigmoid(0.1)), flipped: true }]),
    });
    // alpha 0: c = 0.5 for every pair, never below 0.5
    expectObservable(src.pipe(relabelPairs({ alpha: 0, stats }))).toBe('a|', { a: batch(0, [{ ...close, confidence: 0.5, flipped: false }]) });
  });
});

test('annotate never swaps; filter turns low-confidence pairs into rejects', () => {
  const stats = new Stats();
  scheduler().run(({ cold, expectObservable }) => {
    const src = cold('a|', { a: batch(0, [good, bad, close]) });
    expectObservable(src.pipe(relabelPairs({ alpha: 1, policy: 'annotate', stats }))).toBe('a|', {
      a: batch(0, [
        { ...good, confidence: f(sigmoid(2)), flipped: false },
        { ...bad, confidence: f(sigmoid(-1.5)), flipped: false },
        { ...close, confidence: f(sigmoid(0.1)), flipped: false },
      ]),
    });
    const raw = JSON.stringify({ pair_id: 'p3', prompt: 'prompt 3', chosen: 'chosen 3', rejected: 'rejected 3', reward_chosen: 0.1, reward_rejected: 0, confidence: f(sigmoid(0.1)) });
    expectObservable(src.pipe(relabelPairs({ alpha: 1, policy: 'filter', minMargin: 0.1, stats }))).toBe('a|', {
      a: batch(0, [
        { ...good, confidence: f(sigmoid(2)), flipped: false },
        { ...bad, confidence: f(sigmoid(-1.5)), flipped: false },
        { kind: 'reject', sourceFile: 'in.jsonl', sourceRow: 3, reason: 'low confidence', raw },
      ]),
    });
  });
  assert.equal(stats.get('relabelPairs.lowConfidence'), 1);
});

test('source error, unsubscribe, missing rewards, bad options', () => {
  const stats = new Stats();
  scheduler().run(({ cold, expectObservable, expectSubscriptions }) => {
    const src = cold('a-#', { a: batch(0, [good]) });
    expectObservable(src.pipe(relabelPairs({ alpha: 1, stats }))).toBe('a-#', { a: batch(0, [{ ...good, confidence: f(sigmoid(2)), flipped: false }]) });
    const never = cold('-a---', { a: batch(0, []) });
    expectObservable(never.pipe(relabelPairs({ alpha: 1, stats })), '^-!').toBe('-a-', { a: batch(0, []) });
    expectSubscriptions(never.subscriptions).toBe('^-!');
    const unscored = cold('a|', { a: batch(0, [pair(4)]) });
    expectObservable(unscored.pipe(relabelPairs({ alpha: 1, stats }))).toBe('#', undefined, new Error('relabelPairs: pair p4 (in.jsonl row 4) has no rewards; scorePairs must run before relabelPairs'));
  });
  assert.throws(() => relabelPairs({ alpha: -1, stats }), /alpha/);
  assert.throws(() => relabelPairs({ alpha: 1, threshold: 1, stats }), /threshold/);
  assert.throws(() => relabelPairs({ alpha: 1, policy: 'drop' as 'swap', stats }), /policy/);
  assert.throws(() => relabelPairs({ alpha: 1, minMargin: 0.7, stats }), /minMargin/);
});
