/**
 * The output folder's state on disk: `run.json` (the settings it is being written with), one
 * completion record per finished part, and, once every part is done, `manifest.json` and the
 * dataset card. Each file is written whole under a temporary name and renamed.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { mkdir, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { CARD_FILE, COMPLETIONS_FOLDER, completionIndex, dataFolderOf, MANIFEST_FILE, RUN_FILE, RUN_FILES, RUN_FOLDERS, tmpName, TOP_TMP } from '../../../schemas/layout.js';
import { sumExpectedErrors, type Manifest, type PartStats, type ShardResult, type RunInfo } from '../../../schemas/manifest.js';
import { stableJson } from '../Config.js';
import { UserError } from '../errors.js';
import { renderDatasetCard } from './datasetCard.js';
import { DuckDb } from './DuckDb.js';
import { shardFiles, shardScan } from './shardFiles.js';

export async function writeAtomic(file: string, text: string): Promise<void> {
  // A per-process temporary name: two workers writing the same file never share one.
  const tmp = tmpName(file, process.pid);
  try {
    await writeFile(tmp, text);
    await rename(tmp, file);
  } catch (err) {
    await rm(tmp, { force: true });
    const e = err as NodeJS.ErrnoException;
    const why = e.code === 'ENOSPC' ? 'no space left on device' : e.code === 'EACCES' || e.code === 'EPERM' || e.code === 'EROFS' ? 'not writable' : e.message;
    throw new UserError(`cannot write ${file}: ${why}`, { cause: err });
  }
}

/**
 * The shard files (relative paths) that finished parts committed: each "done" completion record's
 * output, rejects and lists. A shard renamed into place whose record was never written (a run
 * killed between the two) is not among them, so readers never count it. null for a folder without
 * completions/ (written by hand, or by a version before them): then every shard counts.
 */
export function committedFiles(outDir: string): Set<string> | null {
  const dir = join(outDir, COMPLETIONS_FOLDER);
  if (!existsSync(dir)) return null;
  const files = new Set<string>();
  for (const f of readdirSync(dir)) {
    if (completionIndex(f) === null) continue;
    let r: ShardResult;
    try {
      r = JSON.parse(readFileSync(join(dir, f), 'utf8')) as ShardResult;
    } catch {
      continue; // a torn record: its part is not done (records() redoes it)
    }
    if (r.status !== 'done') continue;
    for (const o of [r.output, r.rejects, r.lists]) if (typeof o === 'string') files.add(o);
  }
  return files;
}

/** Lists the keys whose values differ between two settings objects. */
export function diffSettings(a: Readonly<Record<string, unknown>>, b: Readonly<Record<string, unknown>>): string[] {
  const keys = [...new Set([...Object.keys(a), ...Object.keys(b)])].sort();
  return keys.filter((k) => stableJson(a[k]) !== stableJson(b[k])).map((k) => `${k}: ${stableJson(a[k])} -> ${stableJson(b[k])}`);
}

export class OutputFolder {
  constructor(readonly dir: string) {}

  path(...p: string[]): string {
    return join(this.dir, ...p);
  }

  /**
   * Makes the folder ready for a run with `info`: a folder written with other settings is refused
   * (naming what differs) unless `overwrite`, which clears it first. A folder that has files but is
   * no prefrank output (no run.json) is always refused: clearing it, or writing README.md into it,
   * could destroy someone's work (think `--out .`).
   */
  async prepare(info: RunInfo, overwrite: boolean): Promise<{ created: boolean }> {
    try {
      await mkdir(this.dir, { recursive: true });
    } catch (err) {
      throw new UserError(`cannot create output folder ${this.dir}: ${(err as Error).message}`, { cause: err });
    }
    const previous = await this.runInfo();
    // Entries another rank starting at the same moment may already have made are not foreign.
    const ours = (f: string) => RUN_FOLDERS.includes(f) || TOP_TMP.test(f);
    if (!previous && (await readdir(this.dir)).some((f) => !ours(f))) {
      throw new UserError(`${this.dir} is not empty and is not a prefrank output folder (no run.json); name a new or empty folder with --out`);
    }
    if (previous && previous.configHash !== info.configHash) {
      if (!overwrite) {
        const diff = diffSettings(previous.settings, info.settings);
        throw new UserError(`${this.dir} was written with other settings (${diff.join('; ') || 'parts: ' + previous.parts + ' -> ' + info.parts}); use another --out, or --overwrite to replace it`);
      }
      await this.clear();
    }
    const created = !previous || previous.configHash !== info.configHash;
    if (created) await writeAtomic(this.path(RUN_FILE), JSON.stringify(info, null, 2) + '\n');
    return { created };
  }

  async clear(): Promise<void> {
    for (const d of RUN_FOLDERS) await rm(this.path(d), { recursive: true, force: true });
    for (const f of RUN_FILES) await rm(this.path(f), { force: true });
  }

  async runInfo(): Promise<RunInfo | null> {
    if (!existsSync(this.path(RUN_FILE))) return null;
    return JSON.parse(await readFile(this.path(RUN_FILE), 'utf8')) as RunInfo;
  }

  /** Completion records of parts done under `configHash` (their shards present), by part index. */
  async completed(configHash: string): Promise<Map<number, ShardResult>> {
    return this.records(configHash, 'done');
  }

  /** Records of parts whose input could not be read under `configHash`, by part index. */
  async failedParts(configHash: string): Promise<Map<number, ShardResult>> {
    return this.records(configHash, 'failed');
  }

  private async records(configHash: string, status: ShardResult['status']): Promise<Map<number, ShardResult>> {
    const dir = this.path(COMPLETIONS_FOLDER);
    const found = new Map<number, ShardResult>();
    if (!existsSync(dir)) return found;
    for (const f of (await readdir(dir)).filter((n) => completionIndex(n) !== null).sort()) {
      // A record that cannot be parsed (a crash of the machine before the page cache was flushed)
      // counts as not done: the part is redone, never trusted.
      let r: ShardResult;
      try {
        r = JSON.parse(await readFile(join(dir, f), 'utf8')) as ShardResult;
      } catch {
        continue;
      }
      if (r.configHash !== configHash || r.status !== status || r.index !== completionIndex(f)) continue;
      const present = [r.output, r.rejects, r.lists].every((o) => !o || existsSync(this.path(o)));
      if (status === 'failed' || (r.output && present)) found.set(r.index, r);
    }
    return found;
  }

  /** Removes files (relative paths) if present; a folder that cannot be written is a UserError. */
  async remove(files: readonly string[]): Promise<void> {
    for (const f of files) {
      try {
        await rm(this.path(f), { force: true });
      } catch (err) {
        throw new UserError(`cannot clean ${this.path(f)}: ${(err as Error).message}`, { cause: err });
      }
    }
  }

  /** The data shards' columns and DuckDB types (their union), for the dataset card's features. */
  private async dataColumns(command: string): Promise<{ name: string; type: string }[]> {
    const shards = shardFiles(this.dir, dataFolderOf(command), null);
    if (shards.length === 0) return [];
    // Only for the card: a shard DuckDB cannot read (merge is about to report it) leaves the
    // card without its features rather than failing the manifest.
    try {
      const scan = await shardScan(shards);
      await using db = await DuckDb.open({ threads: 1 });
      const rows = await db.all(`DESCRIBE SELECT * FROM ${scan}`);
      return rows.map((r) => ({ name: String(r.column_name), type: String(r.column_type) }));
    } catch {
      return [];
    }
  }

  /** Writes manifest.json and README.md from every part's record. */
  async finish(info: RunInfo, results: readonly ShardResult[], failed: readonly ShardResult[], split: string, versions: Record<string, string>): Promise<Manifest> {
    const all = [...results, ...failed].sort((a, b) => a.index - b.index);
    const sum = (k: keyof Omit<PartStats, 'rejectsByReason'>) => all.reduce((s, r) => s + r.stats[k], 0);
    const reasons: Record<string, number> = {};
    for (const r of all) for (const [k, v] of Object.entries(r.stats.rejectsByReason)) reasons[k] = (reasons[k] ?? 0) + v;
    const expectedErrors = sumExpectedErrors(all.map((r) => r.expectedErrors));
    const manifest: Manifest = {
      prefrank: versions.prefrank,
      createdBy: info.command,
      license: info.license ?? null,
      configHash: info.configHash,
      config: info.settings,
      versions,
      split,
      totals: {
        parts: info.parts,
        failedParts: failed.length,
        rowsIn: sum('rowsIn'),
        rowsOut: sum('rowsOut'),
        rowsRejected: sum('rowsRejected'),
        rowsFlipped: sum('rowsFlipped'),
        rowsTruncated: sum('rowsTruncated'),
        rejectsByReason: Object.fromEntries(Object.entries(reasons).sort(([a], [b]) => (a < b ? -1 : 1))),
        ...(expectedErrors ? { expectedErrors } : {}),
      },
      shards: all,
    };
    await writeAtomic(this.path(MANIFEST_FILE), JSON.stringify(manifest, null, 2) + '\n');
    await writeAtomic(this.path(CARD_FILE), renderDatasetCard(manifest, await this.dataColumns(manifest.createdBy)));
    return manifest;
  }
}
