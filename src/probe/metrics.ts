/**
 * Quality metrics of a reward probe: pairwise accuracy against the human labels, AUROC against
 * per-response safety labels, calibration of the pair confidence (reliability table and ECE), and
 * breakdowns by group (source file, category). Pure functions over plain arrays.
 */
import { sigmoid } from './HybridProbe.js';
import type { GroupAccuracy } from '../../schemas/probe.js';

/** Fraction of pairs with r_chosen > r_rejected; a tie counts half. NaN for no pairs. */
export function pairwiseAccuracy(rewardChosen: ArrayLike<number>, rewardRejected: ArrayLike<number>): number {
  const n = rewardChosen.length;
  if (n !== rewardRejected.length) throw new RangeError('pairwiseAccuracy: arrays differ in length');
  let ok = 0;
  for (let i = 0; i < n; i++) {
    const d = rewardChosen[i] - rewardRejected[i];
    ok += d > 0 ? 1 : d === 0 ? 0.5 : 0;
  }
  return n ? ok / n : NaN;
}

/**
 * Area under the ROC curve of `scores` for `labels` (true = positive), by the Mann-Whitney
 * statistic with average ranks for ties. Null when either class is empty.
 */
export function auroc(scores: ArrayLike<number>, labels: readonly boolean[]): number | null {
  const n = scores.length;
  if (n !== labels.length) throw new RangeError('auroc: arrays differ in length');
  const idx = Array.from({ length: n }, (_, i) => i).sort((a, b) => scores[a] - scores[b] || a - b);
  let pos = 0;
  let rankSumPos = 0;
  for (let i = 0; i < n; ) {
    let j = i;
    while (j + 1 < n && scores[idx[j + 1]] === scores[idx[i]]) j++;
    const avgRank = (i + j) / 2 + 1; // 1-based average rank of the tie block
    for (let k = i; k <= j; k++) if (labels[idx[k]]) {
      pos++;
      rankSumPos += avgRank;
    }
    i = j + 1;
  }
  const neg = n - pos;
  if (pos === 0 || neg === 0) return null;
  return (rankSumPos - (pos * (pos + 1)) / 2) / (pos * neg);
}

export interface ReliabilityBin {
  readonly lo: number;
  readonly hi: number;
  readonly n: number;
  /** Mean predicted confidence in the bin (NaN when empty). */
  readonly confidence: number;
  /** Observed frequency of the predicted outcome in the bin (NaN when empty). */
  readonly accuracy: number;
}

export interface Reliability {
  readonly bins: readonly ReliabilityBin[];
  /** Expected calibration error: sum over bins of n_b / N * |accuracy_b - confidence_b|. */
  readonly ece: number;
}

/**
 * Reliability table of predicted probabilities `p` (each the probability that `outcome` is true),
 * in `bins` equal bins over [lo, hi]; the last bin includes hi.
 */
export function reliability(p: ArrayLike<number>, outcome: readonly boolean[], bins = 10, lo = 0, hi = 1): Reliability {
  if (p.length !== outcome.length) throw new RangeError('reliability: arrays differ in length');
  const n = new Array<number>(bins).fill(0);
  const sumP = new Array<number>(bins).fill(0);
  const hits = new Array<number>(bins).fill(0);
  for (let i = 0; i < p.length; i++) {
    const k = Math.min(bins - 1, Math.max(0, Math.floor(((p[i] - lo) / (hi - lo)) * bins)));
    n[k]++;
    sumP[k] += p[i];
    if (outcome[i]) hits[k]++;
  }
  const total = p.length;
  let ece = 0;
  const table: ReliabilityBin[] = [];
  for (let k = 0; k < bins; k++) {
    const conf = n[k] ? sumP[k] / n[k] : NaN;
    const acc = n[k] ? hits[k] / n[k] : NaN;
    if (n[k]) ece += (n[k] / total) * Math.abs(acc - conf);
    table.push({ lo: lo + ((hi - lo) * k) / bins, hi: lo + ((hi - lo) * (k + 1)) / bins, n: n[k], confidence: conf, accuracy: acc });
  }
  return { bins: table, ece: total ? ece : NaN };
}

/**
 * Calibration of the pair confidence against the human labels: for each pair the probe prefers one
 * response with confidence max(c, 1 - c), c = sigmoid(alpha * (r_chosen - r_rejected)); the outcome
 * is whether that response is the human-chosen one. Bins over [0.5, 1].
 */
export function pairReliability(rewardChosen: ArrayLike<number>, rewardRejected: ArrayLike<number>, alpha: number, bins = 10): Reliability {
  const conf: number[] = [];
  const agree: boolean[] = [];
  for (let i = 0; i < rewardChosen.length; i++) {
    const c = sigmoid(alpha * (rewardChosen[i] - rewardRejected[i]));
    conf.push(Math.max(c, 1 - c));
    agree.push(c >= 0.5);
  }
  return reliability(conf, agree, bins, 0.5, 1);
}

/** Mean log-likelihood of the human labels under c = sigmoid(alpha * d) (higher is better). */
export function pairLogLikelihood(rewardChosen: ArrayLike<number>, rewardRejected: ArrayLike<number>, alpha: number): number {
  let s = 0;
  for (let i = 0; i < rewardChosen.length; i++) {
    const z = alpha * (rewardChosen[i] - rewardRejected[i]);
    s += z >= 0 ? -Math.log1p(Math.exp(-z)) : z - Math.log1p(Math.exp(z));
  }
  return rewardChosen.length ? s / rewardChosen.length : NaN;
}

/** Pairwise accuracy per group, groups sorted by name for stable output. */
export function accuracyByGroup(groups: readonly string[], rewardChosen: ArrayLike<number>, rewardRejected: ArrayLike<number>): GroupAccuracy[] {
  const by = new Map<string, { c: number[]; r: number[] }>();
  for (let i = 0; i < groups.length; i++) {
    let g = by.get(groups[i]);
    if (!g) by.set(groups[i], (g = { c: [], r: [] }));
    g.c.push(rewardChosen[i]);
    g.r.push(rewardRejected[i]);
  }
  return [...by.entries()]
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([group, g]) => ({ group, n: g.c.length, accuracy: pairwiseAccuracy(g.c, g.r) }));
}

/**
 * Maximum-likelihood temperature for the pair confidence: the alpha >= 0 maximising
 * sum_i log sigmoid(alpha * d_i), d_i = r_chosen - r_rejected on held-out pairs. The objective is
 * concave in alpha, so its derivative sum_i d_i * sigmoid(-alpha d_i) is decreasing and bisection
 * finds the root deterministically. Returns 0 when the probe is no better than chance on the pairs
 * (derivative <= 0 at 0) and `maxAlpha` when the pairs are separated (no finite maximum).
 */
export function fitAlpha(d: ArrayLike<number>, maxAlpha = 100): number {
  const grad = (a: number) => {
    let s = 0;
    for (let i = 0; i < d.length; i++) s += d[i] * sigmoid(-a * d[i]);
    return s;
  };
  if (d.length === 0 || grad(0) <= 0) return 0;
  if (grad(maxAlpha) > 0) return maxAlpha;
  let lo = 0;
  let hi = maxAlpha;
  for (let it = 0; it < 200 && hi - lo > 1e-9 * Math.max(1, hi); it++) {
    const mid = (lo + hi) / 2;
    if (grad(mid) > 0) lo = mid;
    else hi = mid;
  }
  // Round to float32 so that the value written to probe.json reads back identically.
  return Math.fround((lo + hi) / 2);
}
