/**
 * The convert pipeline in-process: every layout (built from real HH-RLHF texts) through one run,
 * same input same bytes, and ranks 0 and 1 of 2 together equal one run.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { lastValueFrom, toArray } from 'rxjs';
import { Bool, Field, Int64, List, Struct, tableFromIPC, tableToIPC, Utf8 } from 'apache-arrow';
import { convert } from '../../pipelines/convert.js';
import { adaptRow } from '../../schemas/adapters.js';
import type { PairRecord } from '../../schemas/records.js';
import type { IoConfig } from '../../src/runtime/Config.js';
import { DuckDb, quoteLiteral } from '../../src/runtime/io/DuckDb.js';
import { expandInputs, partsForRank, planParts } from '../../src/runtime/io/inputs.js';
import { asParquet } from '../../src/runtime/io/shardFiles.js';
import { Stats } from '../../src/runtime/Stats.js';
import { arrowTable, hhMessages, hhRows, tempDir, writeJsonl, writeParquetFile } from '../helpers/badInputs.js';

/** Canonical pairs of the first n real HH rows with a non-blank answer. */
function realPairs(n: number): PairRecord[] {
  const out: PairRecord[] = [];
  for (const [i, row] of hhRows().entries()) {
    const p = adaptRow({ kind: 'raw', sourceFile: 'hh', sourceRow: i, row: row as never }, { format: 'auto', pkuChoice: 'safer' });
    if (p.kind === 'pair') out.push(p);
    if (out.length === n) break;
  }
  return out;
}

/** One input folder holding every layout, built from the same real texts. */
async function layouts(): Promise<{ dir: string; pairs: PairRecord[] }> {
  const dir = await tempDir('pipe-layouts');
  const pairs = realPairs(40);
  const p = pairs.slice(0, 10);
  writeJsonl(join(dir, 'a-implicit.jsonl'), hhRows().slice(0, 10));
  writeJsonl(join(dir, 'b-explicit.jsonl'), p.map((x, i) => ({ id: `e${i}`, prompt: x.prompt, chosen: x.chosen, rejected: x.rejected })));
  writeJsonl(
    join(dir, 'c-conversational.jsonl'),
    hhRows().slice(0, 10).map((r) => ({ chosen: hhMessages(r.chosen), rejected: hhMessages(r.rejected) })),
  );
  writeParquetFile(
    join(dir, 'd-pku.parquet'),
    arrowTable({
      prompt: { type: new Utf8(), values: p.map((x) => x.prompt) },
      response_0: { type: new Utf8(), values: p.map((x) => x.rejected) },
      response_1: { type: new Utf8(), values: p.map((x) => x.chosen) },
      safer_response_id: { type: new Int64(), values: p.map(() => 1n) },
      is_response_0_safe: { type: new Bool(), values: p.map(() => false) },
      is_response_1_safe: { type: new Bool(), values: p.map(() => true) },
    }),
    4,
  );
  writeJsonl(join(dir, 'e-list.jsonl'), p.map((x, i) => ({ prompt: x.prompt, responses: [x.chosen, x.rejected, pairs[20 + i].chosen] })));
  return { dir, pairs };
}

function config(inputs: string[], outDir: string, extra: Partial<IoConfig> = {}): IoConfig {
  return {
    inputs, outDir, split: 'train', read: { batchRows: 3, maxRowBytes: 1 << 20 }, adapt: { format: 'auto', pkuChoice: 'safer' }, validate: { maxTextChars: 1_000_000 },
    write: { compression: 'zstd', rowGroupRows: 4 }, window: 2, partRows: 1_000_000, partBytes: 2 ** 28, rank: 0, worldSize: 1, overwrite: false, maxRejectRate: 0.5, progressInterval: 0, ...extra,
  };
}

async function run(cfg: IoConfig) {
  const parts = partsForRank(await planParts(await expandInputs(cfg.inputs), { partRows: cfg.partRows }), cfg.rank, cfg.worldSize);
  return lastValueFrom(convert(parts, cfg, { stats: new Stats(), configHash: 'test' }).pipe(toArray()));
}

const hashes = (out: string) =>
  Object.fromEntries(
    ['data', 'rejects', 'lists'].flatMap((d) => (existsSync(join(out, d)) ? readdirSync(join(out, d)).sort().map((f) => [`${d}/${f}`, createHash('sha256').update(readFileSync(join(out, d, f))).digest('hex')]) : [])),
  );

test('every layout converts to the same canonical pairs; lists stay lists; completions written', async () => {
  const { dir, pairs } = await layouts();
  const out = await tempDir('pipe-out');
  const results = await run(config([dir], out));
  assert.deepEqual(results.map((r) => [r.index, r.status, r.stats.rowsIn, r.stats.rowsOut, r.stats.rowsRejected]), [[0, 'done', 10, 10, 0], [1, 'done', 10, 10, 0], [2, 'done', 10, 10, 0], [3, 'done', 10, 10, 0], [4, 'done', 10, 10, 0]]);
  assert.deepEqual(readdirSync(join(out, 'completions')).sort(), ['00000.json', '00001.json', '00002.json', '00003.json', '00004.json']);
  assert.equal(results[4].lists, 'lists/train-00004-of-00005.parquet');
  await using db = await DuckDb.open({ threads: 1 });
  const rows = await db.all(`SELECT source_file, source_row, prompt, chosen, rejected, chosen_safe, pair_id FROM read_parquet(${quoteLiteral(join(out, 'data', '*.parquet'))}, union_by_name = true) ORDER BY source_file, source_row`);
  assert.equal(rows.length, 40);
  // source_file is relative to the folder holding all inputs, whatever the working folder
  const byFile = (name: string) => rows.filter((r) => r.source_file === name);
  for (const f of ['a-implicit.jsonl', 'b-explicit.jsonl', 'c-conversational.jsonl', 'd-pku.parquet']) {
    assert.deepEqual(byFile(f).map((r) => [r.prompt, r.chosen, r.rejected]), pairs.slice(0, 10).map((p) => [p.prompt, p.chosen, p.rejected]), f);
  }
  assert.deepEqual(byFile('b-explicit.jsonl').map((r) => r.pair_id), Array.from({ length: 10 }, (_, i) => `e${i}`));
  assert.ok(byFile('d-pku.parquet').every((r) => r.chosen_safe === true));
  const lists = await db.all(`SELECT prompt, responses FROM read_parquet(${quoteLiteral(join(out, 'lists', '*.parquet'))}) ORDER BY source_row`);
  assert.deepEqual(lists.map((l) => l.responses), pairs.slice(0, 10).map((p, i) => [p.chosen, p.rejected, pairs[20 + i].chosen]));
});

test('determinism: the same input and settings give byte-identical shards; ranks 0 and 1 of 2 equal one run', async () => {
  const { dir } = await layouts();
  // Split the Parquet input too (row groups of 4 under a 5-row limit).
  const extra = { partRows: 5 };
  const a = await tempDir('pipe-a');
  const b = await tempDir('pipe-b');
  const ranks = await tempDir('pipe-ranks');
  const ra = await run(config([dir], a, extra));
  await run(config([dir], b, extra));
  assert.equal(ra.length, 7); // d-pku.parquet: groups 4 4 2 -> three parts
  assert.deepEqual(hashes(b), hashes(a));
  const r0 = await run(config([dir], ranks, { ...extra, rank: 0, worldSize: 2 }));
  const r1 = await run(config([dir], ranks, { ...extra, rank: 1, worldSize: 2 }));
  assert.deepEqual(r0.map((r) => r.index), [0, 2, 4, 6]);
  assert.deepEqual(r1.map((r) => r.index), [1, 3, 5]);
  assert.deepEqual(hashes(ranks), hashes(a));
  assert.ok(Object.keys(hashes(a)).length >= 14);
});

test('output format arrow: the same rows as Parquet, in Arrow IPC stream files (data, lists, rejects); identical bytes twice and across ranks; read back through the Parquet copies', async () => {
  const { dir } = await layouts();
  // A row that is rejected, so rejects/ has rows too.
  writeJsonl(join(dir, 'f-bad.jsonl'), [{ prompt: 'p', chosen: 'same', rejected: 'same' }, { prompt: 'p', chosen: 'a', rejected: 'b' }]);
  const pq = await tempDir('fmt-parquet');
  const arrow = [await tempDir('fmt-arrow-a'), await tempDir('fmt-arrow-b'), await tempDir('fmt-arrow-ranks')];
  const arrowWrite = { write: { compression: 'zstd', rowGroupRows: 4, format: 'arrow' } } as const;
  await run(config([dir], pq));
  const results = await run(config([dir], arrow[0], arrowWrite));
  await run(config([dir], arrow[1], arrowWrite));
  await run(config([dir], arrow[2], { ...arrowWrite, rank: 0, worldSize: 2 }));
  await run(config([dir], arrow[2], { ...arrowWrite, rank: 1, worldSize: 2 }));
  const files = Object.keys(hashes(arrow[0]));
  assert.deepEqual(files, Object.keys(hashes(pq)).map((f) => f.replace(/\.parquet$/, '.arrow')));
  assert.equal(results[4].lists, 'lists/train-00004-of-00006.arrow');
  assert.equal(results[5].rejects, 'rejects/train-00005-of-00006.arrow');
  assert.deepEqual(hashes(arrow[1]), hashes(arrow[0]));
  assert.deepEqual(hashes(arrow[2]), hashes(arrow[0]));

  // Each Arrow file is a plain IPC stream (apache-arrow reads it with no prefrank code), with the
  // same rows and columns as the Parquet shard of the same part.
  const cache = await tempDir('fmt-cache');
  await using db = await DuckDb.open({ threads: 1 });
  for (const f of files) {
    const t = tableFromIPC(readFileSync(join(arrow[0], f)));
    const fromParquet = await db.all(`SELECT * FROM read_parquet(${quoteLiteral(join(pq, f.replace(/\.arrow$/, '.parquet')))})`);
    assert.deepEqual(t.schema.fields.map((x) => x.name), Object.keys(fromParquet[0] ?? Object.fromEntries(t.schema.fields.map((x) => [x.name, 0]))), f);
    assert.equal(t.numRows, fromParquet.length, f);
    const [copy] = await asParquet([join(arrow[0], f)], cache);
    const viaCopy = await db.all(`SELECT * FROM read_parquet(${quoteLiteral(copy)})`);
    assert.deepEqual(viaCopy, fromParquet, f);
  }
  // The copy is made once per shard's bytes and reused.
  const before = readdirSync(cache).length;
  await asParquet(files.map((f) => join(arrow[0], f)), cache);
  assert.equal(readdirSync(cache).length, before);
});

test('Arrow IPC inputs (stream and file format, nested columns): read batch by batch into the same canonical pairs as JSON lines; a damaged one fails alone with one line', async () => {
  const rows = hhRows().slice(0, 10);
  const msgType = new List(new Field('item', new Struct([new Field('role', new Utf8(), true), new Field('content', new Utf8(), true)]), true));
  const conv = arrowTable({
    chosen: { type: msgType, values: rows.map((r) => hhMessages(r.chosen)) },
    rejected: { type: msgType, values: rows.map((r) => hhMessages(r.rejected)) },
    n: { type: new Int64(), values: rows.map((_, i) => BigInt(i)) },
  });
  const dir = await tempDir('arrow-in');
  writeJsonl(join(dir, 'a.jsonl'), rows.map((r) => ({ chosen: hhMessages(r.chosen), rejected: hhMessages(r.rejected), n: rows.indexOf(r) })));
  writeFileSync(join(dir, 'b-stream.arrow'), tableToIPC(conv, 'stream'));
  writeFileSync(join(dir, 'c-file.arrow'), tableToIPC(conv, 'file'));
  const damaged = tableToIPC(conv, 'stream');
  writeFileSync(join(dir, 'd-cut.arrow'), damaged.subarray(0, Math.floor(damaged.length / 2)));
  const out = await tempDir('arrow-in-out');
  const results = await run(config([dir], out));
  assert.deepEqual(results.map((r) => [r.status, r.stats.rowsOut]), [['done', 10], ['done', 10], ['done', 10], ['failed', 0]]);
  assert.match(results[3].error!, /^d-cut\.arrow: /);
  await using db = await DuckDb.open({ threads: 1 });
  const got = await db.all(`SELECT source_file, source_row, prompt, chosen, rejected, n FROM read_parquet(${quoteLiteral(join(out, 'data', '*.parquet'))}, union_by_name = true) ORDER BY source_file, source_row`);
  const of = (f: string) => got.filter((r) => r.source_file === f).map(({ source_file: _f, ...r }) => r);
  assert.equal(of('a.jsonl').length, 10);
  assert.deepEqual(of('b-stream.arrow'), of('a.jsonl'));
  assert.deepEqual(of('c-file.arrow'), of('a.jsonl'));
});
