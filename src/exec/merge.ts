/**
 * `prefrank merge DIR`: after the ranks of a sharded run (Slurm array, Kubernetes Indexed Job,
 * --rank/--world-size by hand) are done, checks that every input part was done exactly once and
 * writes the final manifest.json and dataset card. Nothing is written unless the check passes.
 */
import { COMPLETIONS_FOLDER, completionFile, isShardOfPart, isTmpName, RUN_FILE, SHARD_FOLDERS } from '../../schemas/layout.js';
import { DEFAULT_MAX_REJECT_RATE, yieldProblem } from './checkYield.js';
import { existsSync } from 'node:fs';
import { readdir, readFile, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { Manifest, ShardResult, RunInfo } from '../../schemas/manifest.js';
import { UserError } from '../runtime/errors.js';
import { sha256File } from '../runtime/hash.js';
import type { Logger } from '../runtime/Logger.js';
import { OutputFolder } from '../runtime/io/OutputFolder.js';
import { versions } from '../runtime/versions.js';

export interface MergeProblem {
  /** The part's index, or null for a problem of the folder (a stray file). */
  readonly index: number | null;
  /** The input file (and row groups) of the part, when known. */
  readonly input: string | null;
  readonly problem: string;
}

export interface MergeCheck {
  readonly info: RunInfo;
  /** Verified completion records, by index. */
  readonly done: ShardResult[];
  /** Parts whose input could not be read ("failed" records): accounted for, listed in the manifest. */
  readonly failed: ShardResult[];
  readonly missing: MergeProblem[];
  readonly problems: MergeProblem[];
  /** Leftover temporary files (removed by a successful merge). */
  readonly tmp: string[];
  /** Completion records that failed the check (merge moves them aside, so a rerun redoes the part). */
  readonly invalid: string[];
}


async function listFiles(dir: string): Promise<string[]> {
  return existsSync(dir) ? (await readdir(dir)).sort() : [];
}

/**
 * Checks an output folder against its run.json: for every part index in [0, parts) one completion
 * record under the folder's config hash, whose data shard exists with the recorded sha256 and whose
 * rejects (and lists) shards exist; no shard file that no record names (it would be read twice or
 * be a leftover of another plan).
 */
export async function checkOutput(dir: string): Promise<MergeCheck> {
  const folder = new OutputFolder(dir);
  if (!existsSync(dir)) throw new UserError(`output folder not found: ${dir}`);
  let info: RunInfo | null;
  try {
    info = await folder.runInfo();
  } catch (err) {
    throw new UserError(`${join(dir, RUN_FILE)} cannot be read: ${(err as Error).message}`, { cause: err });
  }
  if (!info) throw new UserError(`${dir} is not a prefrank output folder (no run.json); name the --out folder of a convert or rerank run`);
  const plan = Array.isArray(info.settings.plan) ? (info.settings.plan as string[]) : [];
  // The plan lists one entry per part (file, or file#groups), in part order.
  const inputOf = (i: number) => plan[i] ?? null;
  const done: ShardResult[] = [];
  const failed: ShardResult[] = [];
  const missing: MergeProblem[] = [];
  const problems: MergeProblem[] = [];
  const named = new Set<string>();
  const invalid: string[] = [];
  const worldSizes = new Set<number>();

  for (let i = 0; i < info.parts; i++) {
    const file = join(dir, completionFile(i));
    if (!existsSync(file)) {
      missing.push({ index: i, input: inputOf(i), problem: 'not done (no completion record)' });
      continue;
    }
    let r: ShardResult;
    try {
      r = JSON.parse(await readFile(file, 'utf8')) as ShardResult;
    } catch {
      missing.push({ index: i, input: inputOf(i), problem: 'completion record cannot be parsed' });
      invalid.push(file);
      continue;
    }
    const bad = (problem: string) => {
      missing.push({ index: i, input: inputOf(i), problem });
      invalid.push(file);
    };
    if (r.index !== i) bad(`completion record names part ${r.index}`);
    else if (r.configHash !== info.configHash) bad(`done with other settings (config ${r.configHash}, folder ${info.configHash})`);
    else if (r.status === 'failed') failed.push(r);
    else if (r.status !== 'done' || !r.output) bad(`status ${r.status}`);
    else if (r.count !== info.parts) bad(`done under a plan of ${r.count} parts, folder has ${info.parts}`);
    else if (!existsSync(join(dir, r.output))) bad(`${r.output} is missing`);
    else if (r.outputSha256 && (await sha256File(join(dir, r.output))) !== r.outputSha256) bad(`${r.output} does not match its recorded sha256`);
    else if (r.rejects && !existsSync(join(dir, r.rejects))) bad(`${r.rejects} is missing`);
    else if (r.lists && !existsSync(join(dir, r.lists))) bad(`${r.lists} is missing`);
    else {
      done.push(r);
      worldSizes.add(r.worldSize);
      for (const f of [r.output, r.rejects, r.lists]) if (f) named.add(f);
    }
  }

  // Strays: shard files no verified record names. A reader globbing data/*.parquet would count them.
  const tmp: string[] = [];
  for (const sub of SHARD_FOLDERS) {
    for (const f of await listFiles(join(dir, sub))) {
      const rel = `${sub}/${f}`;
      if (isTmpName(f)) tmp.push(rel);
      // A missing part's own (uncommitted) shard is not a stray: it is redone and replaced.
      else if (!named.has(rel) && !missing.some((m) => m.index !== null && isShardOfPart(f, m.index, info!.parts))) {
        problems.push({ index: null, input: null, problem: `${rel} is not part of this run (another plan's or split's shard?); remove it` });
      }
    }
  }
  for (const f of await listFiles(join(dir, COMPLETIONS_FOLDER))) if (isTmpName(f)) tmp.push(`${COMPLETIONS_FOLDER}/${f}`);
  for (const f of await listFiles(dir)) if (isTmpName(f)) tmp.push(f);

  // Which rank owns a missing part, when every finished part was written under one world size.
  if (worldSizes.size === 1) {
    const [n] = worldSizes;
    for (let k = 0; k < missing.length; k++) {
      const m = missing[k];
      if (m.index !== null) missing[k] = { ...m, problem: `${m.problem}; rank ${m.index % n} of ${n}` };
    }
  }
  return { info, done, failed, missing, problems, tmp, invalid };
}

/** The one-line-per-part account of what is missing, for stderr. */
export function describeProblems(check: MergeCheck, limit = 20): string[] {
  const all = [...check.missing, ...check.problems];
  const lines = all.slice(0, limit).map((m) => (m.index !== null ? `  part ${m.index} (${m.input ?? 'input unknown'}): ${m.problem}` : `  ${m.problem}`));
  if (all.length > limit) lines.push(`  ... and ${all.length - limit} more`);
  return lines;
}

/** Runs the check and, when complete, writes manifest.json and README.md (OutputFolder.finish). */
export async function mergeOutput(dir: string, log: Logger, maxRejectRate = DEFAULT_MAX_REJECT_RATE): Promise<Manifest> {
  const check = await checkOutput(dir);
  const { info } = check;
  if (check.missing.length || check.problems.length) {
    for (const line of describeProblems(check)) log.error(line.trimStart());
    // A record whose shard is gone or changed would make the rerun skip its part: set it aside
    // (kept as evidence, no longer a record), so that the same command redoes the part.
    for (const f of check.invalid) await rename(f, `${f}.invalid`);
    if (check.invalid.length) log.warn(`${check.invalid.length} completion record(s) that failed the check were renamed to *.json.invalid; their parts are redone by the next run`);
    const what = [check.missing.length ? `${check.missing.length} of ${info.parts} part(s) not done` : '', check.problems.length ? `${check.problems.length} stray file(s)` : '']
      .filter(Boolean)
      .join(', ');
    throw new UserError(`${dir} is incomplete: ${what}; run the missing ranks again (same command), then merge`);
  }
  const folder = new OutputFolder(dir);
  // Temporary files are leftovers of killed runs: every part is done, so nothing is writing them.
  for (const f of check.tmp) await rm(join(dir, f), { force: true });
  const split = typeof info.settings.split === 'string' ? info.settings.split : 'train';
  const manifest = await folder.finish(info, check.done, check.failed, split, versions());
  const t = manifest.totals;
  log.info(`merge: ${info.parts} part(s) complete, each done once${check.failed.length ? ` (${check.failed.length} of them failed: unreadable input)` : ''}; ${t.rowsOut} rows out, ${t.rowsRejected} rejected, ${t.rowsFlipped} flipped; wrote manifest.json and README.md`, { out: dir, config: info.configHash });
  if (check.failed.length) {
    for (const f of check.failed) log.error(`part ${f.index} failed: ${f.error}`);
    // The manifest lists them; the exit code says the dataset lacks those inputs' rows.
    process.exitCode = 1;
  }
  const problem = await yieldProblem(manifest, dir, maxRejectRate);
  if (problem) {
    log.error(problem);
    process.exitCode = 1;
  }
  return manifest;
}
