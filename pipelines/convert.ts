import { concatMap, from, type Observable } from 'rxjs';
import type { ShardResult } from '../schemas/manifest.js';
import type { PartRef } from '../schemas/records.js';
import { markComplete } from '../operators/markComplete.js';
import { streamPart } from '../operators/streamPart.js';
import { writeShard } from '../operators/writeShard.js';
import type { IoConfig } from '../src/runtime/Config.js';
import type { Stats } from '../src/runtime/Stats.js';
import { canonicalStages } from './readPairs.js';

export interface ConvertRuntime {
  readonly stats: Stats;
  readonly configHash: string;
}

/** convert: read -> adapt -> validate -> write canonical shards, one per part, in order. */
export function convert(parts: readonly PartRef[], config: IoConfig, runtime: ConvertRuntime): Observable<ShardResult> {
  const { stats, configHash } = runtime;
  return from(parts).pipe(
    concatMap((part) =>
      streamPart({ part, read: config.read, window: config.window, stats, stages: canonicalStages({ ...config, stats }) }).pipe(
        writeShard({ ...config.write, part, outDir: config.outDir, split: config.split, rank: config.rank, worldSize: config.worldSize, configHash, stats }),
      ),
    ),
    markComplete({ outDir: config.outDir }),
  );
}
