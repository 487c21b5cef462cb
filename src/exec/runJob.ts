/**
 * Runs a sharded job (convert, rerank): plans the parts, prepares the output folder, skips parts
 * already complete under the same settings, runs this rank's share through the pipeline, and
 * writes the manifest and dataset card once every part is done. Stops cleanly on SIGINT/SIGTERM.
 */
import { completionFile, RUN_FILE, SHARD_FOLDERS, shardPath, tmpName, TOP_TMP } from '../../schemas/layout.js';
import { readdir } from 'node:fs/promises';
import { resolve } from 'node:path';
import { toArray, type Observable, type Subscription, tap } from 'rxjs';
import type { ShardResult } from '../../schemas/manifest.js';
import type { PartRef } from '../../schemas/records.js';
import type { IoConfig } from '../runtime/Config.js';
import { hashConfig } from '../runtime/Config.js';
import { UserError } from '../runtime/errors.js';
import { expandInputs, inputLicense, partsForRank, planParts } from '../runtime/io/inputs.js';
import { yieldProblem } from './checkYield.js';
import type { Logger } from '../runtime/Logger.js';
import { OutputFolder, type RunInfo } from '../runtime/io/OutputFolder.js';
import { Progress } from '../runtime/Progress.js';
import type { Stats } from '../runtime/Stats.js';
import { versions } from '../runtime/versions.js';
import { isWorkerProcess, onStopRequest, runWorkers } from './workers.js';

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
  return parts.map((p) => p.source + (p.rowGroups ? `#${p.rowGroups[0]}-${p.rowGroups[1]}` : ''));
}

export async function runJob(spec: JobSpec): Promise<JobOutcome> {
  const { io, log, stats } = spec;
  const t0 = Date.now();
  const files = await expandInputs(io.inputs);
  const parts = await planParts(files, { partRows: io.partRows });
  const settings = { ...spec.settings, plan: planKey(parts) };
  const configHash = hashConfig(settings);
  const info: RunInfo = { configHash, settings, parts: parts.length, command: spec.command, license: await inputLicense(files) };
  const folder = new OutputFolder(io.outDir);
  const { created } = await folder.prepare(info, io.overwrite);

  const done = await folder.completed(configHash);
  const mine = partsForRank(parts, io.rank, io.worldSize);
  const todo = mine.filter((p) => !done.has(p.index));
  log.info(`${spec.command}: ${files.length} file(s), ${parts.length} shard(s); rank ${io.rank}/${io.worldSize} has ${mine.length}, ${mine.length - todo.length} already complete`, { out: io.outDir, config: configHash });

  const results: ShardResult[] = [];
  const failed: ShardResult[] = [];
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
    await removeUncommitted(folder, todo, io.split);
    try {
      await spec.before?.();
    } catch (err) {
      // A run that could not start (a probe that does not fit the model) leaves no claim on a
      // folder it created, so the corrected command is not refused as "other settings".
      if (created && done.size === 0) await folder.remove([RUN_FILE]);
      throw err;
    }
    // A total (and so an ETA) only when every part's row count is known from Parquet metadata.
    const total = todo.every((p) => typeof p.rows === 'number') ? todo.reduce((s, p) => s + (p.rows ?? 0), 0) : null;
    const progress = new Progress(() => stats.get('streamPart.rowsDone'), total, spec.showProgress);
    const run$ = spec.pipeline(todo, configHash).pipe(
      tap((r) => {
        if (r.status === 'done') {
          results.push(r);
          log.info(`shard ${r.output}`, { in: r.stats.rowsIn, out: r.stats.rowsOut, rejected: r.stats.rowsRejected, flipped: r.stats.rowsFlipped });
        } else {
          failed.push(r);
          log.error(`shard ${r.index} failed: ${r.error}`);
        }
      }),
      toArray(),
    );
    // SIGINT/SIGTERM (or a stop from a --workers parent): unsubscribe, which removes the
    // temporary files of the shard in progress.
    await new Promise<void>((resolve, reject) => {
      let stopping = false;
      // Declared before subscribing: a pipeline may complete or error during subscribe().
      let sub: Subscription | undefined;
      const finish = (k: () => void) => {
        stopListening();
        progress.stop();
        k();
      };
      const stopListening = onStopRequest((why) => {
        if (stopping) return;
        stopping = interrupted = true;
        // The bar first: a warning written while it is drawn lands on its line.
        progress.stop();
        log.warn(`${why}: stopping at a clean point; completed shards are kept. Run the same command again to resume.`);
        sub?.unsubscribe();
        // Teardown removes temporary files asynchronously; give it a moment before returning.
        setTimeout(() => finish(resolve), 300);
      });
      sub = run$.subscribe({
        complete: () => finish(resolve),
        // A failed run (disk full) leaves none of its temporary files, a completion record's included.
        error: (e) => void removeUncommitted(folder, todo, io.split, true).catch(() => undefined).finally(() => finish(() => reject(asUserError(e, io.outDir)))),
      });
    });
  }

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
  // With --workers the rows were counted in the workers; their completion records have them.
  const rowsThisRun = workers > 1 ? results.reduce((s, r) => s + r.stats.rowsIn, 0) : stats.get('streamPart.rows');
  return { results, failed, complete, interrupted, seconds: (Date.now() - t0) / 1000, rowsThisRun, folder };
}

/**
 * Removes what a killed run may have left of parts that are not complete: temporary files, and
 * (unless `tmpOnly`) shards renamed into place whose completion record was never written. Only this
 * rank's parts, so workers sharing the folder never touch each other's files in progress.
 */
async function removeUncommitted(folder: OutputFolder, parts: readonly PartRef[], split: string, tmpOnly = false): Promise<void> {
  const files: string[] = [];
  for (const p of parts) {
    for (const d of SHARD_FOLDERS) {
      const shard = shardPath(d, split, p.index, p.count);
      files.push(tmpName(shard), ...(tmpOnly ? [] : [shard]));
    }
    files.push(tmpName(completionFile(p.index)));
  }
  await folder.remove(files);
}

const writeErrors: Record<string, string> = {
  ENOSPC: 'no space left on device',
  EDQUOT: 'disk quota exceeded',
  EFBIG: 'file too large (file size limit)',
  EACCES: 'permission denied',
  EPERM: 'operation not permitted',
  EROFS: 'read-only file system',
  ENOTDIR: 'a path component is not a folder',
  EIO: 'I/O error',
};

/** A file-system failure of the output (disk full, not writable) as one line for the user. */
export function asUserError(err: unknown, outDir: string): unknown {
  const e = err as NodeJS.ErrnoException;
  if (err instanceof UserError || typeof e?.code !== 'string' || !(e.code in writeErrors)) return err;
  // A path outside the output folder is an input's problem, reported as it is.
  if (e.path && !resolve(e.path).startsWith(resolve(outDir))) return err;
  const where = e.path ? ` (${e.path})` : '';
  return new UserError(`cannot write to output folder ${outDir}: ${writeErrors[e.code]}${where}; completed shards are kept, fix it and run the same command again to resume`, { cause: err });
}
