/**
 * `prefrank merge DIR`: every part done exactly once (one completion record per index, under the
 * folder's config hash, its shards present, the data shard's sha256 as recorded, no stray shards),
 * what is missing named by index, input file and rank, and the manifest and dataset card written
 * only when the check passes, byte-identical to those of an uninterrupted single run.
 */
import assert from 'node:assert/strict';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { checkOutput } from '../../src/exec/merge.js';
import { convertArgs, makeInputs, partsOf, runInProcess, testSpec } from '../resume/fixture.js';

const PARTS = partsOf(testSpec);
const shard = (i: number) => `train-${String(i).padStart(5, '0')}-of-${String(PARTS).padStart(5, '0')}.parquet`;
const rec = (i: number) => `${String(i).padStart(5, '0')}.json`;

describe('merge', () => {
  const root = mkdtempSync(join(tmpdir(), 'prefrank-merge-'));
  const input = join(root, 'in');
  const whole = join(root, 'whole');
  const half = join(root, 'half');

  before(async () => {
    await makeInputs(input, testSpec);
    assert.equal((await runInProcess(convertArgs(input, whole))).code, 0);
    // Rank 0 of 2 only: parts 1, 3, 5, 7 are missing.
    assert.equal((await runInProcess(convertArgs(input, half, testSpec, ['--rank', '0', '--world-size', '2']))).code, 0);
  });
  after(() => rmSync(root, { recursive: true, force: true }));

  it('on a complete folder writes the manifest and card of an uninterrupted run, and removes leftover temporaries', async () => {
    const out = join(root, 'remerge');
    cpSync(whole, out, { recursive: true });
    const manifest = readFileSync(join(out, 'manifest.json'), 'utf8');
    const card = readFileSync(join(out, 'README.md'), 'utf8');
    rmSync(join(out, 'manifest.json'));
    rmSync(join(out, 'README.md'));
    writeFileSync(join(out, 'manifest.json.4242.tmp'), '{');
    writeFileSync(join(out, 'completions', `${rec(3)}.tmp`), '{');
    const r = await runInProcess(['merge', out]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, new RegExp(`^merge: ${PARTS} part\\(s\\) complete, each done once; \\d+ rows out, \\d+ rejected, 0 flipped; wrote manifest.json and README.md`, 'm'));
    assert.equal(readFileSync(join(out, 'manifest.json'), 'utf8'), manifest);
    assert.equal(readFileSync(join(out, 'README.md'), 'utf8'), card);
    assert.ok(!existsSync(join(out, 'manifest.json.4242.tmp')) && !existsSync(join(out, 'completions', `${rec(3)}.tmp`)));
  });

  it('names each missing part by index, input file and owning rank, exits 1, and writes nothing', async () => {
    const r = await runInProcess(['merge', half]);
    assert.equal(r.code, 1);
    const plan = JSON.parse(readFileSync(join(half, 'run.json'), 'utf8')).settings.plan as string[];
    for (const i of [1, 3, 5, 7]) {
      const line = r.stderr.split('\n').find((l) => l.startsWith(`error: part ${i} `));
      assert.equal(line, `error: part ${i} (${plan[i]}): not done (no completion record); rank 1 of 2`);
    }
    assert.doesNotMatch(r.stderr, /part [0246] /);
    assert.equal(r.stderr.trim().split('\n').at(-1), `prefrank: ${half} is incomplete: 4 of ${PARTS} part(s) not done; run the missing ranks again (same command), then merge`);
    assert.ok(!existsSync(join(half, 'manifest.json')));
    // The row-group parts of the Parquet input are named with their groups.
    assert.ok(plan.some((p) => /zz-big\.parquet#\d+-\d+$/.test(p)), plan.join(' '));
  });

  it('catches a changed shard, a missing rejects shard, a record of other settings and a stray shard', async () => {
    const out = join(root, 'tampered');
    cpSync(whole, out, { recursive: true });
    const data0 = join(out, 'data', shard(0));
    const bytes = readFileSync(data0);
    bytes[bytes.length >> 1] ^= 0xff;
    writeFileSync(data0, bytes);
    rmSync(join(out, 'rejects', shard(2)));
    const r4 = join(out, 'completions', rec(4));
    writeFileSync(r4, readFileSync(r4, 'utf8').replace(/"configHash": "[0-9a-f]+"/, '"configHash": "0000000000000000"'));
    writeFileSync(join(out, 'data', 'train-00000-of-00004.parquet'), 'left over from a plan of 4 parts');

    const check = await checkOutput(out);
    assert.deepEqual(check.missing.map((m) => [m.index, m.problem.replace(/; rank.*/, '')]), [
      [0, `data/${shard(0)} does not match its recorded sha256`],
      [2, `rejects/${shard(2)} is missing`],
      [4, `done with other settings (config 0000000000000000, folder ${check.info.configHash})`],
    ]);
    assert.deepEqual(check.problems.map((p) => p.problem), ['data/train-00000-of-00004.parquet is not part of this run (another plan\'s or split\'s shard?); remove it']);
    assert.equal(check.done.length, PARTS - 3);

    const r = await runInProcess(['merge', out]);
    assert.equal(r.code, 1);
    assert.match(r.stderr.trim().split('\n').at(-1)!, /is incomplete: 3 of 8 part\(s\) not done, 1 stray file\(s\)/);
    // The failed records are set aside, so that the rerun does not skip their parts.
    assert.match(r.stderr, /3 completion record\(s\) that failed the check were renamed to \*\.json\.invalid/);
    for (const i of [0, 2, 4]) assert.ok(existsSync(join(out, 'completions', `${rec(i)}.invalid`)) && !existsSync(join(out, 'completions', rec(i))));

    // The same command redoes the three parts; with the stray removed, merge passes.
    const again = await runInProcess(convertArgs(input, out));
    assert.equal(again.code, 0, again.stderr);
    assert.deepEqual([...again.stderr.matchAll(/^shard data\/train-(\d{5})/gm)].map((m) => Number(m[1])), [0, 2, 4]);
    rmSync(join(out, 'data', 'train-00000-of-00004.parquet'));
    assert.equal((await runInProcess(['merge', out])).code, 0);
    assert.equal(readFileSync(join(out, 'data', shard(0))).compare(readFileSync(join(whole, 'data', shard(0)))), 0);
  });

  it('checks every shard folder the layout names: a stray and a temporary file under features/ are seen', async () => {
    const out = join(root, 'features-stray');
    cpSync(whole, out, { recursive: true });
    mkdirSync(join(out, 'features'));
    writeFileSync(join(out, 'features', 'train-00000-of-00099.parquet'), 'x');
    writeFileSync(join(out, 'features', `${shard(0)}.tmp`), 'x');
    const check = await checkOutput(out);
    assert.deepEqual(check.problems.map((p) => p.problem), ['features/train-00000-of-00099.parquet is not part of this run (another plan\'s or split\'s shard?); remove it']);
    assert.deepEqual(check.tmp, [`features/${shard(0)}.tmp`]);
  });

  it('refuses a folder that is not an output folder, in one line', async () => {
    const empty = join(root, 'empty');
    cpSync(input, empty, { recursive: true });
    const r = await runInProcess(['merge', empty]);
    assert.equal(r.code, 1);
    assert.equal(r.stderr, `prefrank: ${empty} is not a prefrank output folder (no run.json); name the --out folder of a convert or rerank run\n`);
    const gone = await runInProcess(['merge', join(root, 'nope')]);
    assert.equal(gone.stderr, `prefrank: output folder not found: ${join(root, 'nope')}\n`);
  });
});
