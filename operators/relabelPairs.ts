import { map, type OperatorFunction } from 'rxjs';
import { rawPreview } from '../schemas/adapters.js';
import type { Item, PairRecord, RecordBatch, RejectRecord } from '../schemas/records.js';
import { sigmoid } from '../src/probe/HybridProbe.js';
import type { Stats } from '../src/runtime/Stats.js';

export type RelabelPolicy = 'swap' | 'annotate' | 'filter';

export interface RelabelPairsOptions {
  /** Temperature of c = sigmoid(alpha * (r_chosen - r_rejected)); the probe's fitted alpha for `--alpha auto`. */
  readonly alpha: number;
  /** swap: re-order when c < threshold. Default 0.5. */
  readonly threshold?: number;
  /** Default 'swap'. */
  readonly policy?: RelabelPolicy;
  /** filter: pairs with |c - 0.5| < minMargin become rejects. Default 0. */
  readonly minMargin?: number;
  readonly stats: Stats;
}

export const LOW_CONFIDENCE = 'low confidence';

/**
 * Turns scored pairs into labelled pairs (DESIGN.md, Method 3): the confidence
 * `c = sigmoid(alpha * (r_chosen - r_rejected))` that the input's order is right, then by policy:
 * - `swap` (default): when c < threshold, chosen/rejected are swapped together with their safety
 *   labels, embeddings and rewards; `confidence` becomes 1 - c and `flipped` is true;
 * - `annotate`: never swaps, only writes `confidence` (c, which may be below 0.5) and flipped=false;
 * - `filter`: like annotate, but a pair with |c - 0.5| < minMargin becomes a RejectRecord with the
 *   reason "low confidence" (its source file and row kept, `raw` the pair as JSON), so nothing is lost.
 * The confidence is rounded to float32, the output column's type. Lists and rejects pass through.
 *
 * ```
 * in:  [P0 P1 X2]     c(P0) = 0.8, c(P1) = 0.3, X2 a reject
 * out: [P0' P1' X2]   swap: P0' c 0.8; P1' swapped, c 0.7, flipped
 * ```
 * Counts `relabelPairs.pairs`, `relabelPairs.flipped`, `relabelPairs.lowConfidence`; observes
 * `relabelPairs.confidence`.
 * @see scorePairs, pairsFromLists
 */
export function relabelPairs(options: RelabelPairsOptions): OperatorFunction<RecordBatch<Item>, RecordBatch<Item>> {
  const { alpha, stats } = options;
  const threshold = options.threshold ?? 0.5;
  const policy = options.policy ?? 'swap';
  const minMargin = options.minMargin ?? 0;
  if (!(typeof alpha === 'number' && Number.isFinite(alpha) && alpha >= 0)) throw new RangeError(`relabelPairs: alpha must be a number >= 0, got ${alpha}`);
  if (!(threshold > 0 && threshold < 1)) throw new RangeError(`relabelPairs: threshold must be in (0, 1), got ${threshold}`);
  if (!['swap', 'annotate', 'filter'].includes(policy)) throw new RangeError(`relabelPairs: policy must be swap, annotate or filter, got ${policy}`);
  if (!(minMargin >= 0 && minMargin <= 0.5)) throw new RangeError(`relabelPairs: minMargin must be in [0, 0.5], got ${minMargin}`);
  if (!stats) throw new TypeError('relabelPairs: options.stats is required');

  const relabel = (p: PairRecord): PairRecord | RejectRecord => {
    if (p.rewardChosen === undefined || p.rewardRejected === undefined)
      throw new Error(`relabelPairs: pair ${p.pairId} (${p.sourceFile} row ${p.sourceRow}) has no rewards; scorePairs must run before relabelPairs`);
    const c = sigmoid(alpha * (p.rewardChosen - p.rewardRejected));
    stats.count('relabelPairs.pairs');
    if (policy === 'filter' && Math.abs(c - 0.5) < minMargin) {
      stats.count('relabelPairs.lowConfidence');
      const raw = rawPreview({ pair_id: p.pairId, prompt: p.prompt, chosen: p.chosen, rejected: p.rejected, reward_chosen: p.rewardChosen, reward_rejected: p.rewardRejected, confidence: Math.fround(c) });
      return { kind: 'reject', sourceFile: p.sourceFile, sourceRow: p.sourceRow, reason: LOW_CONFIDENCE, raw };
    }
    if (policy === 'swap' && c < threshold) {
      const conf = Math.fround(1 - c);
      stats.count('relabelPairs.flipped');
      stats.observe('relabelPairs.confidence', conf);
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
    stats.observe('relabelPairs.confidence', conf);
    return { ...p, confidence: conf, flipped: false };
  };

  return map((batch) => ({ ...batch, items: batch.items.map((it): Item => (it.kind === 'pair' ? relabel(it) : it)) }));
}
