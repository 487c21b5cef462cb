import { concatMap, from, pipe, type Observable } from 'rxjs';
import type { ShardResult } from '../schemas/manifest.js';
import type { PartRef } from '../schemas/records.js';
import { embedPairs } from '../operators/embedPairs.js';
import { markComplete } from '../operators/markComplete.js';
import { streamPart } from '../operators/streamPart.js';
import { writeFeatures } from '../operators/writeFeatures.js';
import type { IoConfig } from '../src/runtime/Config.js';
import type { Embedder } from '../src/runtime/Embedder.js';
import type { Stats } from '../src/runtime/Stats.js';
import { canonicalStages } from './readPairs.js';

export interface EmbedRuntime {
  readonly embedder: Embedder;
  readonly stats: Stats;
  readonly configHash: string;
}

/**
 * embed: read -> adapt -> validate -> embed -> write feature shards (features/ and rejects/), one
 * per part, parts in order, each finished part recorded. Probe training reads the shards.
 */
export function embed(parts: readonly PartRef[], io: IoConfig, runtime: EmbedRuntime): Observable<ShardResult> {
  const { embedder, stats, configHash } = runtime;
  const metadata = { numLayers: embedder.numLayers, modelSha256: embedder.modelSha256, tokenizerSha256: embedder.tokenizerSha256, template: embedder.template };
  return from(parts).pipe(
    concatMap((part) =>
      streamPart({ part, read: io.read, window: io.window, stats, stages: pipe(canonicalStages({ ...io, stats }), embedPairs({ embedder, stats })) }).pipe(
        writeFeatures({
          part,
          outDir: io.outDir,
          split: io.split,
          rank: io.rank,
          worldSize: io.worldSize,
          configHash,
          device: embedder.device,
          compression: io.write.compression,
          rowGroupRows: io.write.rowGroupRows,
          layers: embedder.layers,
          width: embedder.width,
          metadata,
          stats,
        }),
      ),
    ),
    markComplete({ outDir: io.outDir }),
  );
}
