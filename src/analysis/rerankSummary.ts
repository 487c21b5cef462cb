/**
 * A finished rerank run in numbers, for its summary line: counts and confidence quantiles from the
 * data shards, the run's expected error from the manifest (sums of posteriors), and how reliable the
 * input's labels look to the probe, so a prior that does not fit the data shows.
 */
import { readdir, readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { dataFolderOf, MANIFEST_FILE } from '../../schemas/layout.js';
import type { Manifest } from '../../schemas/manifest.js';
import { impliedLabelPrior, type RelabelPolicy, type RelabelRule } from '../probe/posterior.js';
import { DuckDb } from '../runtime/io/DuckDb.js';

export interface SummaryContext {
  readonly rule: RelabelRule;
  readonly policy: RelabelPolicy;
  /** The probe's estimated accuracy against the true order (probe.json calibration), if known. */
  readonly probeAccuracy: number | null;
}

export type RerankSummary = NonNullable<Awaited<ReturnType<typeof rerankSummary>>>;

/** The summary of the run in `outDir`; null when no part wrote a data shard (every input failed). */
export async function rerankSummary(outDir: string, seconds: number, rowsThisRun: number, ctx: SummaryContext) {
  const data = dataFolderOf('rerank');
  // Every part that completed has a data shard (possibly empty); when all parts failed there is none.
  if (!(await readdir(resolve(outDir, data)).catch(() => [] as string[])).some((f) => f.endsWith('.parquet'))) return null;
  await using db = await DuckDb.open();
  const glob = resolve(outDir, data, '*.parquet').replace(/'/g, "''");
  const [row] = await db.all(
    `SELECT count(*)::BIGINT AS pairs, sum(flipped::INT)::BIGINT AS flipped,
            quantile_cont(confidence, [0.05, 0.25, 0.5, 0.75, 0.95]) AS q,
            -- the reward agrees with the input's label: its margin in the input's order is positive
            avg(((CASE WHEN flipped THEN -1 ELSE 1 END) * (reward_chosen - reward_rejected) > 0)::INT) AS agreement
     FROM read_parquet('${glob}', union_by_name = true)`,
  );
  const pairs = Number(row.pairs);
  const flipped = Number(row.flipped ?? 0);
  const q = ((row.q as number[] | null) ?? []).map((x) => Number(Number(x).toFixed(4)));
  // From the manifest, not this process's counters: with --workers the work was done elsewhere.
  const manifest = JSON.parse(await readFile(resolve(outDir, MANIFEST_FILE), 'utf8')) as Manifest;
  const expected = manifest.totals.expectedErrors ?? null;
  const r4 = (x: number | null | undefined) => (x === null || x === undefined || !Number.isFinite(x) ? null : Number(x.toFixed(4)));
  const agreement: number | null = row.agreement === null ? null : Number(row.agreement);
  const summary = {
    out: outDir,
    pairs,
    flipped,
    flippedPct: pairs ? Number(((100 * flipped) / pairs).toFixed(2)) : 0,
    confidenceQuantiles: { p05: q[0] ?? null, p25: q[1] ?? null, p50: q[2] ?? null, p75: q[3] ?? null, p95: q[4] ?? null },
    rejected: manifest.totals.rowsRejected,
    labelPrior: ctx.rule.labelPrior,
    alpha: ctx.rule.alpha,
    unsafeSlope: ctx.rule.unsafeSlope,
    maxWrongFlips: ctx.policy === 'swap' ? ctx.rule.maxWrongFlips : null,
    /** Expected number of swaps that broke a correct pair (sum of 1 - confidence over swaps). */
    expectedWrongFlips: r4(expected?.expectedWrongFlips),
    /** Expected number of labels still wrong after the run, and before it. */
    expectedWrongAfter: r4(expected?.expectedWrongAfter),
    expectedWrongBefore: r4(expected?.expectedWrongBefore),
    /** Pairs the posterior leans against but that stayed unswapped: over the damage budget. */
    heldBack: expected?.heldBack ?? 0,
    /** Share of pairs whose reward agrees with the input label, and the label reliability it implies. */
    rewardAgreement: r4(agreement),
    impliedLabelPrior: r4(agreement === null || ctx.probeAccuracy === null ? null : impliedLabelPrior(agreement, ctx.probeAccuracy)),
    seconds: Number(seconds.toFixed(2)),
    /** Input rows processed by this run (not those of shards already complete) per second. */
    rowsPerSecond: Number((rowsThisRun / Math.max(seconds, 1e-9)).toFixed(1)),
  };
  return { summary, agreement, expected };
}
