/**
 * Resume and graceful stop of a sharded run, end to end through the CLI (`convert`: the same job
 * runner as `rerank`, without a model): SIGKILL at seeded random points then a rerun gives the
 * bytes of an uninterrupted run without redoing finished parts; SIGTERM stops at a clean point; a
 * changed configuration is refused unless --overwrite; an unwritable or full output folder is one
 * clear line.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { closeSync, cpSync, existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, readSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { ShardResult } from '../../schemas/manifest.js';
import { createOutputViews, openOutputFolder } from '../../src/analysis/views.js';
import { DuckDb } from '../../src/runtime/io/DuckDb.js';
import { completions, convertArgs, makeInputs, partsOf, prng, runCli, runInProcess, snapshot, startCli, testSpec, tmpFiles, waitFor } from './fixture.js';

const PARTS = partsOf(testSpec);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const shard = (i: number) => `train-${String(i).padStart(5, '0')}-of-${String(PARTS).padStart(5, '0')}.parquet`;
/** Indices of the shards a run wrote, from its log lines. */
const written = (stderr: string) => [...stderr.matchAll(/^shard data\/train-(\d{5})-of-/gm)].map((m) => Number(m[1])).sort((a, b) => a - b);
/** Rows out of the parts whose completion record says done (a torn record counts as none). */
function recordedRows(out: string): number {
  let n = 0;
  for (const i of completions(out)) {
    try {
      const r = JSON.parse(readFileSync(join(out, 'completions', `${String(i).padStart(5, '0')}.json`), 'utf8')) as ShardResult;
      if (r.status === 'done') n += r.stats.rowsOut;
    } catch {
      // torn: not done
    }
  }
  return n;
}
/** A whole Parquet file starts and ends with PAR1. */
function isWholeParquet(file: string): boolean {
  const size = statSync(file).size;
  if (size < 8) return false;
  const fd = openSync(file, 'r');
  const head = Buffer.alloc(4);
  const tail = Buffer.alloc(4);
  readSync(fd, head, 0, 4, 0);
  readSync(fd, tail, 0, 4, size - 4);
  closeSync(fd);
  return head.toString('latin1') === 'PAR1' && tail.toString('latin1') === 'PAR1';
}

describe('resume after a kill, graceful stop, refusals', () => {
  const root = mkdtempSync(join(tmpdir(), 'prefrank-resume-'));
  const input = join(root, 'in');
  const base = join(root, 'base');
  let baseline: Map<string, string>;
  let baseManifest: string;
  let baseCard: string;

  before(async () => {
    await makeInputs(input, testSpec);
    const r = await runInProcess(convertArgs(input, base));
    assert.equal(r.code, 0, r.stderr);
    baseline = snapshot(base);
    baseManifest = readFileSync(join(base, 'manifest.json'), 'utf8');
    baseCard = readFileSync(join(base, 'README.md'), 'utf8');
    assert.equal([...baseline.keys()].filter((k) => k.startsWith('data/')).length, PARTS);
  });
  after(() => rmSync(root, { recursive: true, force: true }));

  it('SIGKILL at seeded random points, then the same command: identical bytes, finished parts not redone', async (t) => {
    const rand = prng(20250301);
    for (let trial = 0; trial < 4; trial++) {
      const out = join(root, `kill-${trial}`);
      // Kill once `after` parts are recorded (0 = during start-up or the first part; PARTS = while
      // the manifest is written), plus a random few milliseconds.
      const afterParts = Math.floor(rand() * (PARTS + 1));
      const extraMs = Math.floor(rand() * 120);
      const run = startCli(convertArgs(input, out));
      const ended = run.done.then(() => true);
      await Promise.race([waitFor(() => completions(out).length >= afterParts, 120_000, `${afterParts} parts`), ended]);
      await sleep(extraMs);
      run.kill('SIGKILL');
      const killed = await run.done;
      const doneBefore = completions(out);
      const expectRedo = new Set(Array.from({ length: PARTS }, (_, i) => i).filter((i) => !doneBefore.includes(i)));

      if (trial === 1) {
        // What a machine crash can leave besides: stale temporary files, a shard renamed into
        // place without its record, and a record that is not valid JSON (the part is redone).
        const open = [...expectRedo][0] ?? 0;
        mkdirSync(join(out, 'data'), { recursive: true });
        mkdirSync(join(out, 'completions'), { recursive: true });
        writeFileSync(join(out, 'data', `${shard(open)}.tmp`), 'partial');
        writeFileSync(join(out, 'data', shard(open)), 'not a parquet file');
        writeFileSync(join(out, 'completions', `${String(open).padStart(5, '0')}.json.tmp`), '{"index":');
        writeFileSync(join(out, 'manifest.json.99999.tmp'), '{"prefrank":');
        if (doneBefore.length) {
          writeFileSync(join(out, 'completions', `${String(doneBefore[0]).padStart(5, '0')}.json`), '{"index": 0, "sta');
          expectRedo.add(doneBefore[0]);
        }
        expectRedo.add(open);
      }

      // Until the rerun, readers (stats, sql, report) count exactly what the recorded parts wrote: a
      // shard in place without its record (trial 1's is not even Parquet) is not read.
      if (existsSync(join(out, 'data'))) {
        await using db = await DuckDb.open({ threads: 1 });
        await createOutputViews(db, openOutputFolder(out));
        const [{ n }] = await db.all('SELECT count(*)::INT AS n FROM pairs');
        assert.equal(n, recordedRows(out), `trial ${trial}: the interrupted folder's pairs are the recorded parts' rows`);
      }

      const again = await runInProcess(convertArgs(input, out));
      assert.equal(again.code, 0, again.stderr);
      assert.deepEqual(written(again.stderr), [...expectRedo].sort((a, b) => a - b), `trial ${trial}: exactly the unfinished parts are redone`);
      assert.deepEqual(snapshot(out), baseline, `trial ${trial}: shards equal an uninterrupted run`);
      assert.equal(readFileSync(join(out, 'manifest.json'), 'utf8'), baseManifest);
      assert.equal(readFileSync(join(out, 'README.md'), 'utf8'), baseCard);
      assert.deepEqual(tmpFiles(out), [], 'no stale temporaries');
      t.diagnostic(`trial ${trial}: SIGKILL after ${doneBefore.length}/${PARTS} parts (wait ${afterParts} + ${extraMs} ms, ${killed.signal ?? 'exit ' + killed.code}); rerun redid ${[...expectRedo].length}`);
    }
  });

  it('SIGTERM stops at a clean point, says how to resume, exits non-zero; the rerun completes', async () => {
    const out = join(root, 'term');
    const run = startCli(convertArgs(input, out));
    await waitFor(() => completions(out).length >= 2, 120_000, '2 parts');
    run.kill('SIGTERM');
    const r = await run.done;
    assert.equal(r.code, 130, r.stderr);
    assert.match(r.stderr, /SIGTERM: stopping at a clean point.*Run the same command again to resume/);
    assert.deepEqual(tmpFiles(out), []);
    // Every visible shard is a whole file; every record names a shard that is there.
    for (const sub of ['data', 'rejects']) {
      for (const f of snapshot(out, [sub]).keys()) assert.ok(isWholeParquet(join(out, f)), `${f} is whole`);
    }
    const recorded = completions(out);
    assert.ok(recorded.length >= 2 && recorded.length < PARTS, `stopped part-way (${recorded.length} parts)`);
    for (const i of recorded) assert.ok(existsSync(join(out, 'data', shard(i))));
    assert.ok(!existsSync(join(out, 'manifest.json')), 'no manifest for an unfinished run');

    const again = await runInProcess(convertArgs(input, out));
    assert.equal(again.code, 0, again.stderr);
    assert.deepEqual(snapshot(out), baseline);
    assert.equal(readFileSync(join(out, 'manifest.json'), 'utf8'), baseManifest);
  });

  it('refuses a changed configuration, naming the difference, unless --overwrite', async () => {
    const out = join(root, 'changed');
    cpSync(base, out, { recursive: true });
    const r = await runInProcess(convertArgs(input, out, testSpec, ['--compression', 'snappy']));
    assert.equal(r.code, 1);
    const lines = r.stderr.trim().split('\n');
    assert.match(lines.at(-1)!, /^prefrank: .* was written with other settings \(compression: "zstd" -> "snappy"\); use another --out, or --overwrite to replace it$/);
    assert.deepEqual(snapshot(out), baseline, 'the refused run changed nothing');

    // Another input plan (a file less) is a difference too, named as such.
    rmSync(join(input, 'part-05.jsonl'));
    try {
      const fewer = await runInProcess(convertArgs(input, out));
      assert.equal(fewer.code, 1);
      assert.match(fewer.stderr, /other settings \(plan: .*part-05\.jsonl/);
    } finally {
      await makeInputs(input, testSpec);
    }

    const over = await runInProcess(convertArgs(input, out, testSpec, ['--compression', 'snappy', '--overwrite']));
    assert.equal(over.code, 0, over.stderr);
    assert.equal(JSON.parse(readFileSync(join(out, 'run.json'), 'utf8')).settings.compression, 'snappy');
    assert.equal(JSON.parse(readFileSync(join(out, 'manifest.json'), 'utf8')).totals.parts, PARTS);
    assert.notDeepEqual(snapshot(out), baseline);
  });

  it('an output folder that cannot be created is one clear line (a path under a regular file: ENOTDIR, even for root)', async () => {
    const file = join(root, 'a-file');
    writeFileSync(file, 'x');
    const r = await runCli(convertArgs(input, join(file, 'out')));
    assert.equal(r.code, 1);
    assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
    assert.match(r.stderr, /^prefrank: cannot create output folder .*a-file\/out: ENOTDIR: not a directory/);
  });

  it('a full output (file size limit: EFBIG) is one clear line; freed, the same command resumes', async () => {
    const out = join(root, 'full');
    // `ulimit -f 20` (10 to 20 KiB, by shell) lets run.json and completion records through but not a
    // data shard (~37 KiB). Node ignores SIGXFSZ, so the write fails with EFBIG, as a full disk
    // fails with ENOSPC; both take the same path.
    const r = await runCli(convertArgs(input, out), { shellPrefix: 'ulimit -f 20' });
    assert.equal(r.code, 1, r.stderr);
    const last = r.stderr.trim().split('\n').at(-1)!;
    assert.match(last, /^prefrank: cannot write to output folder .*full: file too large \(file size limit\).*run the same command again to resume/);
    assert.doesNotMatch(r.stderr, /internal error|\n\s+at /);
    assert.deepEqual(tmpFiles(out), []);
    const again = await runInProcess(convertArgs(input, out));
    assert.equal(again.code, 0, again.stderr);
    assert.deepEqual(snapshot(out), baseline);
  });

  it('a full disk (a small tmpfs, where mounting is allowed) is one clear line', async (t) => {
    const mnt = join(root, 'mnt');
    mkdirSync(mnt);
    try {
      execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=64k', 'tmpfs', mnt], { stdio: 'ignore' });
    } catch {
      t.skip('mounting a tmpfs is not permitted here (the EFBIG test covers the same path)');
      return;
    }
    try {
      const r = await runInProcess(convertArgs(input, join(mnt, 'out')));
      assert.equal(r.code, 1, r.stderr);
      assert.match(r.stderr.trim().split('\n').at(-1)!, /^prefrank: cannot write to output folder .*: no space left on device/);
      assert.doesNotMatch(r.stderr, /internal error|\n\s+at /);
      assert.deepEqual(tmpFiles(join(mnt, 'out')), []);
    } finally {
      execFileSync('umount', [mnt]);
    }
  });
});
