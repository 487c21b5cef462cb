/**
 * Scale-out: ranks 0 and 1 of 2 into one folder and `merge` makes them equal to one
 * run; `--workers 2` with a worker killed mid-run, rerun with the same command, redoes exactly the
 * killed worker's unfinished parts; a `--workers` parent killed with SIGKILL leaves no worker
 * running (they stop cleanly when the parent goes away).
 */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { alive, completions, convertArgs, makeInputs, manifestSansRanks, partsOf, record, runInProcess, snapshot, startCli, testSpec, tmpFiles, waitFor } from './fixture.js';

const PARTS = partsOf(testSpec);
/** Shard indices written, from log lines (a worker's lines carry a `[worker i] ` prefix). */
const written = (stderr: string) => [...stderr.matchAll(/^(?:\[worker \d+\] )?shard data\/train-(\d{5})-of-/gm)].map((m) => Number(m[1])).sort((a, b) => a - b);
const workerPids = (stderr: string) => (/started \d+ worker process\(es\).* pids=([\d,]+)/.exec(stderr)?.[1] ?? '').split(',').filter(Boolean).map(Number);

describe('ranks, workers and merge', () => {
  const root = mkdtempSync(join(tmpdir(), 'prefrank-scale-'));
  const input = join(root, 'in');
  const base = join(root, 'base');
  let baseline: Map<string, string>;

  before(async () => {
    await makeInputs(input, testSpec);
    const r = await runInProcess(convertArgs(input, base));
    assert.equal(r.code, 0, r.stderr);
    baseline = snapshot(base);
  });
  after(() => rmSync(root, { recursive: true, force: true }));

  it('rank 0 and rank 1 of 2, run at once: disjoint halves whose union, merged, equals one run', async () => {
    const out = join(root, 'ranks');
    // One after the other, in this process (concurrent ranks are what --workers does, below).
    const r0 = await runInProcess(convertArgs(input, out, testSpec, ['--rank', '0', '--world-size', '2']));
    assert.ok(!existsSync(join(out, 'manifest.json')), 'no manifest while rank 1 has not run');
    assert.match(r0.stderr, /4 shard\(s\) are left to other ranks; run 'prefrank merge .*' when all are done/);
    const r1 = await runInProcess(convertArgs(input, out, testSpec, ['--rank', '1', '--world-size', '2']));
    assert.equal(r0.code, 0, r0.stderr);
    assert.equal(r1.code, 0, r1.stderr);
    assert.deepEqual(written(r0.stderr), [0, 2, 4, 6]);
    assert.deepEqual(written(r1.stderr), [1, 3, 5, 7]);
    for (let i = 0; i < PARTS; i++) assert.deepEqual(record(out, i), { ...record(out, i), rank: i % 2, worldSize: 2 });
    const merged = await runInProcess(['merge', out]);
    assert.equal(merged.code, 0, merged.stderr);
    assert.match(merged.stderr, new RegExp(`merge: ${PARTS} part\\(s\\) complete, each done once`));
    assert.deepEqual(snapshot(out), baseline);
    assert.deepEqual(manifestSansRanks(out), manifestSansRanks(base));
  });

  it('--workers 2 with a worker killed: merge names the missing parts; the same command redoes exactly those', async () => {
    const out = join(root, 'crash');
    const args = convertArgs(input, out, testSpec, ['--workers', '2']);
    const run = startCli(args);
    const ended = run.done.then(() => true);
    await Promise.race([waitFor(() => record(out, 1) !== null, 120_000, 'worker 1 to finish a part'), ended]);
    const pids = workerPids(run.stderr());
    assert.equal(pids.length, 2, run.stderr());
    process.kill(pids[1], 'SIGKILL');
    const r = await run.done;
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, /worker 1 \(rank 1\) was killed by SIGKILL; its unfinished parts are redone when the same command runs again/);
    const doneBefore = completions(out);
    const missing = [1, 3, 5, 7].filter((i) => !doneBefore.includes(i));
    assert.ok(missing.length > 0 && [0, 2, 4, 6].every((i) => doneBefore.includes(i)), `worker 0 finished, worker 1 did not (${doneBefore})`);

    const check = await runInProcess(['merge', out]);
    assert.equal(check.code, 1);
    for (const i of missing) assert.match(check.stderr, new RegExp(`part ${i} \\(\\S+\\): not done \\(no completion record\\); rank 1 of 2`));
    assert.match(check.stderr.trim().split('\n').at(-1)!, new RegExp(`^prefrank: .* is incomplete: ${missing.length} of ${PARTS} part\\(s\\) not done`));

    const again = await startCli(args).done;
    assert.equal(again.code, 0, again.stderr);
    assert.match(again.stderr, /started 1 worker process\(es\) \(1 more have nothing left to do\)/);
    assert.deepEqual(written(again.stderr), missing, 'each missing part redone once, nothing else');
    assert.deepEqual(snapshot(out), baseline);
    assert.deepEqual(manifestSansRanks(out), manifestSansRanks(base));
    assert.deepEqual(tmpFiles(out), []);
  });

  it('a --workers parent killed with SIGKILL: its workers stop at a clean point by themselves', async () => {
    const out = join(root, 'orphans');
    const run = startCli(convertArgs(input, out, testSpec, ['--workers', '2']));
    await waitFor(() => completions(out).length >= 2, 120_000, '2 parts');
    const pids = workerPids(run.stderr());
    assert.equal(pids.length, 2);
    run.kill('SIGKILL');
    await run.done;
    await waitFor(() => pids.every((p) => !alive(p)), 20_000, 'the workers to stop');
    assert.ok(completions(out).length < PARTS, 'stopped before the end');
    assert.deepEqual(tmpFiles(out), [], 'stopped cleanly: no temporary files');
    const again = await runInProcess(convertArgs(input, out));
    assert.equal(again.code, 0, again.stderr);
    assert.deepEqual(snapshot(out), baseline);
  });
});
