import { map, type OperatorFunction } from 'rxjs';
import { toReject, type RecordBatch, type ScoredItem, type ScoredList, type ScoredPair, type ScoredPairItem } from '../schemas/records.js';
import type { Stats } from '../src/runtime/Stats.js';

/** How a scored list becomes pairs: best vs worst, top-K x bottom-K, or every pair. */
export type PairsMode = { readonly kind: 'best-worst' } | { readonly kind: 'top-bottom'; readonly k: number } | { readonly kind: 'all' };

/** Parses `best-worst`, `top-bottom:K` (K >= 1) or `all`; throws a RangeError naming the value. */
export function parsePairsSpec(spec: string): PairsMode {
  if (spec === 'best-worst' || spec === 'all') return { kind: spec };
  const m = /^top-bottom:(\d+)$/.exec(spec);
  if (m && Number(m[1]) >= 1) return { kind: 'top-bottom', k: Number(m[1]) };
  throw new RangeError(`pairs must be best-worst, top-bottom:K (K >= 1) or all, got ${JSON.stringify(spec)}`);
}

export interface PairsFromListsOptions {
  /** A PairsMode or its string form (`--pairs`). */
  readonly pairs: PairsMode | string;
  readonly stats: Stats;
}

export const TOO_FEW_RESPONSES = 'fewer than 2 responses';

/**
 * Listwise re-ranking (DESIGN.md, Method 4): turns each scored ListRecord into PairRecords. The
 * responses are ranked by reward (descending; equal rewards keep their input order) and paired:
 * - `best-worst`: the top response against the bottom one (one pair);
 * - `top-bottom:K`: each of the top K against each of the bottom K, K capped at floor(N / 2) so
 *   that no response is paired with itself (K^2 pairs);
 * - `all`: every pair of responses (N (N - 1) / 2 pairs).
 * The higher-ranked response is `chosen`, so relabelPairs (run next) writes a confidence >= 0.5.
 * Pair ids are stable: `${listId}:${i}-${j}` with i, j the chosen and rejected responses' positions
 * in the input list. Per-response labels, embeddings and rewards follow their responses; source
 * file/row, category and pass-through columns are copied. A list with fewer than two responses
 * becomes a reject ("fewer than 2 responses"). Pairs and rejects pass through.
 *
 * ```
 * in:  [L0]            L0: responses a b c, rewards 0.1 0.9 0.5
 * out: [P0]            best-worst: P0 = {id L0:1-0, chosen b, rejected a}
 * ```
 * Counts `pairsFromLists.lists`, `pairsFromLists.pairs`, `pairsFromLists.rejected`.
 * @see scorePairs, relabelPairs
 */
export function pairsFromLists(options: PairsFromListsOptions): OperatorFunction<RecordBatch<ScoredItem>, RecordBatch<ScoredPairItem>> {
  const mode = typeof options.pairs === 'string' ? parsePairsSpec(options.pairs) : options.pairs;
  if (mode.kind === 'top-bottom' && !(Number.isInteger(mode.k) && mode.k >= 1)) throw new RangeError(`pairsFromLists: top-bottom K must be an integer >= 1, got ${mode.k}`);
  const { stats } = options;
  if (!stats) throw new TypeError('pairsFromLists: options.stats is required');

  const expand = (l: ScoredList): ScoredPairItem[] => {
    const n = l.responses.length;
    if (n < 2) {
      stats.count('pairsFromLists.rejected');
      return [toReject(l, TOO_FEW_RESPONSES)];
    }
    const rewards = l.rewards;
    const rank = Array.from({ length: n }, (_, i) => i).sort((a, b) => rewards[b] - rewards[a] || a - b);
    const idx: [number, number][] = [];
    if (mode.kind === 'best-worst') idx.push([rank[0], rank[n - 1]]);
    else if (mode.kind === 'top-bottom') {
      const k = Math.min(mode.k, Math.floor(n / 2));
      for (let a = 0; a < k; a++) for (let b = n - k; b < n; b++) idx.push([rank[a], rank[b]]);
    } else for (let a = 0; a < n; a++) for (let b = a + 1; b < n; b++) idx.push([rank[a], rank[b]]);
    stats.count('pairsFromLists.lists');
    stats.count('pairsFromLists.pairs', idx.length);
    return idx.map(([i, j]): ScoredPair => ({
      kind: 'pair',
      pairId: `${l.listId}:${i}-${j}`,
      sourceFile: l.sourceFile,
      sourceRow: l.sourceRow,
      prompt: l.prompt,
      chosen: l.responses[i],
      rejected: l.responses[j],
      chosenSafe: l.labels?.[i] ?? null,
      rejectedSafe: l.labels?.[j] ?? null,
      category: l.category,
      passThrough: l.passThrough,
      embChosen: l.embeddings[i],
      embRejected: l.embeddings[j],
      rewardChosen: rewards[i],
      rewardRejected: rewards[j],
    }));
  };

  return map((batch) => ({ ...batch, items: batch.items.flatMap((it): ScoredPairItem[] => (it.kind === 'list' ? expand(it) : [it])) }));
}
