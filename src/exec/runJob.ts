/**
 * Runs a sharded job (convert, rerank): plans the parts, prepares the output folder, skips parts
 * already complete under the same settings, runs this rank's share through the pipeline, and
 * writes the manifest and dataset card once every part is done. Stops cleanly on SIGINT/SIGTERM.
 */
import { readdir } from 'node:fs/promises';
import type { Observable } from 'rxjs';
import { TOP_TMP } from '../../schemas/layout.js';
import type { ShardResult, RunInfo } from '../../schemas/manifest.js';
import type { PartRef } from '../../schemas/records.js';
import type { IoConfig } from '../runtime/Config.js';
import { hashConfig } from '../runtime/Config.js';
import { expandInputs, inputLicense, partsForRank, planParts } from '../runtime/io/inputs.js';
import { yieldProblem } from './checkYield.js';
import type { Logger } from '../runtime/Logger.js';
import { OutputFolder } from '../runtime/io/OutputFolder.js';
import type { Stats } from '../runtime/Stats.js';
import { versions } from '../runtime/versions.js';
import { runLocal } from './runLocal.js';
import { isWorkerProcess, runWorkers } from './workers.js';

export interface JobSpec {
  readonly command: string;
  /** `workers` > 1 runs that many worker processes of this command (see workers.ts). */
  readonly io: IoConfig & { readonly workers?: number };
  /** Every setting that decides the output bytes (IO and model alike). */
  readonly settings: Readonly<Record<string, unknown>>;
  readonly log: Logger;
  readonly stats: Stats;
  readonly pipeline: (parts: readonly PartRef[], configHash: string) => Observable<ShardResult>;
  /** Runs before the pipeline once the plan is known (e.g. opening the model), skipped when nothing is left. */
  readonly before?: () => Promise<void>;
  readonly showProgress?: boolean;
  /**
   * With --workers: the command's compute-threads flag (e.g. 'threads'), so each worker gets
   * floor(threads / workers) of them, and the total to split (default: the machine's cores).
   */
  readonly threadsFlag?: string;
  readonly threads?: number;
}

export interface JobOutcome {
  readonly results: ShardResult[];
  readonly failed: ShardResult[];
  readonly complete: boolean;
  readonly interrupted: boolean;
  readonly seconds: number;
  readonly rowsThisRun: number;
  readonly folder: OutputFolder;
}

/** The part plan as text, for the config hash: adding or removing an input file changes the shards. */
function planKey(parts: readonly PartRef[]): string[] {
  return parts.map((p) => p.source + (p.rowGroups ? `#${p.rowGroups[0]}-${p.rowGroups[1]}` : '') + (p.rowRange ? `~${p.rowRange[0]}-${p.rowRange[1]}` : '') + (p.byteRange ? `@${p.byteRange[0]}-${p.byteRange[1]}` : ''));
}

export async function runJob(spec: JobSpec): Promise<JobOutcome> {
  const { io, log, stats } = spec;
  const t0 = Date.now();
  const plan = await planJob(spec);
  const { parts, configHash, info } = plan;
  const folder = new OutputFolder(io.outDir);
  const { created } = await folder.prepare(info, io.overwrite);

  const done = await folder.completed(configHash);
  const mine = partsForRank(parts, io.rank, io.worldSize);
  const todo = mine.filter((p) => !done.has(p.index));
  log.info(`${spec.command}: ${plan.files.length} file(s), ${parts.length} shard(s); rank ${io.rank}/${io.worldSize} has ${mine.length}, ${mine.length - todo.length} already complete`, { out: io.outDir, config: configHash });

  let results: ShardResult[] = [];
  let failed: ShardResult[] = [];
  let interrupted = false;
  let workersFailed = 0;
  const workers = Math.min(io.workers ?? 1, mine.length);
  if (todo.length > 0 && workers > 1) {
    // The workers do the parts (each cleans its own stale files); this process only waits and merges.
    const w = await runWorkers({ workers, rank: io.rank, worldSize: io.worldSize, threadsFlag: spec.threadsFlag, threads: spec.threads || undefined, todo: todo.map((p) => p.index) }, process.argv.slice(2), log);
    interrupted = w.interrupted;
    for (const c of w.crashed) log.error(`worker ${c.worker} (rank ${c.rank}) ${c.signal ? `was killed by ${c.signal}` : `exited with code ${c.code}`}; its unfinished parts are redone when the same command runs again`);
    workersFailed = w.crashed.length;
    const after = await folder.completed(configHash);
    for (const [i, r] of after) if (!done.has(i)) results.push(r);
  } else if (todo.length > 0) {
    ({ results, failed, interrupted } = await runLocal({ ...spec, folder, todo, configHash, split: io.split, outDir: io.outDir, progressInterval: io.progressInterval, claimedFolder: created && done.size === 0 }));
  }
  const complete = await finishJob(spec, folder, plan, failed, interrupted, workersFailed);
  // With --workers the rows were counted in the workers; their completion records have them.
  const rowsThisRun = workers > 1 ? results.reduce((s, r) => s + r.stats.rowsIn, 0) : stats.get('streamPart.rows');
  return { results, failed, complete, interrupted, seconds: (Date.now() - t0) / 1000, rowsThisRun, folder };
}

interface JobPlan {
  readonly files: readonly string[];
  readonly parts: readonly PartRef[];
  readonly configHash: string;
  readonly info: RunInfo;
}

/** The parts of the inputs and the run's identity: its settings with the plan, and their hash. */
async function planJob(spec: JobSpec): Promise<JobPlan> {
  const files = await expandInputs(spec.io.inputs);
  // A --workers worker plans again (the same plan); its parent has said what takes long already.
  const note = isWorkerProcess() ? undefined : (m: string) => spec.log.info(`planning: ${m}`);
  const parts = await planParts(files, { partRows: spec.io.partRows, partBytes: spec.io.partBytes, note });
  const settings = { ...spec.settings, plan: planKey(parts) };
  const configHash = hashConfig(settings);
  return { files, parts, configHash, info: { configHash, settings, parts: parts.length, command: spec.command, license: await inputLicense(files) } };
}

/**
 * After this process's share: when every part is done (here, by workers or by other ranks), the
 * manifest and dataset card; the failed inputs, the yield check and what is left, said; the exit
 * code set. Returns whether the folder is complete.
 */
async function finishJob(spec: JobSpec, folder: OutputFolder, plan: JobPlan, failed: ShardResult[], interrupted: boolean, workersFailed: number): Promise<boolean> {
  const { io, log } = spec;
  const { parts, configHash, info } = plan;
  const allDone = await folder.completed(configHash);
  // Parts whose input could not be read, by this process or by its workers (their records say
  // so). A worker reports only its own.
  const worker = isWorkerProcess();
  if (!worker) for (const [i, r] of await folder.failedParts(configHash)) if (!allDone.has(i) && !failed.some((f) => f.index === i)) failed.push(r);
  failed.sort((a, b) => a.index - b.index);
  const failedIdx = new Set(failed.map((f) => f.index));
  // A --workers worker leaves the manifest, the summary and the hints to its parent.
  const complete = !interrupted && !worker && parts.every((p) => allDone.has(p.index) || failedIdx.has(p.index));
  if (complete) {
    const manifest = await folder.finish(info, [...allDone.values()], failed, io.split, versions());
    const problem = await yieldProblem(manifest, io.outDir, io.maxRejectRate);
    if (problem) {
      log.error(problem);
      process.exitCode = 1;
    }
    // run.json/manifest.json temporaries of a killed run. Only in a run of one rank: with several,
    // another rank (on another machine, so its pid means nothing here) may be writing one now.
    if (io.worldSize === 1) await folder.remove((await readdir(io.outDir)).filter((f) => TOP_TMP.test(f)));
  } else if (!interrupted && !worker && !workersFailed && allDone.size + failedIdx.size < parts.length) {
    log.info(`${parts.length - allDone.size - failedIdx.size} shard(s) are left to other ranks; run 'prefrank merge ${io.outDir}' when all are done`);
  }
  if (workersFailed) process.exitCode = 1;
  // A worker's unreadable inputs are in its records; its parent reports them and sets the exit code
  // (a worker exit code of 1 would read as a crash).
  if (failed.length && !worker) {
    process.exitCode = 1;
    log.error(`${failed.length} input file(s) could not be read (listed in manifest.json); the other shards are complete`);
  }
  if (interrupted) process.exitCode = 130;
  return complete;
}
