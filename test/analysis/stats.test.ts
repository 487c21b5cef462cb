import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { computeStats, formatStats, QUANTILE_LEVELS } from '../../src/analysis/stats.js';
import { createOutputViews, openOutputFolder } from '../../src/analysis/views.js';
import { DuckDb } from '../../src/runtime/io/DuckDb.js';
import { makeOutputFolder, type MadeOutputFolder } from '../helpers/makeOutputFolder.js';

let tmp: string;
let made: MadeOutputFolder;
before(() => {
  tmp = mkdtempSync(join(tmpdir(), 'prefrank-stats-'));
  made = makeOutputFolder({ dir: join(tmp, 'out'), shards: 4, rowsPerShard: 50, rejectsPerShard: 5 });
});
after(() => rmSync(tmp, { recursive: true, force: true }));

async function stats(top?: number) {
  await using db = await DuckDb.open();
  await createOutputViews(db, openOutputFolder(made.dir));
  return await computeStats(db, { top });
}

test('counts, quantiles and groups agree with the folder', async () => {
  const s = await stats(0);
  assert.equal(s.pairs, made.pairs);
  assert.equal(s.flipped, made.flipped);
  assert.equal(s.flippedPct, Math.round((1e8 * made.flipped) / made.pairs) / 1e6);
  assert.equal(s.truncated, made.truncated);
  assert.equal(s.rejects, made.rejects);
  assert.deepEqual(s.shards, { total: 4, failed: 0 });
  assert.equal(s.confidence.quantiles.length, QUANTILE_LEVELS.length);
  // Confidence after re-ranking lies in [0.5, 1]; quantiles are sorted; margins are >= 0.
  const cq = s.confidence.quantiles as number[];
  assert.ok(cq[0] >= 0.5 && cq[cq.length - 1] <= 1, String(cq));
  assert.deepEqual([...cq].sort((a, b) => a - b), cq);
  assert.ok((s.margin.quantiles[0] as number) >= 0);
  // The groups partition the pairs.
  assert.equal(s.bySource.reduce((n, g) => n + g.pairs, 0), made.pairs);
  assert.equal(s.bySource.reduce((n, g) => n + g.rejects, 0), made.rejects);
  const byCat = Object.fromEntries(s.byCategory.map((g) => [g.key ?? '(none)', { pairs: g.pairs, flipped: g.flipped }]));
  assert.deepEqual(byCat, made.flippedByCategory);
  assert.deepEqual(Object.fromEntries(s.rejectsByReason.map((r) => [r.reason, r.count])), made.rejectsByReason);
  assert.equal(s.sources, 2);
});

test('--top bounds the groups, largest first, and the output is the same run to run', async () => {
  const a = await stats(2);
  const b = await stats(2);
  assert.equal(a.byCategory.length, 2);
  assert.ok(a.byCategory[0].pairs >= a.byCategory[1].pairs);
  assert.ok(a.categories > 2);
  assert.equal(JSON.stringify(a), JSON.stringify(b));
  const text = formatStats(a, 'out');
  assert.match(text, /flipped %/);
  assert.match(text, new RegExp(`\\(2 of ${a.categories} shown`));
  assert.match(text, /reject reason/);
});

test('an empty folder gives zeros, not errors', async () => {
  const empty = makeOutputFolder({ dir: join(tmp, 'empty'), shards: 1, rowsPerShard: 0, rejectsPerShard: 2, plant: false });
  await using db = await DuckDb.open();
  await createOutputViews(db, openOutputFolder(empty.dir));
  const s = await computeStats(db);
  assert.equal(s.pairs, 0);
  assert.equal(s.flippedPct, null);
  assert.equal(s.rejects, 2);
  assert.deepEqual(s.confidence.quantiles, QUANTILE_LEVELS.map(() => null));
  assert.equal(s.bySource.length, 1);
  assert.equal(s.bySource[0].rejects, 2);
  assert.match(formatStats(s, 'empty'), /pairs/);
});
