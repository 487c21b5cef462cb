/**
 * Probe features from any input: the embed pipeline's own stages (read -> adapt -> validate ->
 * embed, `embedStages`), collected into a FeatureSet instead of written to shards. Used by
 * `probe train`/`probe eval` on inputs that are not feature shards, and by the probe scripts.
 */
import { concatMap, from, lastValueFrom, reduce } from 'rxjs';
import { addFeatures, emptyFeatureSet } from '../src/probe/featureData.js';
import { NO_TOKENS } from '../schemas/records.js';
import type { PairEmbedder } from '../operators/embedPairs.js';
import { expandInputs, planParts } from '../src/runtime/io/inputs.js';
import type { Stats } from '../src/runtime/Stats.js';
import { streamPart } from './eachPart.js';
import { embedStages } from './embed.js';
import type { ReadPairsOptions } from './readPairs.js';
import type { FeatureSet } from '../schemas/features.js';

export interface ProbeFeatures extends FeatureSet {
  /** Rows the reader and validator rejected, by reason (they do not stop training; they are reported). */
  readonly rejects: Readonly<Record<string, number>>;
  readonly files: readonly string[];
}

/** Reads and embeds every input, one part after another, and collects the features. */
export async function readFeatures(inputs: readonly string[], options: ReadPairsOptions & { readonly partRows: number }, embedder: PairEmbedder): Promise<ProbeFeatures> {
  const files = await expandInputs(inputs);
  const parts = await planParts(files, { partRows: options.partRows });
  const stats: Stats = options.stats;
  const rejects: Record<string, number> = {};
  const features = await lastValueFrom(
    from(parts).pipe(
      concatMap((part) => streamPart({ part, read: options.read, window: options.window, stats, stages: embedStages(options, embedder) })),
      reduce((set, batch) => {
        for (const it of batch.items) if (it.kind === 'reject' && !it.reason.startsWith(NO_TOKENS)) rejects[it.reason] = (rejects[it.reason] ?? 0) + 1;
        return addFeatures(set, batch.items);
      }, emptyFeatureSet()),
    ),
  );
  return { ...features, rejects, files };
}
