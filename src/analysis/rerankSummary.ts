/**
 * A finished rerank run in numbers, for its summary line: the folder's statistics as `prefrank
 * stats` computes them (counts, confidence quantiles, expected errors from the manifest's shards),
 * and how reliable the input's labels look to the probe, so a prior that does not fit the data shows.
 */
import type { RelabelPolicy, RelabelRule } from '../probe/posterior.js';
import { impliedLabelPrior } from '../probe/posterior.js';
import { DuckDb } from '../runtime/io/DuckDb.js';
import { computeStats, QUANTILE_LEVELS } from './stats.js';
import { createOutputViews, openOutputFolder } from './views.js';

export interface SummaryContext {
  readonly rule: RelabelRule;
  readonly policy: RelabelPolicy;
  /** The probe's estimated accuracy against the true order (probe.json calibration), if known. */
  readonly probeAccuracy: number | null;
}

export type RerankSummary = NonNullable<Awaited<ReturnType<typeof rerankSummary>>>;

/** The summary of the run in `outDir`; null when no part wrote a data shard (every input failed). */
export async function rerankSummary(outDir: string, seconds: number, rowsThisRun: number, ctx: SummaryContext) {
  // Every part that completed has a data shard (possibly empty); when all parts failed there is none.
  const folder = openOutputFolder(outDir);
  if (folder.dataFiles.length === 0) return null;
  await using db = await DuckDb.open();
  await createOutputViews(db, folder);
  const stats = await computeStats(db, { groups: false, digits: 4 });
  // The reward agrees with the input's label: its margin in the input's order is positive.
  const [row] = await db.all(`SELECT avg(((CASE WHEN flipped THEN -1 ELSE 1 END) * (reward_chosen - reward_rejected) > 0)::INT) AS agreement FROM pairs`);
  const r4 = (x: number | null | undefined) => (x === null || x === undefined || !Number.isFinite(x) ? null : Number(x.toFixed(4)));
  const q = (level: (typeof QUANTILE_LEVELS)[number]) => stats.confidence.quantiles[QUANTILE_LEVELS.indexOf(level)];
  const expected = stats.expected;
  const agreement: number | null = row.agreement === null ? null : Number(row.agreement);
  const { pairs, flipped } = stats;
  const summary = {
    out: outDir,
    pairs,
    flipped,
    flippedPct: pairs ? Number(((100 * flipped) / pairs).toFixed(2)) : 0,
    confidenceQuantiles: { p05: q(0.05), p25: q(0.25), p50: q(0.5), p75: q(0.75), p95: q(0.95) },
    rejected: stats.rejects,
    labelPrior: ctx.rule.labelPrior,
    alpha: ctx.rule.alpha,
    unsafeSlope: ctx.rule.unsafeSlope,
    maxWrongFlips: ctx.policy === 'swap' ? ctx.rule.maxWrongFlips : null,
    /** Expected number of swaps that broke a correct pair (sum of 1 - confidence over swaps). */
    expectedWrongFlips: expected?.wrongFlips ?? null,
    /** Expected number of labels still wrong after the run, and before it. */
    expectedWrongAfter: expected?.wrongAfter ?? null,
    expectedWrongBefore: expected?.wrongBefore ?? null,
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
