import { completionFile, tmpName } from '../schemas/layout.js';
import { mkdir, rename, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { concatMap, type OperatorFunction } from 'rxjs';
import type { ShardResult } from '../schemas/manifest.js';

export interface MarkCompleteOptions {
  readonly outDir: string;
}

/** Where a part's completion record lives. */
export function completionPath(outDir: string, index: number): string {
  return join(outDir, completionFile(index));
}

/**
 * Records a part as finished, after its shard is in place: `completions/{index:05d}.json` holds
 * the ShardResult, written under a temporary name and renamed (atomic on one filesystem), so a
 * crash leaves either no record or a whole one. A part whose input could not be read gets a
 * "failed" record: the manifest accounts for it (whichever process or machine ran it), and a rerun
 * retries it, since only "done" parts are skipped.
 *
 * ```
 * in:  R0 R1 |
 * out: R0 R1 |   (each passed on once its record is on disk)
 * ```
 * @see writeShard
 */
export function markComplete(options: MarkCompleteOptions): OperatorFunction<ShardResult, ShardResult> {
  return concatMap(async (result) => {
    const file = completionPath(options.outDir, result.index);
    await mkdir(dirname(file), { recursive: true });
    await writeFile(tmpName(file), JSON.stringify(result, null, 2) + '\n');
    await rename(tmpName(file), file);
    return result;
  });
}
