/**
 * Same bytes out: every command runs on one fixed mixed input and each file it writes, and what it
 * prints, is compared with digests recorded before a change (test/fixtures/golden/digests.json).
 * A refactor that is meant to change nothing must leave this test green; a change that is meant to
 * change an output re-records the digests (PREFRANK_GOLDEN=write npm test) and says why in its commit.
 *
 * Only the wall-clock fields of the printed summaries (seconds, rows per second) are left out: every
 * file is compared whole.
 *
 * The model's numbers depend on the CPU: onnxruntime picks its kernels by instruction set (seen:
 * an AVX2-only AMD machine and the machine the first digests came from give features that differ in
 * the last bits, so every output downstream of the model differs). So the digests of `convert`
 * (no model) hold everywhere, and those of the other commands are kept per platform, named by a
 * fingerprint: the digest of the default model's raw outputs on fixed token ids, run by
 * onnxruntime directly (no prefrank code in it, so no change of prefrank's can move it). A platform
 * with no recorded digests still checks `convert` and which files each command writes, and says
 * how to record it.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { test } from 'node:test';
import ort from 'onnxruntime-node';
import { defaultModelFile } from '../../src/runtime/model/defaultModel.js';
import { projectRoot } from '../../src/runtime/paths.js';
import { hhParquetTable, hhRows, runCli, tempDir, writeJsonl, writeParquetFile } from '../helpers/badInputs.js';

const DIGESTS = join(projectRoot(), 'test', 'fixtures', 'golden', 'digests.json');

/** Digests of one platform's model-dependent outputs, named by its numeric fingerprint. */
interface PlatformDigests {
  readonly fingerprint: string;
  readonly digests: Record<string, string>;
}
interface GoldenFile {
  /** Outputs that involve no model: the same on every machine. */
  readonly modelFree: Record<string, string>;
  readonly platforms: PlatformDigests[];
}

const isModelFree = (key: string) => key === 'convert: stdout' || key.startsWith('convert/');

/** The default model's raw outputs on fixed ids (one row padded), through onnxruntime alone. */
async function numericFingerprint(): Promise<string> {
  const session = await ort.InferenceSession.create(defaultModelFile(() => {}), { graphOptimizationLevel: 'all', executionMode: 'sequential', intraOpNumThreads: 0 });
  try {
    const T = 12;
    const ids = BigInt64Array.from({ length: 2 * T }, (_, i) => BigInt(i < T ? 17 + 37 * i : i - T < 7 ? 101 + 13 * (i - T) : 0));
    const mask = BigInt64Array.from({ length: 2 * T }, (_, i) => (i < T || i - T < 7 ? 1n : 0n));
    // Every token stream gets the same ids and mask (the default model's second stream reads GloVe's words).
    const feeds = Object.fromEntries(session.inputNames.map((name) => [name, new ort.Tensor('int64', name.endsWith('input_ids') ? ids : mask, [2, T])]));
    const out = await session.run(feeds);
    const h = createHash('sha256');
    for (const name of session.outputNames) h.update(Buffer.from((out[name].data as Float32Array).buffer));
    return h.digest('hex').slice(0, 16);
  } finally {
    await session.release();
  }
}

function digest(bytes: Buffer | string): string {
  return createHash('sha256').update(bytes).digest('hex').slice(0, 16);
}

function filesUnder(root: string): string[] {
  const out: string[] = [];
  const walk = (d: string) => {
    for (const name of readdirSync(d).sort()) {
      const p = join(d, name);
      if (statSync(p).isDirectory()) walk(p);
      else out.push(p);
    }
  };
  walk(root);
  return out;
}

/** Printed output with the run's temporary folder and its timings taken out. */
function stable(text: string, tmp: string): string {
  return text
    .split(tmp)
    .join('<tmp>')
    .replace(/"(seconds|rowsPerSecond)":[0-9.e+-]+/g, '"$1":0');
}

/** The fixed input: HH pairs as JSONL (with two bad lines), as Parquet, PKU-style and listwise rows. */
function writeInputs(dir: string): void {
  const hh = hhRows();
  mkdirSync(dir, { recursive: true });
  writeJsonl(join(dir, 'a-hh.jsonl'), [...hh.slice(0, 24), '{"chosen": "only one side"}', 'not json', ...hh.slice(24, 30)]);
  writeParquetFile(join(dir, 'b-hh.parquet'), hhParquetTable(hh.slice(30, 50), 30), 8);
  const split = (t: string) => {
    const i = t.lastIndexOf('\n\nAssistant: ');
    return { prompt: t.slice(0, i), response: t.slice(i + 13) };
  };
  writeJsonl(
    join(dir, 'c-pku.jsonl'),
    hh.slice(50, 62).map((r, i) => ({
      prompt: split(r.chosen).prompt,
      response_0: split(r.chosen).response,
      response_1: split(r.rejected).response,
      safer_response_id: i % 2,
      better_response_id: 0,
      is_response_0_safe: true,
      is_response_1_safe: i % 3 === 0,
      category: i % 2 ? 'violence' : 'privacy',
    })),
  );
  writeJsonl(
    join(dir, 'd-list.jsonl'),
    hh.slice(62, 70).map((r, i) => ({
      prompt: split(r.chosen).prompt,
      responses: [split(r.chosen).response, split(r.rejected).response, split(hh[100 + i].chosen).response],
      labels: [3, 1, 2],
    })),
  );
}

function sameDigests(a: Record<string, string>, b: Record<string, string>): boolean {
  const ka = Object.keys(a).sort();
  return ka.length === Object.keys(b).length && ka.every((k) => a[k] === b[k]);
}

test('every command writes and prints the same bytes as before (golden digests)', { timeout: 240_000 }, async (t) => {
  const tmp = await tempDir('golden');
  const inp = join(tmp, 'in');
  writeInputs(inp);
  const got: Record<string, string> = {};
  // Printed outputs are kept beside the folder, so a changed digest can be read, not only seen.
  const printed = `${tmp}-stdout`;
  mkdirSync(printed, { recursive: true });
  const run = async (name: string, args: string[], expectCode = 0) => {
    const r = await runCli(args);
    assert.equal(r.code, expectCode, `${name}: ${r.stderr}`);
    got[`${name}: stdout`] = digest(stable(r.stdout, tmp));
    writeFileSync(join(printed, `${name.replace(/ /g, '-')}.txt`), stable(r.stdout, tmp));
  };
  const o = (name: string) => join(tmp, name);
  await run('convert', ['convert', inp, '--out', o('convert'), '--row-group-rows', '16']);
  await run('rerank', ['rerank', inp, '--out', o('rerank'), '--device', 'cpu', '--pairs', 'all']);
  await run('rerank filter', ['rerank', join(o('convert'), 'data'), '--out', o('filter'), '--device', 'cpu', '--policy', 'filter', '--min-margin', '0.2']);
  await run('rerank annotate', ['rerank', join(o('convert'), 'data'), '--out', o('annotate'), '--device', 'cpu', '--policy', 'annotate', '--label-prior', '0.6']);
  await run('embed', ['embed', join(o('convert'), 'data'), '--out', o('embed'), '--device', 'cpu', '--layers', '0,-1']);
  for (const rank of ['0', '1']) await run(`rerank rank ${rank}`, ['rerank', inp, '--out', o('ranked'), '--device', 'cpu', '--world-size', '2', '--rank', rank, '--part-rows', '8']);
  await run('merge', ['merge', o('ranked')]);
  await run('stats', ['stats', o('rerank'), '--json']);
  await run('stats table', ['stats', o('rerank')]);
  await run('sql', ['sql', o('rerank'), 'SELECT pair_id, flipped, round(confidence, 4) AS c FROM pairs ORDER BY pair_id', '--format', 'csv']);
  await run('report', ['report', o('rerank'), '--out', o('report.html')]);
  await run('probe train', ['probe', 'train', o('embed'), '--out', o('probe'), '--seed', '1', '--device', 'cpu']);
  await run('probe eval', ['probe', 'eval', join(o('convert'), 'data'), '--probe', o('probe'), '--device', 'cpu', '--layers', '0,-1']);
  for (const f of filesUnder(tmp)) if (!f.startsWith(inp)) got[relative(tmp, f)] = digest(readFileSync(f));

  const split = (all: Record<string, string>, modelFree: boolean) => Object.fromEntries(Object.entries(all).filter(([k]) => isModelFree(k) === modelFree));
  const fingerprint = await numericFingerprint();
  const recorded = JSON.parse(readFileSync(DIGESTS, 'utf8')) as GoldenFile;
  // This machine's set, by fingerprint.
  const platformOf = (g: GoldenFile) => g.platforms.find((p) => p.fingerprint === fingerprint);
  const mine = platformOf(recorded);
  if (process.env.PREFRANK_GOLDEN === 'write') {
    // This platform's set is replaced; the others are kept when the model-free outputs did not change.
    const kept = sameDigests(recorded.modelFree, split(got, true)) ? recorded.platforms.filter((p) => p !== mine) : [];
    const next: GoldenFile = { modelFree: split(got, true), platforms: [...kept, { fingerprint, digests: split(got, false) }] };
    writeFileSync(DIGESTS, JSON.stringify(next, null, 2) + '\n');
  }
  const want = JSON.parse(readFileSync(DIGESTS, 'utf8')) as GoldenFile;
  const changedIn = (w: Record<string, string>, g: Record<string, string>) => Object.keys(w).filter((k) => g[k] !== w[k]);
  const model = platformOf(want)?.digests ?? null;
  const expectedKeys = [...Object.keys(want.modelFree), ...Object.keys(model ?? want.platforms[0].digests)].sort();
  assert.deepEqual(Object.keys(got).sort(), expectedKeys, 'the set of files written changed');
  const changed = [...changedIn(want.modelFree, got), ...(model ? changedIn(model, got) : [])];
  assert.deepEqual(changed, [], `outputs that changed: ${changed.join(', ')} (in ${tmp}; printed outputs in ${printed})`);
  if (!model) t.diagnostic(`no golden digests for this machine's model numerics (fingerprint ${fingerprint}): convert and the files written were checked; record them with PREFRANK_GOLDEN=write npm test`);
});
