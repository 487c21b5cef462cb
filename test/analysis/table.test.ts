import assert from 'node:assert/strict';
import { test } from 'node:test';
import { recordTable } from '../../src/analysis/table.js';

test('recordTable: the union of keys as columns in first-seen order, values formatted, blanks for missing, numbers right-aligned, never cut', () => {
  const long = 'x'.repeat(80);
  const t = recordTable([{ a: 1, b: 0.123456 }, { a: 22, c: long }], (v) => (typeof v === 'number' && !Number.isInteger(v) ? v.toFixed(2) : v));
  assert.deepEqual(t.split('\n'), [' a     b  c', '--  ----  ' + '-'.repeat(80), ' 1  0.12', `22        ${long}`]);
  assert.equal(recordTable([]), '(no rows)');
});
