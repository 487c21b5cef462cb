import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { concat, lastValueFrom, NEVER, of, throwError, toArray } from 'rxjs';
import { writeFeatures, type WriteFeaturesOptions } from '../../operators/writeFeatures.js';
import type { Embedding } from '../../schemas/records.js';
import { DuckDb } from '../../src/runtime/io/DuckDb.js';
import { InputFileError } from '../../src/runtime/errors.js';
import { Stats } from '../../src/runtime/Stats.js';
import { batch, list, pair, part, reject } from './probeItems.js';

const tmp = mkdtempSync(join(tmpdir(), 'prefrank-features-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

// 2 layers x 3 wide
const emb = (x: number, truncated = false): Embedding => ({ features: Float32Array.from([x, x + 0.5, x + 1, -x, -x - 0.5, -x - 1]), layers: 2, width: 3, tokens: 4, truncated });
const options = (outDir: string, stats = new Stats()): WriteFeaturesOptions => ({
  part,
  outDir,
  split: 'train',
  rank: 0,
  worldSize: 1,
  configHash: 'abc',
  compression: 'zstd',
  rowGroupRows: 1000,
  layers: [0, 2],
  width: 3,
  metadata: { numLayers: 3, modelSha256: 'm', tokenizerSha256: 't', template: '{prompt}{response}' },
  stats,
});
const batches = () => [
  batch(0, [pair(0, { embChosen: emb(1), embRejected: emb(2, true) }), reject(1), list(2, ['a', 'b', 'c'], { embeddings: [emb(3), emb(4), emb(5)] })]),
  batch(1, [pair(3, { embChosen: emb(6), embRejected: emb(7) })]),
];
const sha = (f: string) => createHash('sha256').update(readFileSync(f)).digest('hex');

describe('writeFeatures', () => {
  it('writes a feature row per text, rejects apart, and one ShardResult', async () => {
    const out = join(tmp, 'a');
    const stats = new Stats();
    const [r] = await lastValueFrom(of(...batches()).pipe(writeFeatures(options(out, stats)), toArray()));
    assert.equal(r.status, 'done');
    assert.equal(r.output, 'features/train-00000-of-00001.parquet');
    assert.deepEqual({ ...r.stats }, { rowsIn: 4, rowsOut: 3, rowsRejected: 1, rowsFlipped: 0, rowsTruncated: 1, rejectsByReason: { 'missing column': 1 } });
    assert.equal(r.outputSha256, sha(join(out, r.output!)));
    assert.equal(stats.get('writeFeatures.featureRows'), 7);

    await using db = await DuckDb.open();
    const rows = await db.all(`SELECT pair_id, role, response_index, source_row::INT AS source_row, tokens, truncated, features FROM read_parquet('${join(out, r.output!)}')`);
    assert.deepEqual(
      rows.map((x) => [x.pair_id, x.role, x.response_index, x.source_row, x.truncated]),
      [
        ['p0', 'chosen', null, 0, false],
        ['p0', 'rejected', null, 0, true],
        ['l2', 'candidate', 0, 2, false],
        ['l2', 'candidate', 1, 2, false],
        ['l2', 'candidate', 2, 2, false],
        ['p3', 'chosen', null, 3, false],
        ['p3', 'rejected', null, 3, false],
      ],
    );
    assert.deepEqual(rows[3].features, [4, 4.5, 5, -4, -4.5, -5]);
    const [meta] = await db.all(`SELECT decode(value) AS v FROM parquet_kv_metadata('${join(out, r.output!)}') WHERE decode(key) = 'prefrank'`);
    assert.deepEqual(JSON.parse(meta.v as string), { layers: [0, 2], width: 3, numLayers: 3, modelSha256: 'm', tokenizerSha256: 't', template: '{prompt}{response}' });
    const rej = await db.all(`SELECT source_row::INT AS r, reason FROM read_parquet('${join(out, r.rejects!)}')`);
    assert.deepEqual(rej, [{ r: 1, reason: 'missing column: chosen' }]);
  });

  it('same records, same bytes', async () => {
    const [a] = await lastValueFrom(of(...batches()).pipe(writeFeatures(options(join(tmp, 'd1'))), toArray()));
    const [b] = await lastValueFrom(of(...batches()).pipe(writeFeatures(options(join(tmp, 'd2'))), toArray()));
    assert.equal(a.outputSha256, b.outputSha256);
  });

  it('an embedding of another shape errors the stream and leaves no files', async () => {
    const out = join(tmp, 'e');
    await assert.rejects(lastValueFrom(of(batch(0, [pair(0, { embChosen: emb(1), embRejected: { ...emb(1), layers: 1 } })])).pipe(writeFeatures(options(out)))), /has 1 x 3 features, expected 2 x 3/);
    await new Promise((r) => setTimeout(r, 50));
    assert.deepEqual(readdirSync(join(out, 'features')), []);
  });

  it('an unreadable input gives a failed result; unsubscribing removes the temporary files', async () => {
    const out = join(tmp, 'f');
    const [r] = await lastValueFrom(concat(of(batches()[0]), throwError(() => new InputFileError('in.jsonl', 'truncated gzip'))).pipe(writeFeatures(options(out)), toArray()));
    assert.equal(r.status, 'failed');
    assert.match(r.error!, /truncated gzip/);
    const sub = concat(of(batches()[0]), NEVER).pipe(writeFeatures(options(join(tmp, 'g')))).subscribe();
    await new Promise((res) => setTimeout(res, 100));
    sub.unsubscribe();
    // teardown removes the temporary file asynchronously: wait for it (bounded) on a busy machine
    const tmpFile = join(tmp, 'g', 'features', 'train-00000-of-00001.parquet.tmp');
    for (let i = 0; i < 100 && existsSync(tmpFile); i++) await new Promise((res) => setTimeout(res, 50));
    assert.ok(!existsSync(tmpFile));
    assert.ok(!existsSync(join(tmp, 'g', 'features', 'train-00000-of-00001.parquet')));
  });
});
