import { pipe, type Observable, type OperatorFunction } from 'rxjs';
import type { ShardResult } from '../schemas/manifest.js';
import type { EmbeddedItem, PartRef, ReadItem, RecordBatch } from '../schemas/records.js';
import { embedPairs, type PairEmbedder } from '../operators/embedPairs.js';
import { writeFeatures } from '../operators/writeFeatures.js';
import type { IoConfig } from '../src/runtime/Config.js';
import type { Embedder } from '../src/runtime/model/Embedder.js';
import type { Stats } from '../src/runtime/Stats.js';
import { eachPart } from './eachPart.js';
import { canonicalStages, type ReadPairsOptions } from './readPairs.js';

export interface EmbedRuntime {
  readonly embedder: Embedder;
  readonly stats: Stats;
  readonly configHash: string;
}

/** The embed pipeline's stages: raw rows -> canonical, validated records -> embedded records. */
export function embedStages(options: ReadPairsOptions, embedder: PairEmbedder): OperatorFunction<RecordBatch<ReadItem>, RecordBatch<EmbeddedItem>> {
  return pipe(canonicalStages(options), embedPairs({ embedder, stats: options.stats }));
}

/**
 * embed: read -> adapt -> validate -> embed -> write feature shards (features/ and rejects/), one
 * per part, parts in order, each finished part recorded. Probe training reads the shards.
 */
export function embed(parts: readonly PartRef[], io: IoConfig, runtime: EmbedRuntime): Observable<ShardResult> {
  const { embedder, stats, configHash } = runtime;
  const metadata = { numLayers: embedder.numLayers, modelSha256: embedder.modelSha256, tokenizerSha256: embedder.tokenizerSha256, template: embedder.template };
  return eachPart(parts, {
    ...io,
    stats,
    stages: () => embedStages({ ...io, stats }, embedder),
    write: (part, written) =>
      writeFeatures({
        part,
        outDir: io.outDir,
        split: io.split,
        rank: io.rank,
        worldSize: io.worldSize,
        configHash,
        device: embedder.device,
        compression: io.write.compression,
        format: io.write.format,
        rowGroupRows: io.write.rowGroupRows,
        layers: embedder.layers,
        width: embedder.width,
        metadata,
        stats,
        written,
      }),
  });
}
