/**
 * Runs a sharded job (convert, rerank): plans the parts, prepares the output folder, skips parts
 * already complete under the same settings, runs this rank's share through the pipeline, and
 * writes the manifest and dataset card once every part is done. Stops cleanly on SIGINT/SIGTERM.
 */
import { lastValueFrom, toArray, type Observable, tap } from 'rxjs';
import type { ShardResult } from '../../schemas/manifest.js';
import type { PartRef } from '../../schemas/records.js';
import type { IoConfig } from '../runtime/Config.js';
import { hashConfig } from '../runtime/Config.js';
import { UserError } from '../runtime/errors.js';
import { displayPath, expandInputs, partsForRank, planParts } from '../runtime/inputs.js';
import type { Logger } from '../runtime/Logger.js';
import { OutputFolder, type RunInfo } from '../runtime/OutputFolder.js';
import { Progress } from '../runtime/Progress.js';
import type { Stats } from '../runtime/Stats.js';
import { versions } from '../runtime/versions.js';

export interface JobSpec {
  readonly command: string;
  readonly io: IoConfig;
  /** Every setting that decides the output bytes (IO and model alike). */
  readonly settings: Readonly<Record<string, unknown>>;
  readonly log: Logger;
  readonly stats: Stats;
  readonly pipeline: (parts: readonly PartRef[], configHash: string) => Observable<ShardResult>;
  /** Runs before the pipeline once the plan is known (e.g. opening the model), skipped when nothing is left. */
  readonly before?: () => Promise<void>;
  readonly showProgress?: boolean;
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
  return parts.map((p) => displayPath(p.file) + (p.rowGroups ? `#${p.rowGroups[0]}-${p.rowGroups[1]}` : ''));
}

export async function runJob(spec: JobSpec): Promise<JobOutcome> {
  const { io, log, stats } = spec;
  const t0 = Date.now();
  const files = await expandInputs(io.inputs);
  const parts = await planParts(files, { partRows: io.partRows });
  const settings = { ...spec.settings, plan: planKey(parts) };
  const configHash = hashConfig(settings);
  const info: RunInfo = { configHash, settings, parts: parts.length, command: spec.command };
  const folder = new OutputFolder(io.outDir);
  await folder.prepare(info, io.overwrite);

  const done = await folder.completed(configHash);
  const mine = partsForRank(parts, io.rank, io.worldSize);
  const todo = mine.filter((p) => !done.has(p.index));
  log.info(`${spec.command}: ${files.length} file(s), ${parts.length} shard(s); rank ${io.rank}/${io.worldSize} has ${mine.length}, ${mine.length - todo.length} already complete`, { out: io.outDir, config: configHash });

  const results: ShardResult[] = [];
  const failed: ShardResult[] = [];
  let interrupted = false;
  if (todo.length > 0) {
    await spec.before?.();
    const progress = new Progress(() => stats.get('streamPart.rows'), null, spec.showProgress);
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
    // SIGINT/SIGTERM: unsubscribe, which removes the temporary files of the shard in progress.
    await new Promise<void>((resolve, reject) => {
      const sub = run$.subscribe({ complete: () => finish(resolve), error: (e) => finish(() => reject(e)) });
      const onSignal = (sig: NodeJS.Signals) => {
        interrupted = true;
        log.warn(`${sig}: stopping at a clean point; completed shards are kept. Run the same command again to resume.`);
        sub.unsubscribe();
        // Teardown removes temporary files asynchronously; give it a moment before returning.
        setTimeout(() => finish(resolve), 300);
      };
      const finish = (k: () => void) => {
        process.off('SIGINT', onSignal);
        process.off('SIGTERM', onSignal);
        progress.stop();
        k();
      };
      process.on('SIGINT', onSignal);
      process.on('SIGTERM', onSignal);
    });
  }

  const allDone = await folder.completed(configHash);
  const failedIdx = new Set(failed.map((f) => f.index));
  const complete = !interrupted && parts.every((p) => allDone.has(p.index) || failedIdx.has(p.index));
  if (complete) {
    await folder.finish(info, [...allDone.values()], failed, io.split, versions());
  } else if (!interrupted) {
    log.info(`${parts.length - allDone.size} shard(s) are left to other ranks; run 'prefrank merge ${io.outDir}' when all are done`);
  }
  if (failed.length) {
    process.exitCode = 1;
    log.error(`${failed.length} input file(s) could not be read (listed in manifest.json); the other shards are complete`);
  }
  if (interrupted) process.exitCode = 130;
  return { results, failed, complete, interrupted, seconds: (Date.now() - t0) / 1000, rowsThisRun: stats.get('streamPart.rows'), folder };
}

/** Throws a UserError for a missing required resource with a hint. */
export function requireFile(path: string, what: string, hint: string): never {
  throw new UserError(`${what} not found: ${path} (${hint})`);
}
