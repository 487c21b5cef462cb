/**
 * prefrank's public API: pipelines, operator factories, schemas, configuration and runtime openers.
 * Everything else is internal.
 */
export { rerank, type RerankConfig, type RerankRuntime } from '../pipelines/rerank.js';
export { convert } from '../pipelines/convert.js';
export { readPairs, canonicalStages, type ReadPairsOptions } from '../pipelines/readPairs.js';

export { streamPart } from '../pipelines/eachPart.js';
export { adaptRows } from '../operators/adaptRows.js';
export { validatePairs } from '../operators/validatePairs.js';
export { embedPairs } from '../operators/embedPairs.js';
export { scorePairs } from '../operators/scorePairs.js';
export { pairsFromLists, parsePairsSpec } from '../operators/pairsFromLists.js';
export { relabelPairs } from '../operators/relabelPairs.js';
export { writeShard } from '../operators/writeShard.js';
export { shardName } from '../schemas/layout.js';
export { markComplete } from '../operators/markComplete.js';

export * from '../schemas/records.js';
export * from '../schemas/output.js';
export * from '../schemas/manifest.js';
export { adaptRow, detectFormat, formats, type Format } from '../schemas/adapters.js';

export type { IoConfig } from './runtime/Config.js';
export { Embedder, type EmbedderOptions } from './runtime/model/Embedder.js';
export { DuckDb } from './runtime/io/DuckDb.js';
export { HybridProbe } from './probe/HybridProbe.js';
export { loadProbe, checkProbeCompatibility } from './probe/artifact.js';
export { Stats } from './runtime/Stats.js';
export { expandInputs, planParts, partsForRank } from './runtime/io/inputs.js';
export { UserError, UsageError, InputFileError } from './runtime/errors.js';
