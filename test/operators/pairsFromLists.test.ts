import assert from 'node:assert/strict';
import { test } from 'node:test';
import { pairsFromLists, parsePairsSpec } from '../../operators/pairsFromLists.js';
import type { ScoredList, ScoredPair } from '../../schemas/records.js';
import { Stats } from '../../src/runtime/Stats.js';
import { batch, emb, list, pair, reject, scheduler } from './probeItems.js';

const e = [emb(0), emb(1), emb(2), emb(3)];
// ranks by reward: b (0.9), d (0.5), a (0.1), c (0.1; ties keep input order)
const l0 = list(0, ['a', 'b', 'c', 'd'], { rewards: [0.1, 0.9, 0.1, 0.5], labels: [false, true, null, true], embeddings: e, passThrough: { src: 'x' } }) as ScoredList;

function pairOf(l: ScoredList, i: number, j: number): ScoredPair {
  return {
    kind: 'pair',
    pairId: `${l.listId}:${i}-${j}`,
    sourceFile: l.sourceFile,
    sourceRow: l.sourceRow,
    prompt: l.prompt,
    chosen: l.responses[i],
    rejected: l.responses[j],
    chosenSafe: l.labels?.[i] ?? null,
    rejectedSafe: l.labels?.[j] ?? null,
    category: l.category,
    passThrough: l.passThrough,
    embChosen: l.embeddings[i],
    embRejected: l.embeddings[j],
    rewardChosen: l.rewards[i],
    rewardRejected: l.rewards[j],
  };
}

test('parsePairsSpec', () => {
  assert.deepEqual(parsePairsSpec('best-worst'), { kind: 'best-worst' });
  assert.deepEqual(parsePairsSpec('top-bottom:2'), { kind: 'top-bottom', k: 2 });
  assert.deepEqual(parsePairsSpec('all'), { kind: 'all' });
  for (const bad of ['top-bottom:0', 'top-bottom', 'best', 'top-bottom:x']) assert.throws(() => parsePairsSpec(bad), /pairs must be/);
});

test('best-worst, top-bottom:K, all', () => {
  const stats = new Stats();
  scheduler().run(({ cold, expectObservable }) => {
    const src = cold('a|', { a: batch(0, [l0]) });
    expectObservable(src.pipe(pairsFromLists({ pairs: 'best-worst', stats }))).toBe('a|', { a: batch(0, [pairOf(l0, 1, 2)]) });
    // K = 5 is capped at floor(4 / 2) = 2: top {b, d} x bottom {a, c}
    expectObservable(src.pipe(pairsFromLists({ pairs: 'top-bottom:5', stats }))).toBe('a|', { a: batch(0, [pairOf(l0, 1, 0), pairOf(l0, 1, 2), pairOf(l0, 3, 0), pairOf(l0, 3, 2)]) });
    expectObservable(src.pipe(pairsFromLists({ pairs: { kind: 'all' }, stats }))).toBe('a|', {
      a: batch(0, [pairOf(l0, 1, 3), pairOf(l0, 1, 0), pairOf(l0, 1, 2), pairOf(l0, 3, 0), pairOf(l0, 3, 2), pairOf(l0, 0, 2)]),
    });
  });
  assert.equal(stats.get('pairsFromLists.lists'), 3);
  assert.equal(stats.get('pairsFromLists.pairs'), 11);
});

test('empty, many, pairs and rejects pass through, a short list is a reject', () => {
  const stats = new Stats();
  const l1 = list(1, ['only'], { rewards: [1], embeddings: [emb(1)] });
  const p = pair(5);
  const l2 = list(2, ['u', 'v'], { rewards: [0, 1], embeddings: [emb(0), emb(1)] });
  scheduler().run(({ cold, expectObservable, expectSubscriptions }) => {
    const src = cold('a-b-|', { a: batch(0, []), b: batch(1, [p, l1, reject(4), l2]) });
    const { kind: _k, sourceFile: _f, sourceRow: _r, embeddings: _e, ...rest } = l1;
    expectObservable(src.pipe(pairsFromLists({ pairs: 'all', stats }))).toBe('a-b-|', {
      a: batch(0, []),
      b: batch(1, [
        p,
        { kind: 'reject', sourceFile: 'in.jsonl', sourceRow: 1, reason: 'fewer than 2 responses', raw: JSON.stringify(rest) },
        reject(4),
        { kind: 'pair', pairId: 'l2:1-0', sourceFile: 'in.jsonl', sourceRow: 2, prompt: 'prompt 2', chosen: 'v', rejected: 'u', chosenSafe: null, rejectedSafe: null, category: 'cat', passThrough: {}, embChosen: emb(1), embRejected: emb(0), rewardChosen: 1, rewardRejected: 0 },
      ]),
    });
    expectSubscriptions(src.subscriptions).toBe('^---!');
  });
  assert.equal(stats.get('pairsFromLists.rejected'), 1);
});

test('source error, unsubscribe, bad options', () => {
  const stats = new Stats();
  scheduler().run(({ cold, expectObservable, expectSubscriptions }) => {
    const src = cold('a-#', { a: batch(0, [l0]) });
    expectObservable(src.pipe(pairsFromLists({ pairs: 'best-worst', stats }))).toBe('a-#', { a: batch(0, [pairOf(l0, 1, 2)]) });
    const never = cold('-a--', { a: batch(0, []) });
    expectObservable(never.pipe(pairsFromLists({ pairs: 'all', stats })), '^-!').toBe('-a-', { a: batch(0, []) });
    expectSubscriptions(never.subscriptions).toBe('^-!');
  });
  assert.throws(() => pairsFromLists({ pairs: 'some', stats }), /pairs must be/);
  assert.throws(() => pairsFromLists({ pairs: { kind: 'top-bottom', k: 0 }, stats }), /K must be/);
});
