import assert from 'node:assert/strict';
import { test } from 'node:test';
import { adaptRows } from '../../operators/adaptRows.js';
import { adaptRow } from '../../schemas/adapters.js';
import type { RawRow, ReadItem, RecordBatch, RejectRecord } from '../../schemas/records.js';
import { Stats } from '../../src/runtime/Stats.js';
import { hhRows } from '../helpers/badInputs.js';
import { part, scheduler } from './probeItems.js';

const raw = (sourceRow: number, row: Record<string, unknown>): RawRow => ({ kind: 'raw', sourceFile: 'in.jsonl', sourceRow, row });
const batch = (index: number, items: ReadItem[]): RecordBatch<ReadItem> => ({ part, index, items });
const hh = hhRows();
const good = (i: number) => raw(i, hh[i] as never);
const adapt = (r: RawRow) => adaptRow(r, { format: 'auto', pkuChoice: 'safer' });
const readerReject: RejectRecord = { kind: 'reject', sourceFile: 'in.jsonl', sourceRow: 9, reason: 'invalid JSON', raw: '{' };

test('empty, one and many batches: real rows become pairs, batch by batch, counted', () => {
  const stats = new Stats();
  scheduler().run(({ cold, expectObservable }) => {
    expectObservable(cold<RecordBatch<ReadItem>>('|').pipe(adaptRows({ format: 'auto', pkuChoice: 'safer', stats }))).toBe('|');
    const one = batch(0, [good(0)]);
    expectObservable(cold('-a|', { a: one }).pipe(adaptRows({ format: 'auto', pkuChoice: 'safer', stats }))).toBe('-a|', { a: { ...one, items: [adapt(good(0))] } });
    const many = [batch(0, [good(1), good(2)]), batch(1, []), batch(2, [good(3)])];
    expectObservable(cold('a-b-c|', { a: many[0], b: many[1], c: many[2] }).pipe(adaptRows({ format: 'auto', pkuChoice: 'safer', stats }))).toBe('a-b-c|', {
      a: { ...many[0], items: [adapt(good(1)), adapt(good(2))] },
      b: many[1],
      c: { ...many[2], items: [adapt(good(3))] },
    });
  });
  assert.equal(stats.get('adaptRows.pair'), 4);
});

test('a bad row turns into a reject in its place; reader rejects pass through', () => {
  const stats = new Stats();
  scheduler().run(({ cold, expectObservable }) => {
    const b = batch(0, [good(0), raw(1, { chosen: hh[1].chosen }), readerReject, raw(3, { chosen: 7, rejected: 'x' })]);
    expectObservable(cold('a|', { a: b }).pipe(adaptRows({ format: 'auto', pkuChoice: 'safer', stats }))).toBe('a|', {
      a: {
        ...b,
        items: [
          adapt(good(0)),
          { kind: 'reject', sourceFile: 'in.jsonl', sourceRow: 1, reason: 'missing column: rejected', raw: JSON.stringify({ chosen: hh[1].chosen }) },
          readerReject,
          { kind: 'reject', sourceFile: 'in.jsonl', sourceRow: 3, reason: 'wrong type: chosen is number, expected a string', raw: '{"chosen":7,"rejected":"x"}' },
        ],
      },
    });
  });
  assert.equal(stats.get('adaptRows.pair'), 1);
  assert.equal(stats.get('adaptRows.reject'), 3);
});

test('auto: a row that fits no layout is read in the part\'s layout; with none seen yet it is an unknown format', () => {
  const stats = new Stats();
  const first = raw(0, { chosen: hh[0].chosen });
  scheduler().run(({ cold, expectObservable }) => {
    const b = batch(0, [first, good(1), raw(2, { rejected: hh[2].rejected })]);
    expectObservable(cold('a|', { a: b }).pipe(adaptRows({ format: 'auto', pkuChoice: 'safer', stats }))).toBe('a|', {
      a: {
        ...b,
        items: [
          { kind: 'reject', sourceFile: 'in.jsonl', sourceRow: 0, reason: 'unknown format: columns chosen', raw: JSON.stringify({ chosen: hh[0].chosen }) },
          adapt(good(1)),
          { kind: 'reject', sourceFile: 'in.jsonl', sourceRow: 2, reason: 'missing column: chosen', raw: JSON.stringify({ rejected: hh[2].rejected }) },
        ],
      },
    });
  });
  assert.equal(stats.get('adaptRows.pair'), 1);
  assert.equal(stats.get('adaptRows.reject'), 2);
});

test('source error passes through; early unsubscribe unsubscribes the source', () => {
  const stats = new Stats();
  scheduler().run(({ cold, expectObservable, expectSubscriptions }) => {
    const a = batch(0, [good(0)]);
    const failing = cold('a-#', { a }, new Error('disk gone'));
    expectObservable(failing.pipe(adaptRows({ format: 'auto', pkuChoice: 'safer', stats }))).toBe('a-#', { a: { ...a, items: [adapt(good(0))] } }, new Error('disk gone'));
    const long = cold('a-a-a-a|', { a });
    expectObservable(long.pipe(adaptRows({ format: 'auto', pkuChoice: 'safer', stats })), '^--!').toBe('a-a', { a: { ...a, items: [adapt(good(0))] } });
    expectSubscriptions(long.subscriptions).toBe('^--!');
  });
});

test('a bad option fails when the factory is called', () => {
  assert.throws(() => adaptRows({ format: 'yaml' as never, pkuChoice: 'safer', stats: new Stats() }), /unknown format yaml/);
});
