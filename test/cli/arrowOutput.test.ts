/**
 * Arrow as a user meets it: `--output-format arrow` (convert, the readers of a folder: sql, stats,
 * merge, the dataset card; embed and probe train), a folder that keeps its format, and damaged
 * Arrow inputs that fail alone.
 */
import assert from 'node:assert/strict';
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { tableFromIPC, tableToIPC } from 'apache-arrow';
import { hhParquetTable, hhRows, runCli, tempDir, writeJsonl } from '../helpers/badInputs.js';

test('convert --output-format arrow: Arrow shards that sql, stats and merge read, a card that points at them, and a folder that keeps its format', async () => {
  const root = await tempDir('cli-arrow');
  process.env.PREFRANK_CACHE_DIR = join(root, 'cache');
  writeJsonl(join(root, 'in.jsonl'), [...hhRows().slice(0, 30), { chosen: 'same', rejected: 'same' }]);
  const c = await runCli(['convert', 'in.jsonl', '--out', 'out', '--output-format', 'arrow'], root);
  assert.equal(c.code, 0, c.stderr);
  assert.deepEqual(readdirSync(join(root, 'out', 'data')), ['train-00000-of-00001.arrow']);
  assert.deepEqual(readdirSync(join(root, 'out', 'rejects')), ['train-00000-of-00001.arrow']);
  const t = tableFromIPC(readFileSync(join(root, 'out', 'data', 'train-00000-of-00001.arrow')));
  assert.equal(t.numRows, 30);
  assert.deepEqual(t.schema.fields.slice(0, 3).map((f) => f.name), ['prompt', 'chosen', 'rejected']);
  assert.match(readFileSync(join(root, 'out', 'README.md'), 'utf8'), /path: data\/train-\*\.arrow/);

  const q = await runCli(['sql', 'out', 'SELECT (SELECT count(*) FROM pairs) AS pairs, (SELECT count(*) FROM rejects) AS rejects', '--format', 'json'], root);
  assert.equal(q.code, 0, q.stderr);
  assert.deepEqual(JSON.parse(q.stdout), [{ pairs: 30, rejects: 1 }]);
  const s = await runCli(['stats', 'out', '--json'], root);
  assert.equal(s.code, 0, s.stderr);
  assert.equal(JSON.parse(s.stdout).pairs, 30);
  const m = await runCli(['merge', 'out'], root);
  assert.equal(m.code, 0, m.stderr);

  // The format is part of the folder's settings: the same command in Parquet is refused, naming it.
  const again = await runCli(['convert', 'in.jsonl', '--out', 'out'], root);
  assert.equal(again.code, 1);
  assert.match(again.stderr, /other settings \(outputFormat: "arrow" -> undefined/);
});

test('embed --output-format arrow, then probe train on the folder: the features and their metadata come through', async () => {
  const root = await tempDir('cli-arrow-embed');
  writeJsonl(join(root, 'in.jsonl'), hhRows().slice(0, 40));
  const e = await runCli(['embed', 'in.jsonl', '--out', 'feats', '--output-format', 'arrow'], root);
  assert.equal(e.code, 0, e.stderr);
  assert.deepEqual(readdirSync(join(root, 'feats', 'features')), ['train-00000-of-00001.arrow']);
  const t = tableFromIPC(readFileSync(join(root, 'feats', 'features', 'train-00000-of-00001.arrow')));
  assert.equal(t.numRows, 80);
  assert.ok(JSON.parse(t.schema.metadata.get('prefrank')!).width > 0);
  const p = await runCli(['probe', 'train', 'feats', '--out', 'probe'], root);
  assert.equal(p.code, 0, p.stderr);
  const meta = JSON.parse(readFileSync(join(root, 'probe', 'probe.json'), 'utf8'));
  assert.equal(meta.metrics.trainPairs + meta.metrics.heldOutPairs, 40);
});

test('damaged Arrow inputs (cut bodies, flipped bytes in the headers, some that exhaust a reader heap) fail one by one with one line each; the process never dies and the good file is kept', async () => {
  const root = await tempDir('cli-arrow-damaged');
  const src = Buffer.from(tableToIPC(hhParquetTable(hhRows().slice(0, 300)), 'stream'));
  const flipped = (seed: number) => {
    // The seeds' scheme is fixed: 64 bit flips in the first 4 KiB (schema and first batch header).
    let s = seed * 7919;
    const rnd = () => {
      s ^= s << 13;
      s >>>= 0;
      s ^= s >>> 17;
      s ^= s << 5;
      s >>>= 0;
      return s / 2 ** 32;
    };
    const b = Buffer.from(src);
    for (let i = 0; i < 64; i++) b[Math.floor(rnd() * 4096)] ^= 1 << Math.floor(rnd() * 8);
    return b;
  };
  const files: Record<string, Buffer> = {};
  // Seeds 16, 20 and 22 make apache-arrow allocate until the reader's heap is gone (found by trying
  // 120 seeds: 7 did; before the reader ran in a worker, such a file ended the whole process).
  for (const seed of [16, 20, 22, 1, 2, 3]) files[`flip-${seed}.arrow`] = flipped(seed);
  for (const f of [0.1, 0.5, 0.9]) files[`cut-${f}.arrow`] = src.subarray(0, Math.floor(src.length * f));
  mkdirSync(join(root, 'in'));
  for (const [name, bytes] of Object.entries(files)) writeFileSync(join(root, 'in', name), bytes);
  writeJsonl(join(root, 'in', 'zz-good.jsonl'), hhRows().slice(0, 5));
  process.env.PREFRANK_ARROW_HEAP_MB = '128';
  const r = await runCli(['convert', 'in', '--out', 'out', '--max-reject-rate', '1'], root);
  delete process.env.PREFRANK_ARROW_HEAP_MB;
  assert.equal(r.code, 1, r.stderr);
  assert.doesNotMatch(r.stderr, /^\s+at /m, r.stderr);
  assert.match(r.stderr, /memory limit/);
  const manifest = JSON.parse(readFileSync(join(root, 'out', 'manifest.json'), 'utf8'));
  const byFile = new Map(manifest.shards.map((s: { input: { file: string }; status: string }) => [s.input.file, s.status]));
  assert.equal(byFile.get('zz-good.jsonl'), 'done');
  for (const name of Object.keys(files)) {
    const lines = r.stderr.split('\n').filter((l) => l.includes(name));
    assert.ok(byFile.get(name) === 'done' ? lines.length === 0 : lines.length === 1, `${name}: ${byFile.get(name)}; ${lines.join(' | ')}`);
  }
  for (const seed of [16, 20, 22]) assert.equal(byFile.get(`flip-${seed}.arrow`), 'failed');
});
