import { map, type OperatorFunction } from 'rxjs';
import { toReject, type LabelledItem, type LabelledPair, type RecordBatch, type RejectRecord, type ScoredPair, type ScoredPairItem } from '../schemas/records.js';
import { checkMinMargin, checkRelabelRule, labelPosterior, RELABEL_DEFAULTS, RELABEL_POLICIES, shouldSwap, type RelabelPolicy, type RelabelRule } from '../src/probe/posterior.js';
import type { Stats } from '../src/runtime/Stats.js';


export interface RelabelPairsOptions extends RelabelRule {
  /** Default 'swap'. */
  readonly policy?: RelabelPolicy;
  /** filter: pairs with |c - 0.5| < minMargin become rejects. Default RELABEL_DEFAULTS.minMargin. */
  readonly minMargin?: number;
  readonly stats: Stats;
}

export const LOW_CONFIDENCE = 'low confidence';

/**
 * Turns scored pairs into labelled pairs (DESIGN.md, Method 3): the posterior confidence that the
 * input's order is right, `c = sigmoid(logit(labelPrior) + f(r_chosen, r_rejected))` with the
 * calibrated evidence `f = (r_chosen - r_rejected) * max(0, alpha + unsafeSlope * u)`,
 * `u = -min(r_chosen, r_rejected)` (src/probe/posterior.ts), then by policy:
 * - `swap` (default): when c < 0.5 and c <= maxWrongFlips, chosen/rejected are swapped together with
 *   their safety labels, embeddings and rewards; `confidence` becomes 1 - c and `flipped` is true.
 *   A pair with c < 0.5 above the budget is kept with its c (below 0.5: the label is doubtful, and
 *   conservative DPO's smoothing 1 - c says so);
 * - `annotate`: never swaps, only writes `confidence` (c, which may be below 0.5) and flipped=false;
 * - `filter`: like annotate, but a pair with |c - 0.5| < minMargin becomes a RejectRecord with the
 *   reason "low confidence" (its source file and row kept, `raw` the pair as JSON), so nothing is lost.
 * The confidence is rounded to float32, the output column's type. Rejects pass through (lists
 * have become pairs in pairsFromLists).
 *
 * ```
 * in:  [P0 P1 P2 X3]  c(P0) = 0.8, c(P1) = 0.03, c(P2) = 0.3, X3 a reject; maxWrongFlips 0.05
 * out: [P0' P1' P2' X3]  swap: P0' c 0.8; P1' swapped, c 0.97, flipped; P2' kept, c 0.3
 * ```
 * Counts `relabelPairs.pairs`, `relabelPairs.flipped`, `relabelPairs.heldBack`,
 * `relabelPairs.lowConfidence`.
 * @see scorePairs, pairsFromLists
 */
export function relabelPairs(options: RelabelPairsOptions): OperatorFunction<RecordBatch<ScoredPairItem>, RecordBatch<LabelledItem>> {
  const { labelPrior, maxWrongFlips, stats } = options;
  const policy = options.policy ?? 'swap';
  const minMargin = options.minMargin ?? RELABEL_DEFAULTS.minMargin;
  checkRelabelRule(options, (f) => `relabelPairs: ${f}`);
  if (!RELABEL_POLICIES.includes(policy)) throw new RangeError(`relabelPairs: policy must be ${RELABEL_POLICIES.join(', ')}, got ${policy}`);
  checkMinMargin(minMargin, 'relabelPairs: minMargin');
  if (!stats) throw new TypeError('relabelPairs: options.stats is required');

  const relabel = (p: ScoredPair): LabelledPair | RejectRecord => {
    const c = labelPosterior(labelPrior, options, p.rewardChosen, p.rewardRejected);
    stats.count('relabelPairs.pairs');
    if (policy === 'filter' && Math.abs(c - 0.5) < minMargin) {
      stats.count('relabelPairs.lowConfidence');
      // The pair as its output row would show it, so a filtered pair can be inspected like a kept one.
      const raw = { pair_id: p.pairId, prompt: p.prompt, chosen: p.chosen, rejected: p.rejected, reward_chosen: p.rewardChosen, reward_rejected: p.rewardRejected, confidence: Math.fround(c) };
      return toReject(p, LOW_CONFIDENCE, raw);
    }
    if (policy === 'swap' && shouldSwap(c, maxWrongFlips)) {
      const conf = Math.fround(1 - c);
      stats.count('relabelPairs.flipped');
      return {
        ...p,
        chosen: p.rejected,
        rejected: p.chosen,
        chosenSafe: p.rejectedSafe,
        rejectedSafe: p.chosenSafe,
        embChosen: p.embRejected,
        embRejected: p.embChosen,
        rewardChosen: p.rewardRejected,
        rewardRejected: p.rewardChosen,
        confidence: conf,
        flipped: true,
      };
    }
    const conf = Math.fround(c);
    if (policy === 'swap' && c < 0.5) stats.count('relabelPairs.heldBack');
    return { ...p, confidence: conf, flipped: false };
  };

  return map((batch) => ({ ...batch, items: batch.items.map((it): LabelledItem => (it.kind === 'pair' ? relabel(it) : it)) }));
}
