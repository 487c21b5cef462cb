/**
 * writeShard with real files (plain subscription tests: it writes to disk, so no virtual time).
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { concat, EMPTY, lastValueFrom, of, Subject, throwError, toArray } from 'rxjs';
import { writeShard, type WriteShardOptions } from '../../operators/writeShard.js';
import { shardName } from '../../schemas/layout.js';
import type { CanonicalItem, LabelledItem, PartRef, RecordBatch } from '../../schemas/records.js';
import { DuckDb, quoteLiteral } from '../../src/runtime/io/DuckDb.js';
import { InputFileError } from '../../src/runtime/errors.js';
import { Stats } from '../../src/runtime/Stats.js';
import { tempDir } from '../helpers/badInputs.js';
import { emb, list, pair, reject } from './probeItems.js';

/** A pair as relabelPairs leaves it. */
const labelled = (row: number, confidence: number, flipped = false) => pair(row, { confidence, flipped, rewardChosen: 1, rewardRejected: 0, embChosen: emb(1), embRejected: { ...emb(2), truncated: row === 3 } });

const partRef = (format: 'jsonl' | 'parquet' = 'parquet'): PartRef => ({ index: 2, count: 5, file: 'in.parquet', source: 'in.parquet', format, rowGroups: null, firstRow: 0 });
const options = (outDir: string, part = partRef()): WriteShardOptions => ({ part, outDir, split: 'train', rank: 0, worldSize: 1, configHash: 'cfg', stats: new Stats(), compression: 'zstd', rowGroupRows: 100 });
/** Pairs with only some of a labelled pair's fields check how the writer fills the columns. */
const batch = (part: PartRef, index: number, items: readonly object[]): RecordBatch<CanonicalItem | LabelledItem> => ({ part, index, items: items as (CanonicalItem | LabelledItem)[] });
const sha = (f: string) => createHash('sha256').update(readFileSync(f)).digest('hex');
const files = (dir: string) => (existsSync(dir) ? readdirSync(dir, { recursive: true, encoding: 'utf8' }).sort() : []);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const NAME = 'train-00002-of-00005.parquet';

test('empty: one "done" result and empty data and rejects shards (n shards, always)', async () => {
  const out = await tempDir('ws-empty');
  const [r] = await lastValueFrom(EMPTY.pipe(writeShard(options(out)), toArray()));
  assert.equal(shardName('train', partRef().index, partRef().count), NAME);
  assert.deepEqual(
    { ...r, outputSha256: null },
    {
      index: 2, count: 5, input: { file: 'in.parquet', rowGroups: null }, status: 'done', error: null, output: `data/${NAME}`, rejects: `rejects/${NAME}`, outputSha256: null,
      stats: { rowsIn: 0, rowsOut: 0, rowsRejected: 0, rowsFlipped: 0, rowsTruncated: 0, rejectsByReason: {} }, confidenceHistogram: new Array(10).fill(0), rank: 0, worldSize: 1, configHash: 'cfg',
    },
  );
  assert.equal(r.outputSha256, sha(join(out, 'data', NAME)));
  assert.deepEqual(files(out), ['data', `data/${NAME}`, 'rejects', `rejects/${NAME}`]);
});

test('one and many batches: pairs to data/, rejects to rejects/, lists to lists/, counted; one result at the end', async () => {
  const out = await tempDir('ws-many');
  const part = partRef();
  const opts = options(out, part);
  const src = of(
    batch(part, 0, [pair(0), reject(1), labelled(2, 0.95, true)]),
    batch(part, 1, []),
    batch(part, 2, [labelled(3, 0.55), { ...reject(4), reason: 'chosen equals rejected' }, list(5, ['a', 'b'])]),
  );
  const results = await lastValueFrom(src.pipe(writeShard(opts), toArray()));
  assert.equal(results.length, 1);
  const [r] = results;
  assert.deepEqual(r.stats, { rowsIn: 6, rowsOut: 4, rowsRejected: 2, rowsFlipped: 1, rowsTruncated: 1, rejectsByReason: { 'chosen equals rejected': 1, 'missing column': 1 } });
  assert.deepEqual(r.confidenceHistogram, [0, 0, 0, 0, 0, 1, 0, 0, 0, 1]);
  assert.equal(r.lists, `lists/${NAME}`);
  assert.equal(opts.stats.get('writeShard.rows'), 6);
  await using db = await DuckDb.open({ threads: 1 });
  const data = await db.all(`SELECT source_row, pair_id, prompt, flipped, confidence, truncated, extra FROM read_parquet(${quoteLiteral(join(out, 'data', NAME))}) ORDER BY source_row`);
  // A canonical pair (convert) has no model columns; a labelled one has them all.
  assert.deepEqual(data.map((d) => [d.source_row, d.pair_id, d.flipped, d.truncated, d.extra]), [[0n, 'p0', false, null, '0'], [2n, 'p2', true, false, '2'], [3n, 'p3', false, true, '3']]);
  assert.deepEqual(data.map((d) => d.confidence), [null, Math.fround(0.95), Math.fround(0.55)]);
  const rej = await db.all(`SELECT source_file, source_row, reason FROM read_parquet(${quoteLiteral(join(out, 'rejects', NAME))}) ORDER BY source_row`);
  assert.deepEqual(rej, [{ source_file: 'in.jsonl', source_row: 1n, reason: 'missing column: chosen' }, { source_file: 'in.jsonl', source_row: 4n, reason: 'chosen equals rejected' }]);
  const lists = await db.all(`SELECT responses, list_id FROM read_parquet(${quoteLiteral(join(out, 'lists', NAME))})`);
  assert.deepEqual(lists.map((l) => [l.list_id, l.responses]), [['l5', ['a', 'b']]]);
  assert.equal(r.outputSha256, sha(join(out, 'data', NAME)));
  // No temporary files left.
  assert.deepEqual(files(out).filter((f) => f.endsWith('.tmp')), []);
});

test('JSON lines: keys a later row brings go to extra_columns, nothing is dropped', async () => {
  const out = await tempDir('ws-extra');
  const part = partRef('jsonl');
  await lastValueFrom(of(batch(part, 0, [pair(0, { passThrough: { lang: 'en' } }), pair(1, { passThrough: { lang: 'fr', turns: 3 } })])).pipe(writeShard(options(out, part))));
  await using db = await DuckDb.open({ threads: 1 });
  const rows = await db.all(`SELECT lang, extra_columns FROM read_parquet(${quoteLiteral(join(out, 'data', NAME))}) ORDER BY source_row`);
  assert.deepEqual(rows, [{ lang: 'en', extra_columns: null }, { lang: 'fr', extra_columns: '{"turns":"3"}' }]);
});

test('source error: an unreadable input gives a "failed" result and no files; any other error errors, leaving no files', async () => {
  const out = await tempDir('ws-fail');
  const part = partRef();
  const opts = options(out, part);
  const unreadable = concat(of(batch(part, 0, [pair(0), reject(1)])), throwError(() => new InputFileError('in.parquet', 'not a readable Parquet file: bad footer')));
  const [r] = await lastValueFrom(unreadable.pipe(writeShard(opts), toArray()));
  assert.equal(r.status, 'failed');
  assert.equal(r.error, 'in.parquet: not a readable Parquet file: bad footer');
  assert.deepEqual([r.output, r.rejects, r.outputSha256], [null, null, null]);
  assert.equal(opts.stats.get('writeShard.failedParts'), 1);
  assert.deepEqual(files(out).filter((f) => f.endsWith('.parquet') || f.endsWith('.tmp')), []);

  const crash = concat(of(batch(part, 0, [pair(0)])), throwError(() => new Error('model crashed')));
  await assert.rejects(lastValueFrom(crash.pipe(writeShard(options(out, part)))), /model crashed/);
  assert.deepEqual(files(out).filter((f) => f.endsWith('.parquet') || f.endsWith('.tmp')), []);
  assert.throws(() => writeShard({ ...options(out), rowGroupRows: 0 }), RangeError);
});

test('early unsubscribe removes the .tmp files and leaves no shard', async () => {
  const out = await tempDir('ws-unsub');
  const part = partRef();
  const input = new Subject<RecordBatch<CanonicalItem | LabelledItem>>();
  const sub = input.pipe(writeShard(options(out, part))).subscribe();
  for (let i = 0; i < 5; i++) input.next(batch(part, i, Array.from({ length: 50 }, (_, k) => (k % 10 === 0 ? reject(i * 50 + k) : pair(i * 50 + k)))));
  const tmp = () => files(out).filter((f) => f.endsWith('.tmp'));
  for (let i = 0; i < 200 && tmp().length < 2; i++) await sleep(10);
  assert.deepEqual(tmp(), [`data/${NAME}.tmp`, `rejects/${NAME}.tmp`]);
  sub.unsubscribe();
  for (let i = 0; i < 200 && tmp().length > 0; i++) await sleep(10);
  assert.deepEqual(tmp(), []);
  assert.deepEqual(files(out).filter((f) => f.endsWith('.parquet')), []);
});
