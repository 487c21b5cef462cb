import assert from 'node:assert/strict';
import { test } from 'node:test';
import { lastValueFrom, of } from 'rxjs';
import type { CanonicalItem, Item, ListRecord, PairRecord, PartRef, RecordBatch } from '../../../schemas/records.js';
import { embedPairs, type PairEmbedder } from '../../../operators/embedPairs.js';
import { addFeatures, countByFile, emptyFeatureSet } from '../../../src/probe/featureData.js';
import { Stats } from '../../../src/runtime/Stats.js';

// A fake embedder: the feature is the response's length, empty responses have no tokens.
const fake: PairEmbedder & { calls: number } = {
  calls: 0,
  async embed(inputs) {
    this.calls++;
    const embeddings = inputs.map((x) => {
      const t = typeof x === 'string' ? x : x.response;
      return t === '' ? null : { features: Float32Array.of(t.length), layers: 1, width: 1, tokens: t.length, truncated: t.length > 5 };
    });
    return { embeddings, info: {} as never };
  },
};

const pair = (row: number, chosen: string, rejected: string, safe: [boolean | null, boolean | null] = [null, null]): PairRecord => ({
  kind: 'pair', pairId: `p${row}`, sourceFile: '/x/a.jsonl', sourceRow: row, prompt: 'q', chosen, rejected, chosenSafe: safe[0], rejectedSafe: safe[1], category: row === 2 ? 'cat' : null, passThrough: {},
});

test('features of embedded records: pairs, labels from pairs and lists, skipped empties, groups', async () => {
  const list: ListRecord = { kind: 'list', listId: 'l', sourceFile: '/x/b.jsonl', sourceRow: 0, prompt: 'q', responses: ['aa', '', 'ccc'], labels: [true, false, null], category: null, passThrough: {} };
  const list2: ListRecord = { ...list, listId: 'm', sourceRow: 1, responses: ['dddd', 'e'], labels: [false, true] };
  const items: Item[] = [pair(0, 'abc', 'abcdefg', [true, false]), pair(1, '', 'x'), pair(2, 'a', 'bb'), list, list2, { kind: 'reject', sourceFile: '/x/a.jsonl', sourceRow: 9, reason: 'invalid JSON', raw: '{' }];
  // Through the embed stage itself, as pipelines/probeFeatures.ts runs it.
  const batch = await lastValueFrom(of({ part: {} as PartRef, index: 0, items } as RecordBatch<CanonicalItem>).pipe(embedPairs({ embedder: fake, stats: new Stats() })));
  assert.equal(fake.calls, 1);
  const set = addFeatures(emptyFeatureSet(), batch.items);
  assert.deepEqual(set.pairs.map((p) => [p.pairId, p.chosen[0], p.rejected[0], p.group]), [['p0', 3, 7, 'a.jsonl'], ['p2', 1, 2, 'cat']]);
  // The list with an empty response is skipped whole (embedPairs rejects it), the other gives both labels.
  assert.deepEqual(set.labels.map((l) => [l.features[0], l.safe]), [[3, true], [7, false], [4, false], [1, true]]);
  assert.equal(set.skipped, 2);
  assert.equal(set.truncated, 1);
});

test('countByFile: pairs and labels per input file, listed files kept at zero, sorted by name', () => {
  const f = new Float32Array(1);
  const set = {
    pairs: [{ chosen: f, rejected: f, pairId: 'p', sourceFile: '/x/b.jsonl', sourceRow: 0, category: null, chosenText: '', rejectedText: '', prompt: '' }],
    labels: [{ features: f, safe: true, sourceFile: '/x/b.jsonl' }, { features: f, safe: false, sourceFile: '/y/a.jsonl' }],
    skipped: 0,
    truncated: 0,
  };
  assert.deepEqual(countByFile(set, ['/x/c.jsonl']), [
    { file: 'a.jsonl', pairs: 0, labels: 1 },
    { file: 'b.jsonl', pairs: 1, labels: 1 },
    { file: 'c.jsonl', pairs: 0, labels: 0 },
  ]);
});
