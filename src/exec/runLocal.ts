/**
 * Runs this process's parts through the pipeline: clears what a killed run left of them, opens
 * what the pipeline needs (`before`), shows progress, and stops at a clean point on SIGINT/SIGTERM
 * (or a stop from a --workers parent) by unsubscribing, which removes the temporary files of the
 * shard in progress.
 */
import { resolve } from 'node:path';
import { toArray, type Observable, type Subscription, tap } from 'rxjs';
import { completionFile, OUTPUT_FORMATS, RUN_FILE, SHARD_FOLDERS, shardPath, tmpName } from '../../schemas/layout.js';
import type { ShardResult } from '../../schemas/manifest.js';
import type { PartRef } from '../../schemas/records.js';
import { UserError } from '../runtime/errors.js';
import type { OutputFolder } from '../runtime/io/OutputFolder.js';
import type { Logger } from '../runtime/Logger.js';
import { Progress } from '../runtime/Progress.js';
import type { Stats } from '../runtime/Stats.js';
import { onStopRequest } from './workers.js';

export interface LocalRun {
  readonly folder: OutputFolder;
  readonly todo: readonly PartRef[];
  readonly configHash: string;
  readonly split: string;
  readonly outDir: string;
  readonly log: Logger;
  readonly stats: Stats;
  readonly pipeline: (parts: readonly PartRef[], configHash: string) => Observable<ShardResult>;
  readonly before?: () => Promise<void>;
  readonly showProgress?: boolean;
  /** Without a terminal: seconds between progress lines in the log (0: none). */
  readonly progressInterval?: number;
  /** True when this run made the folder's run.json and no part was done before it. */
  readonly claimedFolder: boolean;
}

export interface LocalOutcome {
  readonly results: ShardResult[];
  readonly failed: ShardResult[];
  readonly interrupted: boolean;
}

export async function runLocal(run: LocalRun): Promise<LocalOutcome> {
  const { folder, todo, configHash, log, stats } = run;
  const results: ShardResult[] = [];
  const failed: ShardResult[] = [];
  let interrupted = false;
  await removeUncommitted(folder, todo, run.split);
  try {
    await run.before?.();
  } catch (err) {
    // A run that could not start (a probe that does not fit the model) leaves no claim on a
    // folder it created, so the corrected command is not refused as "other settings".
    if (run.claimedFolder) await folder.remove([RUN_FILE]);
    throw err;
  }
  // The total, and so the ETA: Parquet metadata where the input has it, an estimate for JSON lines.
  const total = todo.reduce((s, p) => s + (p.rows ?? p.approxRows ?? 0), 0);
  const approximate = todo.some((p) => typeof p.rows !== 'number');
  const progress = new Progress(() => stats.get('streamPart.rowsDone'), {
    total,
    approximate,
    bar: run.showProgress,
    intervalSeconds: run.progressInterval ?? 0,
    // Text logs get the sentence; JSON logs the numbers.
    line: (text, fields) => (log.format === 'json' ? log.info('progress', fields) : log.info(text)),
  });
  const run$ = run.pipeline(todo, configHash).pipe(
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
      error: (e) => void removeUncommitted(folder, todo, run.split, true).catch(() => undefined).finally(() => finish(() => reject(asUserError(e, run.outDir)))),
    });
  });
  return { results, failed, interrupted };
}

/**
 * Removes what a killed run may have left of parts that are not complete: temporary files, and
 * (unless `tmpOnly`) shards renamed into place whose completion record was never written. Only this
 * rank's parts, so workers sharing the folder never touch each other's files in progress.
 */
async function removeUncommitted(folder: OutputFolder, parts: readonly PartRef[], split: string, tmpOnly = false): Promise<void> {
  const files: string[] = [];
  for (const p of parts) {
    // Both formats: the names are all this part's, whichever format the run writes.
    for (const d of SHARD_FOLDERS)
      for (const format of OUTPUT_FORMATS) {
        const shard = shardPath(d, split, p.index, p.count, format);
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
