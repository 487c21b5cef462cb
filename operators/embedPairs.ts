import { concatMap, type OperatorFunction } from 'rxjs';
import { NO_TOKENS, toReject, type CanonicalItem, type EmbeddedItem, type EmbeddedList, type EmbeddedPair, type Embedding, type RecordBatch, type SourceRef } from '../schemas/records.js';
import type { EmbedInput, EmbedOutput } from '../src/runtime/model/Embedder.js';
import type { Stats } from '../src/runtime/Stats.js';

/** The part of an open Embedder this operator uses (tests pass a fake). */
export interface PairEmbedder {
  embed(inputs: readonly EmbedInput[]): Promise<EmbedOutput>;
}

export interface EmbedPairsOptions {
  /** An open Embedder (src/runtime/Embedder.ts); the command opens and closes it. */
  readonly embedder: PairEmbedder;
  readonly stats: Stats;
}

/**
 * Embeds the texts of each record batch: `template(prompt, chosen)` and `template(prompt, rejected)`
 * of pairs into `embChosen`/`embRejected`, `template(prompt, response_i)` of lists into
 * `embeddings`. Rejects pass untouched; a record with a text that has no tokens at all becomes a
 * reject. All texts of a batch go to the Embedder in one call, which buckets them by length and
 * serves repeats from its cache. Batches are handled one at a time (concatMap), so their order,
 * and the order of items in each, is kept.
 *
 * ```
 * in:  [P0 X1 L2]            X1 a reject, L2 a list of 3 responses
 * out: [P0' X1 L2']          P0'.embChosen/embRejected, L2'.embeddings (3) set
 * ```
 *
 * Counts into `stats` (prefix `embedPairs.`): texts, tokens, computed, computedTokens,
 * paddedSlots (padding waste = 1 - computedTokens / paddedSlots), batches, truncated, cacheHits,
 * rejected.
 *
 * @param options the open embedder and the stats sink
 * @see readPairs (before), scorePairs (after), writeFeatures
 */
export function embedPairs(options: EmbedPairsOptions): OperatorFunction<RecordBatch<CanonicalItem>, RecordBatch<EmbeddedItem>> {
  const { embedder, stats } = options;
  if (!embedder || typeof embedder.embed !== 'function') throw new TypeError('embedPairs: options.embedder must be an open Embedder');
  if (!stats) throw new TypeError('embedPairs: options.stats is required');
  return concatMap(async (batch) => {
    const inputs: EmbedInput[] = [];
    const at: number[] = []; // index of each item's first text in `inputs`, -1 for pass-through
    for (const it of batch.items) {
      if (it.kind === 'pair') {
        at.push(inputs.length);
        inputs.push({ prompt: it.prompt, response: it.chosen }, { prompt: it.prompt, response: it.rejected });
      } else if (it.kind === 'list') {
        at.push(inputs.length);
        for (const r of it.responses) inputs.push({ prompt: it.prompt, response: r });
      } else {
        at.push(-1);
      }
    }
    // Only rejects: they are already what the next stage takes.
    if (inputs.length === 0) return batch as RecordBatch<EmbeddedItem>;
    const { embeddings, info } = await embedder.embed(inputs);
    stats.count('embedPairs.texts', info.texts);
    stats.count('embedPairs.tokens', info.tokens);
    stats.count('embedPairs.computed', info.computed);
    stats.count('embedPairs.computedTokens', info.computedTokens);
    stats.count('embedPairs.paddedSlots', info.paddedSlots);
    stats.count('embedPairs.batches', info.batches);
    stats.count('embedPairs.truncated', info.truncated);
    stats.count('embedPairs.cacheHits', info.cacheHits);
    const reject = (it: SourceRef, reason: string) => {
      stats.count('embedPairs.rejected');
      return toReject(it, reason);
    };
    const items = batch.items.map((it, i): EmbeddedItem => {
      const k = at[i];
      if (it.kind === 'reject') return it;
      if (it.kind === 'pair') {
        const [c, r] = [embeddings[k], embeddings[k + 1]];
        if (!c || !r) return reject(it, `${NO_TOKENS}: ${!c ? 'chosen' : 'rejected'}`);
        return { ...it, embChosen: c, embRejected: r } satisfies EmbeddedPair;
      }
      const embs = embeddings.slice(k, k + it.responses.length);
      const empty = embs.findIndex((e) => !e);
      if (empty >= 0) return reject(it, `${NO_TOKENS}: response ${empty}`);
      return { ...it, embeddings: embs as Embedding[] } satisfies EmbeddedList;
    });
    return { ...batch, items };
  });
}
