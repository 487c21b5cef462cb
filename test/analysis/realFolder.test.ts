// The analysis views on a real `rerank` output folder (the embedded sample, default model and probe).
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { buildReport } from '../../src/analysis/report.js';
import { computeStats } from '../../src/analysis/stats.js';
import { createOutputViews, openOutputFolder } from '../../src/analysis/views.js';
import { DuckDb } from '../../src/runtime/io/DuckDb.js';
import { dataPath, projectRoot } from '../../src/runtime/paths.js';
import { readManifest } from '../helpers/badInputs.js';

let tmp: string;
let out: string;
before(async () => {
  tmp = mkdtempSync(join(tmpdir(), 'prefrank-real-'));
  out = join(tmp, 'out');
  await promisify(execFile)(process.execPath, [join(projectRoot(), 'dist', 'src', 'cli', 'main.js'), 'rerank', dataPath('sample'), '--out', out, '--log-level', 'error'], {
    cwd: projectRoot(),
    maxBuffer: 64 * 2 ** 20,
  });
});
after(() => rmSync(tmp, { recursive: true, force: true }));

test('views, stats and report agree with the manifest of a real rerank run', async () => {
  const manifest = readManifest(out);
  await using db = await DuckDb.open();
  await createOutputViews(db, openOutputFolder(out));
  const [r] = await db.all(`SELECT (SELECT count(*) FROM pairs) AS pairs, (SELECT count(*) FROM rejects) AS rejects,
    (SELECT count(*) FROM shards) AS shards, (SELECT count(*) FROM pairs WHERE flipped) AS flipped,
    (SELECT count(*) FROM pairs WHERE NOT flipped AND confidence < 0.5) AS held_back,
    (SELECT count(*) FROM pairs WHERE confidence < 0.5 AND reward_chosen > reward_rejected) AS doubtful_but_ahead,
    (SELECT count(*) FROM pairs WHERE flipped AND reward_chosen < reward_rejected) AS misordered_flips`);
  assert.equal(Number(r.pairs), manifest.totals.rowsOut);
  assert.equal(Number(r.rejects), manifest.totals.rowsRejected);
  assert.equal(Number(r.shards), manifest.shards.length);
  assert.equal(Number(r.flipped), manifest.totals.rowsFlipped);
  assert.ok(Number(r.pairs) > 0);
  // Under the default swap policy a pair below 0.5 is one the budget held back (never swapped),
  // and a swapped pair always leaves with chosen ahead.
  assert.equal(Number(r.held_back), manifest.totals.expectedErrors!.heldBack);
  assert.equal(Number(r.doubtful_but_ahead), 0);
  assert.equal(Number(r.misordered_flips), 0);
  const s = await computeStats(db);
  assert.equal(s.pairs + s.rejects, manifest.totals.rowsIn);
  assert.deepEqual(s.expected, {
    wrongFlips: manifest.totals.expectedErrors!.expectedWrongFlips,
    wrongBefore: manifest.totals.expectedErrors!.expectedWrongBefore,
    wrongAfter: manifest.totals.expectedErrors!.expectedWrongAfter,
    heldBack: manifest.totals.expectedErrors!.heldBack,
  });
  const html = await buildReport(db, { title: 'sample', points: 500, flips: 3 });
  assert.equal((html.match(/<svg/g) ?? []).length, 5);
  assert.doesNotMatch(html, /<script/i);
  assert.match(html, /<h2>Expected label errors<\/h2>/);
});
