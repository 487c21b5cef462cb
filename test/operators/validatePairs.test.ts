import assert from 'node:assert/strict';
import { test } from 'node:test';
import { lastValueFrom, of, toArray } from 'rxjs';
import { validatePairs } from '../../operators/validatePairs.js';
import type { CanonicalItem, Item, RecordBatch, RejectRecord } from '../../schemas/records.js';
import { Stats } from '../../src/runtime/Stats.js';
import { batch, list, pair, reject, scheduler } from './probeItems.js';

const opts = (stats: Stats, maxTextChars = 100) => ({ maxTextChars, stats });
const withId = (row: number, id: string) => pair(row, { pairId: id, idFromInput: true });
/** The reject's raw: the record as JSON, without the fields the reject carries itself. */
const rawOf = (rec: Item) => {
  const { kind: _k, sourceFile: _f, sourceRow: _r, ...rest } = rec;
  return JSON.stringify(rest);
};
const reasons = (items: readonly Item[]) => items.map((it) => (it.kind === 'reject' ? (it as RejectRecord).reason : it.kind));

test('empty, one, many: good records pass unchanged', () => {
  const stats = new Stats();
  scheduler().run(({ cold, expectObservable }) => {
    expectObservable(cold<RecordBatch<CanonicalItem>>('|').pipe(validatePairs(opts(stats)))).toBe('|');
    const a = batch(0, [pair(0)]);
    const b = batch(1, [pair(1), list(2, ['x', 'y']), reject(3)]);
    expectObservable(cold('a|', { a }).pipe(validatePairs(opts(stats)))).toBe('a|', { a });
    expectObservable(cold('a-b|', { a, b }).pipe(validatePairs(opts(stats)))).toBe('a-b|', { a, b });
  });
  assert.equal(stats.get('validatePairs.rejected'), 0);
});

test('bad records turn into rejects with a reason and the record as raw', () => {
  const stats = new Stats();
  const same = pair(1, { chosen: 'same', rejected: 'same' });
  const long = pair(2, { prompt: 'x'.repeat(101) });
  const equal = list(3, ['y', 'y']);
  scheduler().run(({ cold, expectObservable }) => {
    const a = batch(0, [pair(0), same, long, equal]);
    expectObservable(cold('a|', { a }).pipe(validatePairs(opts(stats)))).toBe('a|', {
      a: batch(0, [
        pair(0),
        { kind: 'reject', sourceFile: 'in.jsonl', sourceRow: 1, reason: 'chosen equals rejected', raw: rawOf(same) },
        { kind: 'reject', sourceFile: 'in.jsonl', sourceRow: 2, reason: 'text too long: prompt has 101 characters (limit 100)', raw: rawOf(long) },
        { kind: 'reject', sourceFile: 'in.jsonl', sourceRow: 3, reason: 'all responses are equal', raw: rawOf(equal) },
      ]),
    });
  });
  assert.equal(stats.get('validatePairs.rejected'), 3);
});

test('duplicate input ids are rejected within a subscription (one part), not across parts; derived ids are not checked', async () => {
  const stats = new Stats();
  const src = of(batch(0, [withId(0, 'a'), withId(1, 'b')]), batch(1, [withId(2, 'a'), pair(3, { pairId: 'p', idFromInput: false }), pair(4, { pairId: 'p', idFromInput: false })]));
  const first = await lastValueFrom(src.pipe(validatePairs(opts(stats)), toArray()));
  assert.deepEqual(first.map((b) => reasons(b.items)), [['pair', 'pair'], ['duplicate id: a', 'pair', 'pair']]);
  // A second subscription (the next part) starts with no ids seen.
  const second = await lastValueFrom(src.pipe(validatePairs(opts(stats)), toArray()));
  assert.deepEqual(second, first);
  // A rejected row does not claim its id.
  const third = await lastValueFrom(of(batch(0, [withId(0, 'z'), { ...withId(1, 'z') }])).pipe(validatePairs(opts(stats)), toArray()));
  assert.deepEqual(reasons(third[0].items), ['pair', 'duplicate id: z']);
  const fourth = await lastValueFrom(of(batch(0, [pair(0, { pairId: 'q', idFromInput: true, chosen: 'a', rejected: 'a' }), pair(1, { pairId: 'q', idFromInput: true })])).pipe(validatePairs(opts(stats)), toArray()));
  assert.deepEqual(reasons(fourth[0].items), ['chosen equals rejected', 'pair']);
});

test('source error passes through; early unsubscribe unsubscribes the source; bad options fail at once', () => {
  const stats = new Stats();
  scheduler().run(({ cold, expectObservable, expectSubscriptions }) => {
    const a = batch(0, [pair(0)]);
    expectObservable(cold('a#', { a }).pipe(validatePairs(opts(stats)))).toBe('a#', { a });
    const long = cold('a-a-a|', { a });
    expectObservable(long.pipe(validatePairs(opts(stats))), '^-!').toBe('a-', { a });
    expectSubscriptions(long.subscriptions).toBe('^-!');
  });
  assert.throws(() => validatePairs({ maxTextChars: 0, stats }), RangeError);
});
