/**
 * The label confidence as a posterior (DESIGN.md, Method 3): the probability that a pair's label
 * is right, given both the annotator's label and the reward,
 *
 *   c = sigmoid(logit(p0) + alpha * (r_chosen - r_rejected)),
 *
 * where p0 is the labels' prior reliability and alpha is fitted out of fold on held-out pairs. The
 * paper's form sigmoid(alpha * d) is the case p0 = 0.5: it treats the annotator as a coin, so a
 * reward weaker than the labels overrules them, and on noisy data that breaks more correct pairs
 * than it repairs (measured: `npm run eval`).
 *
 * Relabeling is selective: a pair is swapped only when c < 0.5 (the label is more likely wrong) and
 * c <= maxWrongFlips. Each swap then breaks a correct pair with probability c <= maxWrongFlips, so
 * the expected share of swaps that break a correct pair stays within the budget in every shard, on
 * every rank, without a second pass over the data (a global cut would need the whole dataset before
 * the first shard is written, and would change with the way the input is split).
 */
import type { ExpectedErrors } from '../../schemas/manifest.js';
import { sigmoid } from './HybridProbe.js';

/** Defaults of the relabel rule; the CLI, the operator and the scripts read them from here. */
export const RELABEL_DEFAULTS = {
  /** Expected share of swaps that break a correct pair. */
  maxWrongFlips: 0.05,
  /** filter: reject pairs with |c - 0.5| below this. */
  minMargin: 0.1,
} as const;

export function logit(p: number): number {
  return Math.log(p / (1 - p));
}

/** P(label right | label, reward margin d in the label's order). */
export function labelPosterior(labelPrior: number, alpha: number, d: number): number {
  return sigmoid(logit(labelPrior) + alpha * d);
}

/** What a swap decision needs; checked once where it is built (checkRelabelRule). */
export interface RelabelRule {
  /** Slope of the calibrated reward evidence, f(d) = alpha * d. */
  readonly alpha: number;
  /** Prior probability that an input label is right, in (0, 1). */
  readonly labelPrior: number;
  /** Swap only when the posterior c <= this (and c < 0.5); in (0, 0.5]. */
  readonly maxWrongFlips: number;
}

/** Throws a RangeError naming the first value out of range (`flag` maps a field to its CLI name). */
export function checkRelabelRule(r: RelabelRule, flag: (field: keyof RelabelRule) => string = (f) => f): void {
  if (!(typeof r.alpha === 'number' && Number.isFinite(r.alpha) && r.alpha >= 0)) throw new RangeError(`${flag('alpha')} must be a number >= 0, got ${r.alpha}`);
  if (!(r.labelPrior > 0 && r.labelPrior < 1)) throw new RangeError(`${flag('labelPrior')} must be in (0, 1), got ${r.labelPrior}`);
  if (!(r.maxWrongFlips > 0 && r.maxWrongFlips <= 0.5)) throw new RangeError(`${flag('maxWrongFlips')} must be in (0, 0.5], got ${r.maxWrongFlips}`);
}

/** Swap when the label is more likely wrong than right and the swap is within the damage budget. */
export function shouldSwap(c: number, maxWrongFlips: number): boolean {
  return c < 0.5 && c <= maxWrongFlips;
}

export interface LabelPriorFit {
  /** Estimated share of labels that are right, p0. */
  readonly labelPrior: number;
  /** The slope of the true-order model at that p0 (reported, not used: see fitLabelPrior). */
  readonly slope: number;
  /** The probe's estimated accuracy against the true order: mean of sigmoid(slope * |d|). */
  readonly probeAccuracy: number;
  /** Share of the pairs on which the reward agrees with the label (d > 0). */
  readonly agreement: number;
  readonly pairs: number;
}

/**
 * Estimates the labels' reliability p0 from held-out reward margins d (in the labels' order) by
 * maximum likelihood under the label-noise model
 *
 *   P(label as given | d) = p0 * sigmoid(a d) + (1 - p0) * sigmoid(-a d),
 *
 * which is the moment estimate p0 = (q - (1 - acc)) / (2 acc - 1) fitted jointly with the probe's
 * accuracy acc against the true order. The fitted slope a is poorly identified for a weak probe (it
 * trades off against p0: measured, it made swaps that broke 2-4x more correct pairs than they
 * repaired), so only p0 is used; the confidence's slope is the plain maximum-likelihood alpha, which
 * is smaller and errs towards keeping labels. p0 runs over a grid (step 0.005 in [0.5, 0.995]) and a
 * by golden-section search in [0, 10] for each, so the fit is deterministic.
 */
export function fitLabelPrior(d: ArrayLike<number>): LabelPriorFit | null {
  const n = d.length;
  if (n === 0) return null;
  const ll = (p0: number, a: number) => {
    let s = 0;
    for (let k = 0; k < n; k++) s += Math.log(p0 * sigmoid(a * d[k]) + (1 - p0) * sigmoid(-a * d[k]));
    return s;
  };
  const phi = (Math.sqrt(5) - 1) / 2;
  let best = { ll: -Infinity, p0: 0.5, a: 0 };
  for (let i = 0; i <= 99; i++) {
    const p0 = 0.5 + 0.005 * i;
    let lo = 0;
    let hi = 10;
    for (let it = 0; it < 40; it++) {
      const m1 = hi - phi * (hi - lo);
      const m2 = lo + phi * (hi - lo);
      if (ll(p0, m1) < ll(p0, m2)) lo = m1;
      else hi = m2;
    }
    const a = (lo + hi) / 2;
    const v = ll(p0, a);
    if (v > best.ll + 1e-9) best = { ll: v, p0, a };
  }
  let acc = 0;
  let agree = 0;
  for (let k = 0; k < n; k++) {
    acc += sigmoid(best.a * Math.abs(d[k]));
    if (d[k] > 0) agree++;
  }
  // Rounded so that probe.json reads well and back identically.
  const r = (x: number, k: number) => Number(x.toFixed(k));
  return { labelPrior: r(best.p0, 3), slope: r(best.a, 4), probeAccuracy: r(acc / n, 4), agreement: r(agree / n, 4), pairs: n };
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

export function emptyExpectedErrors(): ExpectedErrors {
  return { expectedWrongFlips: 0, expectedWrongAfter: 0, expectedWrongBefore: 0, heldBack: 0 };
}

/**
 * Adds one output pair to the running sums. `confidence` is P(the output order is right): a swapped
 * pair broke a correct one with probability 1 - confidence; any pair is still wrong with
 * 1 - confidence; before the run a kept pair was wrong with 1 - confidence, a swapped one with
 * its confidence.
 */
export function addExpectedErrors(e: ExpectedErrors, confidence: number, flipped: boolean): void {
  const wrong = 1 - confidence;
  e.expectedWrongAfter += wrong;
  if (flipped) {
    e.expectedWrongFlips += wrong;
    e.expectedWrongBefore += confidence;
  } else {
    e.expectedWrongBefore += wrong;
    if (confidence < 0.5) e.heldBack++;
  }
}

/** Sums of several parts' expected errors (manifest totals), rounded like each part's. */
export function sumExpectedErrors(parts: readonly (ExpectedErrors | undefined)[]): ExpectedErrors | undefined {
  const present = parts.filter((p): p is ExpectedErrors => p !== undefined);
  if (present.length === 0) return undefined;
  const e = emptyExpectedErrors();
  for (const p of present) {
    e.expectedWrongFlips += p.expectedWrongFlips;
    e.expectedWrongAfter += p.expectedWrongAfter;
    e.expectedWrongBefore += p.expectedWrongBefore;
    e.heldBack += p.heldBack;
  }
  return roundExpectedErrors(e);
}

/** Six decimals: enough for counts of pairs, and stable JSON for the manifest. */
export function roundExpectedErrors(e: ExpectedErrors): ExpectedErrors {
  const r = (x: number) => Number(x.toFixed(6));
  return { expectedWrongFlips: r(e.expectedWrongFlips), expectedWrongAfter: r(e.expectedWrongAfter), expectedWrongBefore: r(e.expectedWrongBefore), heldBack: e.heldBack };
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
 * The relabel trade-off on labelled pairs with injected noise: a seeded share `noise` of the pairs
 * is presented in the wrong order, then each rule (label prior, budget) decides as rerank would
 * (labelPosterior + shouldSwap). `d` are reward margins in the clean labels' order. Counts flips
 * undone against correct pairs broken, the curve `probe eval` and `npm run eval` print.
 */
export function tradeoffCurve(d: ArrayLike<number>, alpha: number, rules: readonly { labelPrior: number; maxWrongFlips: number }[], flipped: readonly boolean[]): TradeoffRow[] {
  const n = d.length;
  const flippedIn = flipped.filter(Boolean).length;
  return rules.map(({ labelPrior, maxWrongFlips }) => {
    const o = relabelOutcomes(d, alpha, { labelPrior, maxWrongFlips }, flipped);
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
export function relabelOutcomes(d: ArrayLike<number>, alpha: number, rule: { labelPrior: number; maxWrongFlips: number }, flipped: readonly boolean[]): { outcome: Int8Array; expectedWrongFlips: number } {
  const n = d.length;
  if (flipped.length !== n) throw new RangeError('relabelOutcomes: flipped and d differ in length');
  const outcome = new Int8Array(n);
  let expectedWrongFlips = 0;
  for (let i = 0; i < n; i++) {
    const c = labelPosterior(rule.labelPrior, alpha, flipped[i] ? -d[i] : d[i]);
    if (!shouldSwap(c, rule.maxWrongFlips)) continue;
    expectedWrongFlips += c;
    outcome[i] = flipped[i] ? 1 : -1;
  }
  return { outcome, expectedWrongFlips };
}
