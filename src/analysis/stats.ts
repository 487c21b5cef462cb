/**
 * The first questions about a re-ranked folder, answered in DuckDB (aggregates only, so the work is
 * bounded whatever the folder's size): how many pairs, how many flipped, how confident, by source
 * and by category, why rows were rejected, how many texts were truncated.
 *
 * Numbers are rounded to 6 decimals so that the output is the same from run to run (DuckDB sums
 * floats in parallel, in no fixed order).
 */
import type { JS } from '@duckdb/node-api';
import { quoteIdent, type DuckDb } from '../runtime/io/DuckDb.js';
import { formatTable } from './table.js';

export const QUANTILE_LEVELS = [0, 0.01, 0.05, 0.25, 0.5, 0.75, 0.95, 0.99, 1] as const;

export interface Distribution {
  readonly count: number;
  readonly mean: number | null;
  /** Exact quantiles (quantile_cont) at QUANTILE_LEVELS; null when count is 0. */
  readonly quantiles: readonly (number | null)[];
}

export interface GroupStats {
  /** The source file or category; null for pairs without a category. */
  readonly key: string | null;
  readonly pairs: number;
  readonly flipped: number;
  readonly flippedPct: number | null;
  readonly truncated: number;
  readonly meanConfidence: number | null;
  readonly rejects: number;
}

export interface FolderStats {
  readonly pairs: number;
  readonly flipped: number;
  readonly flippedPct: number | null;
  readonly truncated: number;
  readonly truncatedPct: number | null;
  readonly rejects: number;
  readonly shards: { readonly total: number; readonly failed: number };
  readonly confidence: Distribution;
  /** reward_chosen - reward_rejected, after re-ranking. */
  readonly margin: Distribution;
  readonly sources: number;
  readonly bySource: readonly GroupStats[];
  readonly categories: number;
  readonly byCategory: readonly GroupStats[];
  readonly rejectsByReason: readonly { readonly reason: string; readonly count: number; readonly pct: number }[];
  /**
   * Expected label errors (sums of posteriors, from the manifest's shards): null when no shard
   * recorded them (a convert folder, or one written before the posterior confidence).
   */
  readonly expected: {
    readonly wrongFlips: number;
    readonly wrongBefore: number;
    readonly wrongAfter: number;
    readonly heldBack: number;
  } | null;
}

export interface StatsOptions {
  /** Schema of an attached folder; the main schema when absent. */
  readonly schema?: string;
  /** Most groups (sources, categories) returned, largest first; 0 for all. */
  readonly top?: number;
  /** False skips the by-source and by-category groups (two scans fewer), leaving them empty. Default true. */
  readonly groups?: boolean;
  /** Decimals every fraction is rounded to, once (default 6; the rerank summary shows 4). */
  readonly digits?: number;
}

const num = (v: JS): number => (v === null || v === undefined ? 0 : Number(v));

export async function computeStats(db: DuckDb, options: StatsOptions = {}): Promise<FolderStats> {
  const scale = 10 ** (options.digits ?? 6);
  const round = (x: number) => Math.round(x * scale) / scale;
  const numOrNull = (v: JS): number | null => (v === null || v === undefined ? null : round(Number(v)));
  const pct = (part: number, whole: number) => (whole > 0 ? round((100 * part) / whole) : null);
  const distribution = (count: JS, mean: JS, quantiles: JS): Distribution => {
    const qs = Array.isArray(quantiles) ? quantiles.map((q) => numOrNull(q as JS)) : QUANTILE_LEVELS.map(() => null);
    return { count: num(count), mean: numOrNull(mean), quantiles: qs };
  };
  const p = options.schema === undefined ? '' : `${quoteIdent(options.schema)}.`;
  const top = options.top ?? 20;
  if (!Number.isInteger(top) || top < 0) throw new RangeError(`top must be a non-negative integer, got ${top}`);
  const limit = top > 0 ? `LIMIT ${top}` : '';
  const levels = `[${QUANTILE_LEVELS.join(', ')}]`;

  const [summary] = await db.all(`
    SELECT count(*) AS pairs,
           count(*) FILTER (WHERE flipped) AS flipped,
           count(*) FILTER (WHERE truncated) AS truncated,
           count(confidence) AS c_n, avg(confidence::DOUBLE) AS c_mean, quantile_cont(confidence::DOUBLE, ${levels}) AS c_q,
           count(reward_chosen - reward_rejected) AS m_n, avg(reward_chosen::DOUBLE - reward_rejected::DOUBLE) AS m_mean,
           quantile_cont(reward_chosen::DOUBLE - reward_rejected::DOUBLE, ${levels}) AS m_q,
           count(DISTINCT source_file) AS sources,
           count(DISTINCT coalesce(category, chr(0))) AS categories
    FROM ${p}pairs`);
  const [rej] = await db.all(`SELECT count(*) AS n FROM ${p}rejects`);
  const [sh] = await db.all(
    `SELECT count(*) AS total, count(*) FILTER (WHERE status = 'failed') AS failed, count(expected_wrong_after) AS with_expected,
            sum(expected_wrong_flips) AS ewf, sum(expected_wrong_before) AS ewb, sum(expected_wrong_after) AS ewa, sum(held_back) AS held_back
     FROM ${p}shards`,
  );

  const group = (key: string, rejectsJoin: boolean) => `
    WITH g AS (
      SELECT ${key} AS key, count(*) AS pairs, count(*) FILTER (WHERE flipped) AS flipped,
             count(*) FILTER (WHERE truncated) AS truncated, avg(confidence::DOUBLE) AS mean_confidence
      FROM ${p}pairs GROUP BY 1),
    r AS (${rejectsJoin ? `SELECT source_file AS key, count(*) AS rejects FROM ${p}rejects GROUP BY 1` : 'SELECT NULL::VARCHAR AS key, 0 AS rejects WHERE false'})
    SELECT coalesce(g.key, r.key) AS key, coalesce(g.pairs, 0) AS pairs, coalesce(g.flipped, 0) AS flipped,
           coalesce(g.truncated, 0) AS truncated, g.mean_confidence, coalesce(r.rejects, 0) AS rejects
    FROM g FULL OUTER JOIN r ON g.key = r.key
    ORDER BY pairs DESC, rejects DESC, key NULLS LAST ${limit}`;
  const toGroup = (row: Record<string, JS>): GroupStats => ({
    key: row.key === null ? null : String(row.key),
    pairs: num(row.pairs),
    flipped: num(row.flipped),
    flippedPct: pct(num(row.flipped), num(row.pairs)),
    truncated: num(row.truncated),
    meanConfidence: numOrNull(row.mean_confidence),
    rejects: num(row.rejects),
  });
  const groups = options.groups ?? true;
  const bySource = groups ? (await db.all(group('source_file', true))).map(toGroup) : [];
  const byCategory = groups ? (await db.all(group('category', false))).map(toGroup) : [];
  const rejects = num(rej.n);
  const reasons = await db.all(`SELECT reason, count(*) AS n FROM ${p}rejects GROUP BY 1 ORDER BY n DESC, reason ${limit}`);
  const [srcRej] = await db.all(
    `SELECT count(DISTINCT source_file) AS n FROM ${p}rejects WHERE source_file NOT IN (SELECT DISTINCT source_file FROM ${p}pairs)`,
  );

  const pairs = num(summary.pairs);
  return {
    pairs,
    flipped: num(summary.flipped),
    flippedPct: pct(num(summary.flipped), pairs),
    truncated: num(summary.truncated),
    truncatedPct: pct(num(summary.truncated), pairs),
    rejects,
    shards: { total: num(sh.total), failed: num(sh.failed) },
    confidence: distribution(summary.c_n, summary.c_mean, summary.c_q),
    margin: distribution(summary.m_n, summary.m_mean, summary.m_q),
    // Sources with only rejected rows count too.
    sources: num(summary.sources) + num(srcRej.n),
    bySource,
    categories: pairs > 0 ? num(summary.categories) : 0,
    byCategory,
    rejectsByReason: reasons.map((r) => ({ reason: String(r.reason), count: num(r.n), pct: pct(num(r.n), rejects) ?? 0 })),
    expected: num(sh.with_expected) > 0 ? { wrongFlips: round(num(sh.ewf)), wrongBefore: round(num(sh.ewb)), wrongAfter: round(num(sh.ewa)), heldBack: num(sh.held_back) } : null,
  };
}

const fmt = (x: number | null, digits = 4) => (x === null ? '-' : x.toFixed(digits));
const fmtPct = (x: number | null) => (x === null ? '-' : `${x.toFixed(2)}%`);

/** The stats as aligned tables, one section per question. */
export function formatStats(s: FolderStats, title: string): string {
  const out: string[] = [];
  out.push(`${title}\n`);
  out.push(
    formatTable(
      ['pairs', 'flipped', 'flipped %', 'truncated', 'truncated %', 'rejects', 'shards', 'failed shards'],
      [[s.pairs, s.flipped, fmtPct(s.flippedPct), s.truncated, fmtPct(s.truncatedPct), s.rejects, s.shards.total, s.shards.failed]],
      { rightAlign: new Array(8).fill(true) },
    ),
  );
  const qCols = ['', 'n', 'mean', ...QUANTILE_LEVELS.map((q) => (q === 0 ? 'min' : q === 1 ? 'max' : `p${Math.round(q * 100)}`))];
  out.push(
    '\n' +
      formatTable(
        qCols,
        [
          ['confidence', s.confidence.count, fmt(s.confidence.mean), ...s.confidence.quantiles.map((q) => fmt(q))],
          ['reward margin', s.margin.count, fmt(s.margin.mean), ...s.margin.quantiles.map((q) => fmt(q))],
        ],
        { rightAlign: qCols.map((_, i) => i > 0) },
      ),
  );
  if (s.expected) {
    const e = s.expected;
    out.push(
      '\n' +
        formatTable(
          ['expected wrong swaps', 'expected wrong labels before', 'after', 'held back (c < 0.5, over budget)'],
          [[fmt(e.wrongFlips, 2), fmt(e.wrongBefore, 2), fmt(e.wrongAfter, 2), e.heldBack]],
          { rightAlign: [true, true, true, true] },
        ) +
        '\n(sums of posteriors: each pair\'s label is wrong with probability 1 - confidence when the confidence is calibrated)',
    );
  }
  const groups = (label: string, total: number, rows: readonly GroupStats[], withRejects: boolean) => {
    const cols = [label, 'pairs', 'flipped', 'flipped %', 'truncated', 'mean conf', ...(withRejects ? ['rejects'] : [])];
    const body = rows.map((g) => [g.key ?? '(none)', g.pairs, g.flipped, fmtPct(g.flippedPct), g.truncated, fmt(g.meanConfidence), ...(withRejects ? [g.rejects] : [])]);
    const more = total > rows.length ? `\n(${rows.length} of ${total} shown, largest first; --top 0 shows all)` : '';
    return `\n${formatTable(cols, body, { rightAlign: cols.map((_, i) => i > 0), maxWidth: 70 })}${more}`;
  };
  out.push(groups('source', s.sources, s.bySource, true));
  out.push(groups('category', s.categories, s.byCategory, false));
  out.push(
    '\n' +
      (s.rejectsByReason.length
        ? formatTable(['reject reason', 'rows', '%'], s.rejectsByReason.map((r) => [r.reason, r.count, fmtPct(r.pct)]), { rightAlign: [false, true, true], maxWidth: 80 })
        : 'no rejects'),
  );
  return out.join('\n') + '\n';
}
