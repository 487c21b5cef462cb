/**
 * The label confidence as a posterior (DESIGN.md, Method 3): the probability that a pair's label
 * is right, given both the annotator's label and the reward,
 *
 *   c = sigmoid(logit(p0) + f(r_chosen, r_rejected)),
 *   f = (r_chosen - r_rejected) * max(0, alpha + unsafeSlope * u),  u = -min(r_chosen, r_rejected),
 *
 * where p0 is the labels' prior reliability and f is calibrated out of fold on held-out pairs. The
 * slope grows with u, how unsafe the worse response looks: a pair with a clearly unsafe response is
 * a clear-cut one, where the reward is more often right than on two similar responses (one alpha
 * fits neither kind: measured, clear-cut pairs want a larger one). The paper's form
 * sigmoid(alpha * d) is the case p0 = 0.5, unsafeSlope = 0: it treats the annotator as a coin, so a
 * reward weaker than the labels overrules them, and on noisy data that breaks more correct pairs
 * than it repairs (measured: `npm run eval`).
 *
 * Relabeling is selective: a pair is swapped only when c < 0.5 (the label is more likely wrong) and
 * c <= maxWrongFlips. Each swap then breaks a correct pair with probability c <= maxWrongFlips, so
 * the expected share of swaps that break a correct pair stays within the budget in every shard, on
 * every rank, without a second pass over the data (a global cut would need the whole dataset before
 * the first shard is written, and would change with the way the input is split).
 */
import { logSigmoid, sigmoid } from './HybridProbe.js';
import { fitAlpha } from './metrics.js';
import type { CalibrationFit, Evidence } from '../../schemas/probe.js';

/** What rerank does with a pair's confidence: swap when likely wrong, only annotate, or filter out doubtful pairs. */
export type RelabelPolicy = 'swap' | 'annotate' | 'filter';
export const RELABEL_POLICIES: readonly RelabelPolicy[] = ['swap', 'annotate', 'filter'];

/** Defaults of the relabel rule; the CLI, the operator and the scripts read them from here. */
export const RELABEL_DEFAULTS = {
  /**
   * The most probability that one swap breaks a correct pair. Measured with the default model and
   * probe recipe (npm run eval, 5 held-out splits, 2026-12-07), the expected share of wrong swaps is
   * then 0.026 to 0.052, mean 0.039: most swaps are far below the cut.
   */
  maxWrongFlips: 0.1,
  /** filter: reject pairs with |c - 0.5| below this. */
  minMargin: 0.1,
} as const;

/** Beta(a, b) prior of fitCalibration on the share of right labels: mean 0.75, weight 10 pairs. */
export const LABEL_PRIOR_BETA = [7.5, 2.5] as const;

export function logit(p: number): number {
  return Math.log(p / (1 - p));
}

export function evidence(e: Evidence, rc: number, rr: number): number {
  return (rc - rr) * Math.max(0, e.alpha + e.unsafeSlope * -Math.min(rc, rr));
}

/** P(label right | the label, the rewards of its chosen and rejected response). */
export function labelPosterior(labelPrior: number, e: Evidence, rc: number, rr: number): number {
  return sigmoid(logit(labelPrior) + evidence(e, rc, rr));
}

/** What a swap decision needs; checked once where it is built (checkRelabelRule). */
export interface RelabelRule extends Evidence {
  /** Prior probability that an input label is right, in (0, 1). */
  readonly labelPrior: number;
  /** Swap only when the posterior c <= this (and c < 0.5); in (0, 0.5]. */
  readonly maxWrongFlips: number;
}

/** The one check of alpha, wherever it is given (rerank, probe eval, probe train). */
export function checkAlpha(alpha: number, name = 'alpha'): void {
  if (!(typeof alpha === 'number' && Number.isFinite(alpha) && alpha >= 0)) throw new RangeError(`${name} must be a number >= 0, got ${alpha}`);
}

/** The one check of filter's margin (the CLI flag and the operator alike). */
export function checkMinMargin(minMargin: number, name = 'minMargin'): void {
  if (!(minMargin >= 0 && minMargin < 0.5)) throw new RangeError(`${name} must be in [0, 0.5), got ${minMargin}`);
}

/** Throws a RangeError naming the first value out of range (`flag` maps a field to its CLI name). */
export function checkRelabelRule(r: RelabelRule, flag: (field: keyof RelabelRule) => string = (f) => f): void {
  checkAlpha(r.alpha, flag('alpha'));
  if (!(typeof r.unsafeSlope === 'number' && Number.isFinite(r.unsafeSlope))) throw new RangeError(`${flag('unsafeSlope')} must be a finite number, got ${r.unsafeSlope}`);
  if (!(r.labelPrior > 0 && r.labelPrior < 1)) throw new RangeError(`${flag('labelPrior')} must be in (0, 1), got ${r.labelPrior}`);
  if (!(r.maxWrongFlips > 0 && r.maxWrongFlips <= 0.5)) throw new RangeError(`${flag('maxWrongFlips')} must be in (0, 0.5], got ${r.maxWrongFlips}`);
}

/** Swap when the label is more likely wrong than right and the swap is within the damage budget. */
export function shouldSwap(c: number, maxWrongFlips: number): boolean {
  return c < 0.5 && c <= maxWrongFlips;
}

/** Rewards of pairs, chosen (or safe) first. */
export interface RewardPairs {
  readonly rc: ArrayLike<number>;
  readonly rr: ArrayLike<number>;
}

/**
 * Calibrates the confidence on held-out pairs the probe was not trained on.
 *
 * `noisy` are labelled pairs in their labels' order (some labels wrong); `clean` are pairs whose
 * order is known, e.g. a safe and an unsafe response from held-out per-response labels. Under the
 * label-noise model a noisy pair's label is as given with probability
 *
 *   p0 sigmoid(f) + (1 - p0) sigmoid(-f),
 *
 * and a clean pair's order with probability sigmoid(f). With clean pairs, (alpha, unsafeSlope) and
 * p0 are fitted jointly by maximum likelihood: the clean pairs pin down the slope, the noisy ones
 * then say how often their labels are right. Without clean pairs the slope is poorly identified
 * for a weak probe (it trades off against p0: measured, the fitted slope made swaps that broke 2-4x
 * more correct pairs than they repaired), so alpha is the plain maximum-likelihood fit to the
 * labels (`fixedAlpha` when given), which is smaller and errs towards keeping labels, and
 * unsafeSlope is 0.
 *
 * p0 can still run to either end when the data say little (measured: 0.625 to 0.995 over four
 * splits of the same data without clean pairs), so it is a posterior mode with a weak
 * Beta(LABEL_PRIOR_BETA) prior: mean 0.75, the weight of 10 pairs (preference labels of safety
 * datasets agree with a second annotator about 60-80% of the time); hundreds of held-out pairs
 * outweigh it. p0 runs over a grid (step 0.01 in [0.5, 0.99]); slopes by golden-section search
 * (coordinate-wise, two rounds), so the fit is deterministic.
 */
export function fitCalibration(noisy: RewardPairs, clean: RewardPairs = { rc: [], rr: [] }, fixedAlpha?: number): CalibrationFit | null {
  const n = noisy.rc.length;
  const m = clean.rc.length;
  if (n === 0) return null;
  const [pa, pb] = LABEL_PRIOR_BETA;
  const logPrior = (p0: number) => (pa - 1) * Math.log(p0) + (pb - 1) * Math.log(1 - p0);
  const ll = (p0: number, e: Evidence) => {
    let s = logPrior(p0);
    for (let k = 0; k < n; k++) {
      const f = evidence(e, noisy.rc[k], noisy.rr[k]);
      s += Math.log(p0 * sigmoid(f) + (1 - p0) * sigmoid(-f));
    }
    for (let k = 0; k < m; k++) s += logSigmoid(evidence(e, clean.rc[k], clean.rr[k]));
    return s;
  };
  const golden = (f: (x: number) => number, lo: number, hi: number) => {
    const phi = (Math.sqrt(5) - 1) / 2;
    for (let it = 0; it < 40; it++) {
      const m1 = hi - phi * (hi - lo);
      const m2 = lo + phi * (hi - lo);
      if (f(m1) < f(m2)) lo = m1;
      else hi = m2;
    }
    return (lo + hi) / 2;
  };
  const d = Float64Array.from({ length: n }, (_, k) => noisy.rc[k] - noisy.rr[k]);
  const slopeSource = fixedAlpha !== undefined ? 'fixed' : m > 0 ? 'clean pairs' : 'agreement';
  const withClean = slopeSource === 'clean pairs';
  // p0 is fitted with the slopes free in every case (a slope fixed too small would push p0 up);
  // without clean pairs only the slope through the origin is free, and it is not kept (see above).
  let best = { ll: -Infinity, p0: 0.5, e: { alpha: 0, unsafeSlope: 0 } as Evidence };
  for (let i = 0; i <= 49; i++) {
    const p0 = 0.5 + 0.01 * i;
    let e: Evidence = best.e;
    for (let round = 0; round < (withClean ? 2 : 1); round++) {
      const alpha = golden((a) => ll(p0, { alpha: a, unsafeSlope: e.unsafeSlope }), 0, 10);
      const unsafeSlope = withClean ? golden((b) => ll(p0, { alpha, unsafeSlope: b }), -5, 5) : 0;
      e = { alpha, unsafeSlope };
    }
    const v = ll(p0, e);
    if (v > best.ll + 1e-9) best = { ll: v, p0, e };
  }
  // The probe's accuracy under the model p0 was fitted in (its slopes), whichever slope the
  // confidence then uses: the run's implied label reliability (impliedLabelPrior) pairs the two.
  let acc = 0;
  let agree = 0;
  for (let k = 0; k < n; k++) {
    acc += sigmoid(Math.abs(evidence(best.e, noisy.rc[k], noisy.rr[k])));
    if (d[k] > 0) agree++;
  }
  if (!withClean) best = { ...best, e: { alpha: fixedAlpha ?? fitAlpha(d), unsafeSlope: 0 } };
  // Rounded so that probe.json reads well and back identically.
  const r = (x: number, k: number) => Number(x.toFixed(k));
  return {
    alpha: withClean ? r(best.e.alpha, 4) : best.e.alpha,
    unsafeSlope: r(best.e.unsafeSlope, 4),
    labelPrior: r(best.p0, 3),
    probeAccuracy: r(acc / n, 4),
    agreement: r(agree / n, 4),
    pairs: n,
    cleanPairs: m,
    slopeSource,
  };
}

/**
 * The moment estimate of label reliability on a dataset: the reward agrees with the labels
 * on a share q of its pairs and is right (against the true order) with probability acc, so
 * q = p0 acc + (1 - p0)(1 - acc) and p0 = (q - (1 - acc)) / (2 acc - 1). Clamped to [0, 1]; null
 * when the probe is no better than chance (acc <= 0.5).
 */
export function impliedLabelPrior(agreement: number, probeAccuracy: number): number | null {
  if (!(probeAccuracy > 0.5) || !Number.isFinite(agreement)) return null;
  return Math.min(1, Math.max(0, (agreement - (1 - probeAccuracy)) / (2 * probeAccuracy - 1)));
}

export interface TradeoffRow {
  readonly labelPrior: number;
  readonly maxWrongFlips: number;
  readonly pairs: number;
  /** Labels flipped on purpose (the injected noise). */
  readonly flippedIn: number;
  /** Injected flips the rule undid, and correct pairs it broke. */
  readonly undone: number;
  readonly broken: number;
  /** Agreement with the clean labels before and after the rule. */
  readonly agreeBefore: number;
  readonly agreeAfter: number;
  /** The run's own estimate: expected wrong swaps (sum of posteriors over swaps). */
  readonly expectedWrongFlips: number;
}

/**
 * The relabel trade-off on labelled pairs with injected noise: pairs marked in `flipped` are
 * presented in the wrong order, then each rule (label prior, budget) decides as rerank would
 * (labelPosterior + shouldSwap). `r` are the rewards in the clean labels' order. Counts flips
 * undone against correct pairs broken, the curve `probe eval` and `npm run eval` print.
 */
export function tradeoffCurve(r: RewardPairs, e: Evidence, rules: readonly { labelPrior: number; maxWrongFlips: number }[], flipped: readonly boolean[]): TradeoffRow[] {
  const n = r.rc.length;
  const flippedIn = flipped.filter(Boolean).length;
  return rules.map(({ labelPrior, maxWrongFlips }) => {
    const o = relabelOutcomes(r, { ...e, labelPrior, maxWrongFlips }, flipped);
    let undone = 0;
    let broken = 0;
    for (const x of o.outcome) {
      if (x > 0) undone++;
      else if (x < 0) broken++;
    }
    return { labelPrior, maxWrongFlips, pairs: n, flippedIn, undone, broken, agreeBefore: n ? (n - flippedIn) / n : NaN, agreeAfter: n ? (n - flippedIn + undone - broken) / n : NaN, expectedWrongFlips: o.expectedWrongFlips };
  });
}

/**
 * Per pair, what the rule does to pairs presented in the order `flipped` says: +1 an injected flip
 * undone, -1 a correct pair broken, 0 untouched; with the expected wrong swaps the run would report.
 */
export function relabelOutcomes(r: RewardPairs, rule: RelabelRule, flipped: readonly boolean[]): { outcome: Int8Array; expectedWrongFlips: number } {
  const n = r.rc.length;
  if (flipped.length !== n || r.rr.length !== n) throw new RangeError('relabelOutcomes: rewards and flipped differ in length');
  const outcome = new Int8Array(n);
  let expectedWrongFlips = 0;
  for (let i = 0; i < n; i++) {
    const c = flipped[i] ? labelPosterior(rule.labelPrior, rule, r.rr[i], r.rc[i]) : labelPosterior(rule.labelPrior, rule, r.rc[i], r.rr[i]);
    if (!shouldSwap(c, rule.maxWrongFlips)) continue;
    expectedWrongFlips += c;
    outcome[i] = flipped[i] ? 1 : -1;
  }
  return { outcome, expectedWrongFlips };
}
