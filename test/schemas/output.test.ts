import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Utf8 } from 'apache-arrow';
import { pairOutputRow, pairOutputSchema, passThroughColumn, passThroughValue, rejectOutputRow, rejectSchema, tableFromRows, withPassThrough } from '../../schemas/output.js';
import type { PairRecord } from '../../schemas/records.js';

const p: PairRecord = {
  kind: 'pair', sourceFile: 'in.jsonl', sourceRow: 3, pairId: 'id3', prompt: 'P', chosen: 'C', rejected: 'R', chosenSafe: true, rejectedSafe: null, category: 'fraud',
  passThrough: { lang: 'en', n: 12n, tags: ['a', 1], confidence: 0.3, nothing: null },
};

test('passThroughValue: text as is, everything else as JSON, int64 as digits', () => {
  assert.equal(passThroughValue('x'), 'x');
  assert.equal(passThroughValue(null), null);
  assert.equal(passThroughValue(undefined), null);
  assert.equal(passThroughValue(12n), '12');
  assert.equal(passThroughValue(1.5), '1.5');
  assert.equal(passThroughValue(true), 'true');
  assert.equal(passThroughValue({ a: [1, 'b'] }), '{"a":[1,"b"]}');
});

test('pairOutputRow: canonical columns, reserved pass-through names get input_', () => {
  assert.equal(passThroughColumn('confidence'), 'input_confidence');
  assert.equal(passThroughColumn('lang'), 'lang');
  const row = pairOutputRow(p);
  assert.deepEqual(row, {
    prompt: 'P', chosen: 'C', rejected: 'R', confidence: null, reward_chosen: null, reward_rejected: null, flipped: false, pair_id: 'id3', source_file: 'in.jsonl', source_row: 3n,
    chosen_safe: true, rejected_safe: null, category: 'fraud', truncated: null, lang: 'en', n: '12', tags: '["a",1]', input_confidence: '0.3', nothing: null,
  });
});

test('tableFromRows keeps the declared schema exactly, nulls included', () => {
  const schema = withPassThrough(pairOutputSchema, ['lang', 'n', 'tags', 'input_confidence', 'nothing'].map((name) => ({ name, type: new Utf8() })));
  const t = tableFromRows(schema, [pairOutputRow(p), pairOutputRow({ ...p, sourceRow: 4, passThrough: {} })]);
  assert.equal(t.numRows, 2);
  assert.deepEqual(t.schema.fields.map((f) => [f.name, String(f.type), f.nullable]), schema.fields.map((f) => [f.name, String(f.type), f.nullable]));
  assert.deepEqual(t.getChild('lang')!.toArray(), ['en', null]);
  assert.deepEqual([...t.getChild('source_row')!], [3n, 4n]);
  assert.equal(t.getChild('confidence')!.nullCount, 2);
  const r = tableFromRows(rejectSchema, [rejectOutputRow({ kind: 'reject', sourceFile: 'f', sourceRow: 1, reason: 'invalid JSON', raw: '{' })]);
  assert.deepEqual(r.get(0)!.toJSON(), { source_file: 'f', source_row: 1n, reason: 'invalid JSON', raw: '{' });
  assert.equal(tableFromRows(rejectSchema, []).numRows, 0);
});
