import { pipe, type Observable } from 'rxjs';
import type { ShardResult } from '../schemas/manifest.js';
import type { PartRef } from '../schemas/records.js';
import { embedPairs } from '../operators/embedPairs.js';
import { pairsFromLists, type PairsMode } from '../operators/pairsFromLists.js';
import { relabelPairs } from '../operators/relabelPairs.js';
import { scorePairs } from '../operators/scorePairs.js';
import { eachPart } from './eachPart.js';
import { writeShard } from '../operators/writeShard.js';
import type { HybridProbe } from '../src/probe/HybridProbe.js';
import type { RelabelPolicy, RelabelRule } from '../src/probe/posterior.js';
import type { IoConfig } from '../src/runtime/Config.js';
import type { Embedder } from '../src/runtime/model/Embedder.js';
import type { Stats } from '../src/runtime/Stats.js';
import { canonicalStages } from './readPairs.js';

export interface RerankConfig {
  readonly io: IoConfig;
  readonly rule: RelabelRule;
  readonly policy: RelabelPolicy;
  readonly minMargin: number;
  readonly pairs: PairsMode;
}

export interface RerankRuntime {
  readonly embedder: Embedder;
  readonly probe: HybridProbe;
  readonly stats: Stats;
  readonly configHash: string;
}

/**
 * rerank (DESIGN.md, Shape): read -> adapt -> validate -> embed -> score -> (lists to pairs) ->
 * confidence + relabel -> write, one shard per part, parts in order, each finished part recorded.
 */
export function rerank(parts: readonly PartRef[], config: RerankConfig, runtime: RerankRuntime): Observable<ShardResult> {
  const { io } = config;
  const { embedder, probe, stats, configHash } = runtime;
  return eachPart(parts, {
    ...io,
    stats,
    stages: () =>
      pipe(
        canonicalStages({ ...io, stats }),
        embedPairs({ embedder, stats }),
        scorePairs({ probe, stats }),
        pairsFromLists({ pairs: config.pairs, stats }),
        relabelPairs({ ...config.rule, policy: config.policy, minMargin: config.minMargin, stats }),
      ),
    write: (part, written) => writeShard({ ...io.write, part, outDir: io.outDir, split: io.split, rank: io.rank, worldSize: io.worldSize, configHash, stats, device: embedder.device, written }),
  });
}
