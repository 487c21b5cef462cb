/**
 * `probe eval`'s measurements of a probe on a labelled set: pairwise accuracy, log-likelihood and
 * reliability of the confidence, AUROC on per-response safety labels, the relabel trade-off with
 * injected noise, and accuracy by source and category.
 */
import { basename } from 'node:path';
import type { HybridProbe } from './HybridProbe.js';
import { accuracyByGroup, auroc, pairLogLikelihood, pairReliability, pairwiseAccuracy, type ReliabilityBin } from './metrics.js';
import { tradeoffCurve, type RelabelRule } from './posterior.js';
import { Prng } from './Prng.js';
import type { FeatureSet } from '../../schemas/features.js';
import type { GroupAccuracy } from '../../schemas/probe.js';

/** Budgets of the trade-off curve, after the paper's rule (label prior 0.5, budget 0.5). */
export const CURVE_BUDGETS = [0.5, 0.3, 0.2, 0.1, 0.05, 0.02, 0.01];

export interface EvaluateOptions {
  /** Reliability table bins over [0.5, 1]. */
  readonly bins: number;
  /** Trade-off curve: share of pairs presented in the wrong order, and the seed that picks them. */
  readonly noise: number;
  readonly seed: number;
}

export interface Evaluation {
  readonly alpha: number;
  readonly pairs: number;
  readonly labels: number;
  readonly accuracy: number | null;
  readonly logLikelihood: number | null;
  readonly ece: number | null;
  readonly auroc: number | null;
  readonly labelPrior: number;
  readonly reliability: readonly ReliabilityBin[];
  readonly tradeoff: { readonly noise: number; readonly seed: number; readonly rows: ReturnType<typeof tradeoffCurve> };
  readonly bySource: GroupAccuracy[];
  readonly byCategory: GroupAccuracy[];
}

export function evaluateProbe(probe: HybridProbe, features: FeatureSet, rule: RelabelRule, options: EvaluateOptions): Evaluation {
  const { alpha } = rule;
  const rc = Float32Array.from(features.pairs, (p) => probe.score(p.chosen));
  const rr = Float32Array.from(features.pairs, (p) => probe.score(p.rejected));
  const rel = pairReliability(rc, rr, alpha, options.bins);
  const labelScores = features.labels.map((l) => probe.score(l.features));
  // The relabel trade-off with injected noise: the paper's rule, then the posterior at each budget.
  const noisy = new Set(new Prng(options.seed).permutation(rc.length).slice(0, Math.round(options.noise * rc.length)));
  const flipped = Array.from(rc, (_, i) => noisy.has(i));
  // The paper's row is the paper's form (plain alpha * d, prior 0.5); then the posterior per budget.
  const curve = [
    ...tradeoffCurve({ rc, rr }, { alpha, unsafeSlope: 0 }, [{ labelPrior: 0.5, maxWrongFlips: 0.5 }], flipped),
    ...tradeoffCurve({ rc, rr }, rule, CURVE_BUDGETS.map((b) => ({ labelPrior: rule.labelPrior, maxWrongFlips: b })), flipped),
  ];
  return {
    alpha,
    pairs: features.pairs.length,
    labels: features.labels.length,
    accuracy: features.pairs.length ? pairwiseAccuracy(rc, rr) : null,
    logLikelihood: features.pairs.length ? pairLogLikelihood(rc, rr, alpha) : null,
    ece: features.pairs.length ? rel.ece : null,
    auroc: features.labels.length ? auroc(labelScores, features.labels.map((l) => l.safe)) : null,
    labelPrior: rule.labelPrior,
    reliability: rel.bins,
    tradeoff: { noise: options.noise, seed: options.seed, rows: curve },
    bySource: accuracyByGroup(features.pairs.map((p) => basename(p.sourceFile)), rc, rr),
    byCategory: accuracyByGroup(features.pairs.map((p) => p.category ?? '(none)'), rc, rr),
  };
}
