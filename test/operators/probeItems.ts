/** Small records for the probe operators' tests (scorePairs, relabelPairs, pairsFromLists). */
import { TestScheduler } from 'rxjs/testing';
import assert from 'node:assert/strict';
import type { Embedding, LabelledPair, ListRecord, PairRecord, PartRef, RecordBatch, RejectRecord, ScoredList } from '../../schemas/records.js';

export const part: PartRef = { index: 0, count: 1, file: 'in.jsonl', source: 'in.jsonl', format: 'jsonl', rowGroups: null, firstRow: 0 };

/**
 * A batch of any records. Loosely typed on purpose: the operators' own types say which stage they
 * take, and these tests also feed records that lack a stage's fields (a pair without embeddings)
 * to check what passes through untouched.
 */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export function batch(index: number, items: readonly object[]): RecordBatch<any> {
  return { part, index, items: items as RecordBatch['items'] };
}

export function emb(...xs: number[]): Embedding {
  return { features: Float32Array.from(xs), layers: 1, width: xs.length, tokens: 3, truncated: false };
}

/** A pair, with whichever stage fields `extra` gives it. */
export function pair(row: number, extra: Partial<LabelledPair> = {}): PairRecord & Partial<LabelledPair> {
  return {
    kind: 'pair',
    pairId: `p${row}`,
    sourceFile: 'in.jsonl',
    sourceRow: row,
    prompt: `prompt ${row}`,
    chosen: `chosen ${row}`,
    rejected: `rejected ${row}`,
    chosenSafe: true,
    rejectedSafe: false,
    category: null,
    passThrough: { extra: row },
    ...extra,
  };
}

/** A list, with whichever stage fields `extra` gives it. */
export function list(row: number, responses: string[], extra: Partial<ScoredList> = {}): ListRecord & Partial<ScoredList> {
  return { kind: 'list', listId: `l${row}`, sourceFile: 'in.jsonl', sourceRow: row, prompt: `prompt ${row}`, responses, labels: null, category: 'cat', passThrough: {}, ...extra };
}

export function reject(row: number): RejectRecord {
  return { kind: 'reject', sourceFile: 'in.jsonl', sourceRow: row, reason: 'missing column: chosen', raw: '{}' };
}

export function scheduler(): TestScheduler {
  return new TestScheduler((actual, expected) => assert.deepStrictEqual(actual, expected));
}
