import { map, type OperatorFunction } from 'rxjs';
import type { EmbeddedItem, Embedding, RecordBatch, ScoredItem, ScoredList, ScoredPair } from '../schemas/records.js';
import type { HybridProbe } from '../src/probe/HybridProbe.js';
import type { Stats } from '../src/runtime/Stats.js';

export interface ScorePairsOptions {
  /** An open probe whose shape matches the embeddings (see checkProbeCompatibility). */
  readonly probe: HybridProbe;
  readonly stats: Stats;
}

/**
 * Scores embedded records with the hybrid probe (DESIGN.md, Method 2): sets `rewardChosen` and
 * `rewardRejected` on each PairRecord and `rewards` on each ListRecord (one per response). Rejects
 * pass through untouched. Embeddings of another shape than the probe's are a pipeline bug (the probe
 * was checked against the model), so they error the stream rather than becoming rejects.
 *
 * ```
 * in:  [P0 X1 L2]          P0, L2 embedded; X1 a reject
 * out: [P0' X1 L2']        P0'.rewardChosen/Rejected set, L2'.rewards set
 * ```
 * Counts `scorePairs.pairs`, `scorePairs.lists`, `scorePairs.responses`.
 * @see embedPairs, relabelPairs, pairsFromLists
 */
export function scorePairs(options: ScorePairsOptions): OperatorFunction<RecordBatch<EmbeddedItem>, RecordBatch<ScoredItem>> {
  const { probe, stats } = options;
  if (!probe || typeof probe.scoreEmbeddings !== 'function') throw new TypeError('scorePairs: options.probe must be a HybridProbe');
  if (!stats) throw new TypeError('scorePairs: options.stats is required');
  return map((batch) => {
    // Gather every embedding of the batch so the probe scores them in one call.
    const embs: Embedding[] = [];
    for (const it of batch.items) {
      if (it.kind === 'pair') embs.push(it.embChosen, it.embRejected);
      else if (it.kind === 'list') embs.push(...it.embeddings);
    }
    // Only rejects: they are already what the next stage takes.
    if (embs.length === 0) return batch as RecordBatch<ScoredItem>;
    let r: Float32Array;
    try {
      r = probe.scoreEmbeddings(embs);
    } catch (err) {
      throw new Error(`scorePairs: ${(err as Error).message} (part ${batch.part.file})`, { cause: err });
    }
    let k = 0;
    const items = batch.items.map((it): ScoredItem => {
      if (it.kind === 'pair') {
        const scored: ScoredPair = { ...it, rewardChosen: r[k], rewardRejected: r[k + 1] };
        stats.count('scorePairs.pairs');
        stats.count('scorePairs.responses', 2);
        k += 2;
        return scored;
      }
      if (it.kind === 'list') {
        const rewards = Array.from(r.subarray(k, k + it.responses.length));
        k += it.responses.length;
        stats.count('scorePairs.lists');
        stats.count('scorePairs.responses', rewards.length);
        const scored: ScoredList = { ...it, rewards };
        return scored;
      }
      return it;
    });
    return { ...batch, items };
  });
}
