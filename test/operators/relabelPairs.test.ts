import assert from 'node:assert/strict';
import { test } from 'node:test';
import { relabelPairs } from '../../operators/relabelPairs.js';
import { sigmoid } from '../../src/probe/HybridProbe.js';
import { logit } from '../../src/probe/posterior.js';
import { Stats } from '../../src/runtime/Stats.js';
import { batch, emb, list, pair, reject, scheduler } from './probeItems.js';

const good = pair(1, { rewardChosen: 2, rewardRejected: 0, embChosen: emb(1), embRejected: emb(2) }); // c = sigmoid(2)
const bad = pair(2, { rewardChosen: -1, rewardRejected: 0.5, embChosen: emb(3), embRejected: emb(4) }); // c = sigmoid(-1.5)
const close = pair(3, { rewardChosen: 0.1, rewardRejected: 0, chosenSafe: null, rejectedSafe: null }); // c = sigmoid(0.1)
const f = Math.fround;
/** The paper's rule: uninformative prior, swap whenever c < 0.5. */
const paper = { labelPrior: 0.5, maxWrongFlips: 0.5, unsafeSlope: 0 } as const;

test('swap (paper rule): re-orders texts, labels, embeddings and rewards when c < 0.5', () => {
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
    expectObservable(src.pipe(relabelPairs({ alpha: 1, ...paper, stats }))).toBe('a-b-|', {
      a: batch(0, []),
      b: batch(1, [{ ...good, confidence: f(sigmoid(2)), flipped: false }, reject(7), swapped, list(8, ['x'])]),
    });
    expectSubscriptions(src.subscriptions).toBe('^---!');
  });
  assert.equal(stats.get('relabelPairs.pairs'), 2);
  assert.equal(stats.get('relabelPairs.flipped'), 1);
});

test('posterior: the label prior is evidence, and swaps stay within the damage budget', () => {
  const stats = new Stats();
  // bad: margin -1.5. With prior 0.5 (alpha 1): c = sigmoid(-1.5) = 0.18, a swap breaks a correct
  // pair with probability 0.18: over a budget of 0.05, so it is held back with its c.
  const c5 = sigmoid(-1.5);
  // With prior 0.75 the label counts for logit(0.75) = 1.1: c = sigmoid(1.1 - 1.5) = 0.40, over 0.3.
  const c75 = sigmoid(logit(0.75) - 1.5);
  // alpha 3: c = sigmoid(logit(0.75) - 4.5) = 0.032 <= 0.05: swapped, confidence 1 - c.
  const c75a3 = sigmoid(logit(0.75) - 4.5);
  scheduler().run(({ cold, expectObservable }) => {
    const src = cold('a|', { a: batch(0, [good, bad]) });
    expectObservable(src.pipe(relabelPairs({ alpha: 1, unsafeSlope: 0, labelPrior: 0.5, maxWrongFlips: 0.05, stats }))).toBe('a|', {
      a: batch(0, [{ ...good, confidence: f(sigmoid(2)), flipped: false }, { ...bad, confidence: f(c5), flipped: false }]),
    });
    expectObservable(src.pipe(relabelPairs({ alpha: 1, unsafeSlope: 0, labelPrior: 0.75, maxWrongFlips: 0.3, stats }))).toBe('a|', {
      a: batch(0, [{ ...good, confidence: f(sigmoid(logit(0.75) + 2)), flipped: false }, { ...bad, confidence: f(c75), flipped: false }]),
    });
    expectObservable(src.pipe(relabelPairs({ alpha: 3, unsafeSlope: 0, labelPrior: 0.75, maxWrongFlips: 0.05, stats }))).toBe('a|', {
      a: batch(0, [
        { ...good, confidence: f(sigmoid(logit(0.75) + 6)), flipped: false },
        { ...bad, chosen: bad.rejected, rejected: bad.chosen, chosenSafe: false, rejectedSafe: true, embChosen: bad.embRejected, embRejected: bad.embChosen, rewardChosen: 0.5, rewardRejected: -1, confidence: f(1 - c75a3), flipped: true },
      ]),
    });
    // alpha 0: c = the prior for every pair
    expectObservable(cold('a|', { a: batch(0, [close]) }).pipe(relabelPairs({ alpha: 0, ...paper, stats }))).toBe('a|', { a: batch(0, [{ ...close, confidence: 0.5, flipped: false }]) });
  });
  assert.ok(c5 > 0.05 && c75 > 0.05 && c75a3 <= 0.05, 'the cases above straddle the budget');
  // The slope grows with how unsafe the worse response looks: bad's worse reward is -1 (u = 1), so
  // alpha 1 + unsafeSlope 2 gives the slope of alpha 3 above.
  scheduler().run(({ cold, expectObservable }) => {
    const out = cold('a|', { a: batch(0, [bad]) }).pipe(relabelPairs({ alpha: 1, unsafeSlope: 2, labelPrior: 0.75, maxWrongFlips: 0.05, stats: new Stats() }));
    expectObservable(out).toBe('a|', {
      a: batch(0, [{ ...bad, chosen: bad.rejected, rejected: bad.chosen, chosenSafe: false, rejectedSafe: true, embChosen: bad.embRejected, embRejected: bad.embChosen, rewardChosen: 0.5, rewardRejected: -1, confidence: f(1 - c75a3), flipped: true }]),
    });
  });
  assert.equal(stats.get('relabelPairs.flipped'), 1);
  assert.equal(stats.get('relabelPairs.heldBack'), 2);
});

test('annotate never swaps; filter turns low-confidence pairs into rejects', () => {
  const stats = new Stats();
  scheduler().run(({ cold, expectObservable }) => {
    const src = cold('a|', { a: batch(0, [good, bad, close]) });
    expectObservable(src.pipe(relabelPairs({ alpha: 1, ...paper, policy: 'annotate', stats }))).toBe('a|', {
      a: batch(0, [
        { ...good, confidence: f(sigmoid(2)), flipped: false },
        { ...bad, confidence: f(sigmoid(-1.5)), flipped: false },
        { ...close, confidence: f(sigmoid(0.1)), flipped: false },
      ]),
    });
    const raw = JSON.stringify({ pair_id: 'p3', prompt: 'prompt 3', chosen: 'chosen 3', rejected: 'rejected 3', reward_chosen: 0.1, reward_rejected: 0, confidence: f(sigmoid(0.1)) });
    expectObservable(src.pipe(relabelPairs({ alpha: 1, ...paper, policy: 'filter', minMargin: 0.1, stats }))).toBe('a|', {
      a: batch(0, [
        { ...good, confidence: f(sigmoid(2)), flipped: false },
        { ...bad, confidence: f(sigmoid(-1.5)), flipped: false },
        { kind: 'reject', sourceFile: 'in.jsonl', sourceRow: 3, reason: 'low confidence', raw },
      ]),
    });
  });
  assert.equal(stats.get('relabelPairs.lowConfidence'), 1);
});

test('source error, unsubscribe, bad options', () => {
  const stats = new Stats();
  scheduler().run(({ cold, expectObservable, expectSubscriptions }) => {
    const src = cold('a-#', { a: batch(0, [good]) });
    expectObservable(src.pipe(relabelPairs({ alpha: 1, ...paper, stats }))).toBe('a-#', { a: batch(0, [{ ...good, confidence: f(sigmoid(2)), flipped: false }]) });
    const never = cold('-a---', { a: batch(0, []) });
    expectObservable(never.pipe(relabelPairs({ alpha: 1, ...paper, stats })), '^-!').toBe('-a-', { a: batch(0, []) });
    expectSubscriptions(never.subscriptions).toBe('^-!');
  });
  assert.throws(() => relabelPairs({ alpha: -1, ...paper, stats }), /alpha/);
  assert.throws(() => relabelPairs({ alpha: 1, unsafeSlope: 0, labelPrior: 1, maxWrongFlips: 0.05, stats }), /labelPrior/);
  assert.throws(() => relabelPairs({ alpha: 1, unsafeSlope: 0, labelPrior: 0.7, maxWrongFlips: 0.6, stats }), /maxWrongFlips/);
  assert.throws(() => relabelPairs({ alpha: 1, unsafeSlope: 0, labelPrior: 0.7, maxWrongFlips: 0, stats }), /maxWrongFlips/);
  assert.throws(() => relabelPairs({ alpha: 1, ...paper, policy: 'drop' as 'swap', stats }), /policy/);
  assert.throws(() => relabelPairs({ alpha: 1, ...paper, minMargin: 0.5, stats }), /minMargin/);
});
