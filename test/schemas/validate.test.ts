import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { ListRecord, PairRecord } from '../../schemas/records.js';
import { validateList, validatePair } from '../../schemas/validate.js';

const pair = (p: Partial<PairRecord>): PairRecord => ({
  kind: 'pair', sourceFile: 'f', sourceRow: 0, pairId: 'x', prompt: 'p', chosen: 'c', rejected: 'r', chosenSafe: null, rejectedSafe: null, category: null, passThrough: {}, ...p,
});
const list = (l: Partial<ListRecord>): ListRecord => ({ kind: 'list', sourceFile: 'f', sourceRow: 0, listId: 'l', prompt: 'p', responses: ['a', 'b'], labels: null, category: null, passThrough: {}, ...l });

test('validatePair: chosen == rejected, text too long, fine', () => {
  const opt = { maxTextChars: 10 };
  assert.equal(validatePair(pair({}), opt), null);
  assert.equal(validatePair(pair({ chosen: 'same', rejected: 'same' }), opt), 'chosen equals rejected');
  assert.equal(validatePair(pair({ prompt: 'x'.repeat(11) }), opt), 'text too long: prompt has 11 characters (limit 10)');
  assert.equal(validatePair(pair({ rejected: 'x'.repeat(10) }), opt), null);
  assert.equal(validatePair(pair({ chosen: 'y'.repeat(5_000_000) }), { maxTextChars: 1_000_000 }), 'text too long: chosen has 5000000 characters (limit 1000000)');
});

test('validateList: too long response, all equal', () => {
  const opt = { maxTextChars: 3 };
  assert.equal(validateList(list({}), opt), null);
  assert.equal(validateList(list({ responses: ['a', 'a'] }), opt), 'all responses are equal');
  assert.equal(validateList(list({ responses: ['a', 'bbbb'] }), opt), 'text too long: responses[1] has 4 characters (limit 3)');
  assert.equal(validateList(list({ prompt: 'pppp' }), opt), 'text too long: prompt has 4 characters (limit 3)');
});
