/**
 * The end-of-run check that a finished run produced something usable: a run with a damaged input
 * file, that wrote no pairs, or that rejected more than --max-reject-rate of its input rows, ends
 * non-zero with one line saying why and what to try. The folder stays as written (rejects/ holds
 * every row and its reason).
 */
import type { Manifest } from '../../schemas/manifest.js';
import { DuckDb } from '../runtime/io/DuckDb.js';
import { committedFiles } from '../runtime/io/OutputFolder.js';
import { DAMAGED_INPUT } from '../runtime/io/readers.js';
import { shardFiles, shardScan } from '../runtime/io/shardFiles.js';

/** Share of input rows that may be rejected before the run counts as failed. */
export const DEFAULT_MAX_REJECT_RATE = 0.5;

/** The most common reject reason in full (it names the columns found), with its count. */
async function topReason(outDir: string): Promise<{ reason: string; n: number } | null> {
  const files = shardFiles(outDir, 'rejects', committedFiles(outDir));
  if (files.length === 0) return null;
  const scan = await shardScan(files);
  await using db = await DuckDb.open({ threads: 1 });
  const [row] = await db.all(`SELECT reason, count(*)::BIGINT AS n FROM ${scan} GROUP BY reason ORDER BY n DESC, reason LIMIT 1`);
  return row ? { reason: String(row.reason), n: Number(row.n) } : null;
}

/** The problem with a finished run's yield as one line, or null when there is none. */
export async function yieldProblem(manifest: Manifest, outDir: string, maxRejectRate: number): Promise<string | null> {
  const t = manifest.totals;
  const what = manifest.createdBy === 'embed' ? 'features' : 'pairs';
  const damaged = manifest.shards.filter((s) => (s.stats.rejectsByReason[DAMAGED_INPUT] ?? 0) > 0).map((s) => s.input.file);
  if (damaged.length)
    return `${damaged.length} input file(s) are damaged: ${damaged.join(', ')}; the rows before the damage were kept, the damage is in rejects/ (reason "${DAMAGED_INPUT}")`;
  const readable = t.parts - t.failedParts;
  if (readable === 0) return null; // every input failed: reported on its own
  const rate = t.rowsIn > 0 ? t.rowsRejected / t.rowsIn : 0;
  if (t.rowsOut > 0 && rate <= maxRejectRate) return null;
  const top = t.rowsRejected > 0 ? await topReason(outDir) : null;
  const why = top ? ` (most common reason, ${top.n} rows: ${top.reason})` : '';
  const hint = 'check the input layout (--format; README "Inputs" lists the columns of each) or the data; rejects/ holds every row with its reason';
  if (t.rowsIn === 0) return `no ${what} written: the input has no rows`;
  if (t.rowsOut === 0) return `no ${what} written: all ${t.rowsIn} input rows were rejected${why}; ${hint}`;
  return `${t.rowsRejected} of ${t.rowsIn} input rows (${(100 * rate).toFixed(1)}%) were rejected, more than --max-reject-rate ${maxRejectRate}${why}; ${hint}`;
}
