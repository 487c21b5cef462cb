import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { concat, EMPTY, lastValueFrom, of, Subject, throwError, toArray } from 'rxjs';
import { completionPath, markComplete } from '../../operators/markComplete.js';
import type { ShardResult } from '../../schemas/manifest.js';
import { tempDir } from '../helpers/badInputs.js';

const result = (index: number, status: 'done' | 'failed' = 'done'): ShardResult => ({
  index, count: 3, input: { file: `in${index}.jsonl`, rowGroups: null }, status, error: status === 'failed' ? `in${index}.jsonl: unreadable` : null,
  output: status === 'done' ? `data/train-0000${index}-of-00003.parquet` : null, rejects: null, outputSha256: null,
  stats: { rowsIn: 2, rowsOut: 1, rowsRejected: 1, rowsFlipped: 0, rowsTruncated: 0, rejectsByReason: { x: 1 } }, confidenceHistogram: new Array(10).fill(0), rank: 0, worldSize: 1, configHash: 'h',
});

test('empty: nothing written', async () => {
  const out = await tempDir('mc-empty');
  assert.deepEqual(await lastValueFrom(EMPTY.pipe(markComplete({ outDir: out }), toArray())), []);
  assert.equal(existsSync(join(out, 'completions')), false);
});

test('one and many: each result is recorded whole, in order; a failed part gets a failed record', async () => {
  const out = await tempDir('mc-many');
  const rs = [result(0), result(1, 'failed'), result(2)];
  assert.deepEqual(await lastValueFrom(of(...rs).pipe(markComplete({ outDir: out }), toArray())), rs);
  assert.deepEqual(readdirSync(join(out, 'completions')).sort(), ['00000.json', '00001.json', '00002.json']);
  assert.equal(JSON.parse(readFileSync(completionPath(out, 1), 'utf8')).status, 'failed');
  assert.equal(completionPath(out, 2), join(out, 'completions', '00002.json'));
  assert.deepEqual(JSON.parse(readFileSync(completionPath(out, 2), 'utf8')), rs[2]);
});

test('source error passes through; unsubscribing stops recording', async () => {
  const out = await tempDir('mc-err');
  // A source error is a run failure: it passes through at once (concatMap does not wait for the record in progress).
  await assert.rejects(lastValueFrom(concat(of(result(0)), throwError(() => new Error('disk full'))).pipe(markComplete({ outDir: out }))), /disk full/);
  const out2 = await tempDir('mc-unsub');
  const input = new Subject<ShardResult>();
  const seen: number[] = [];
  const sub = input.pipe(markComplete({ outDir: out2 })).subscribe((r) => seen.push(r.index));
  sub.unsubscribe();
  input.next(result(1));
  await new Promise((r) => setTimeout(r, 50));
  assert.deepEqual(seen, []);
  assert.equal(existsSync(completionPath(out2, 1)), false);
});
