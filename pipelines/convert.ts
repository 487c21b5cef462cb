import { type Observable } from 'rxjs';
import type { ShardResult } from '../schemas/manifest.js';
import type { PartRef } from '../schemas/records.js';
import { writeShard } from '../operators/writeShard.js';
import type { IoConfig } from '../src/runtime/Config.js';
import type { Stats } from '../src/runtime/Stats.js';
import { eachPart } from './eachPart.js';
import { canonicalStages } from './readPairs.js';

export interface ConvertRuntime {
  readonly stats: Stats;
  readonly configHash: string;
}

/** convert: read -> adapt -> validate -> write canonical shards, one per part, in order. */
export function convert(parts: readonly PartRef[], io: IoConfig, runtime: ConvertRuntime): Observable<ShardResult> {
  const { stats, configHash } = runtime;
  return eachPart(parts, {
    ...io,
    stats,
    stages: () => canonicalStages({ ...io, stats }),
    write: (part, written) => writeShard({ ...io.write, part, outDir: io.outDir, split: io.split, rank: io.rank, worldSize: io.worldSize, configHash, stats, written }),
  });
}
