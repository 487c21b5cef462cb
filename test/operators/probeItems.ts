/** Small records for the probe operators' tests (scorePairs, relabelPairs, pairsFromLists). */
import { TestScheduler } from 'rxjs/testing';
import assert from 'node:assert/strict';
import type { Embedding, Item, ListRecord, PairRecord, PartRef, RecordBatch, RejectRecord } from '../../schemas/records.js';

export const part: PartRef = { index: 0, count: 1, file: 'in.jsonl', source: 'in.jsonl', format: 'jsonl', rowGroups: null, firstRow: 0 };

export function batch(index: number, items: Item[]): RecordBatch<Item> {
  return { part, index, items };
}

export function emb(...xs: number[]): Embedding {
  return { features: Float32Array.from(xs), layers: 1, width: xs.length, tokens: 3, truncated: false };
}

export function pair(row: number, extra: Partial<PairRecord> = {}): PairRecord {
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

export function list(row: number, responses: string[], extra: Partial<ListRecord> = {}): ListRecord {
  return { kind: 'list', listId: `l${row}`, sourceFile: 'in.jsonl', sourceRow: row, prompt: `prompt ${row}`, responses, labels: null, category: 'cat', passThrough: {}, ...extra };
}

export function reject(row: number): RejectRecord {
  return { kind: 'reject', sourceFile: 'in.jsonl', sourceRow: row, reason: 'missing column: chosen', raw: '{}' };
}

export function scheduler(): TestScheduler {
  return new TestScheduler((actual, expected) => assert.deepStrictEqual(actual, expected));
}
