/**
 * Stage order is a type: an operator takes the records of the stage before it, so a pipeline that
 * skips a stage does not compile. These lines are checked by the build (`tsc`), where each
 * `@ts-expect-error` fails the build if its line ever compiles again; the test then runs the one
 * correct order, so the file is also a plain test.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { pipe } from 'rxjs';
import { embedPairs } from '../../operators/embedPairs.js';
import { pairsFromLists } from '../../operators/pairsFromLists.js';
import { relabelPairs } from '../../operators/relabelPairs.js';
import { scorePairs } from '../../operators/scorePairs.js';
import { writeFeatures } from '../../operators/writeFeatures.js';
import { writeShard } from '../../operators/writeShard.js';
import { canonicalStages } from '../../pipelines/readPairs.js';
import type { HybridProbe } from '../../src/probe/HybridProbe.js';
import { Stats } from '../../src/runtime/Stats.js';
import { part } from '../operators/probeItems.js';

const stats = new Stats();
const front = canonicalStages({ read: { batchRows: 10, maxRowBytes: 1000 }, adapt: { format: 'auto', pkuChoice: 'safer' }, validate: { maxTextChars: 100 }, window: 2, stats });
const embed = embedPairs({ embedder: { embed: async () => ({ embeddings: [], info: { texts: 0, tokens: 0, computed: 0, computedTokens: 0, paddedSlots: 0, batches: 0, truncated: 0, cacheHits: 0, empty: 0 } }) }, stats });
const score = scorePairs({ probe: { scoreEmbeddings: () => new Float32Array(0) } as unknown as HybridProbe, stats });
const lists = pairsFromLists({ pairs: 'best-worst', stats });
const relabel = relabelPairs({ alpha: 1, labelPrior: 0.5, maxWrongFlips: 0.5, unsafeSlope: 0, stats });
const target = { part, outDir: '/nonexistent', split: 'train', rank: 0, worldSize: 1, configHash: 'x', stats };
const shard = writeShard({ ...target, compression: 'none', rowGroupRows: 10 });
const features = writeFeatures({ ...target, compression: 'none', rowGroupRows: 10, layers: [0], width: 1, metadata: { numLayers: 1, modelSha256: '', tokenizerSha256: '', template: '' } });

test('stage order is carried by the record types', () => {
  // The orders the pipelines use compile.
  const rerank = pipe(front, embed, score, lists, relabel, shard);
  const convert = pipe(front, shard);
  const embedOnly = pipe(front, embed, features);
  // Skipping a stage does not.
  // @ts-expect-error scorePairs needs embedded records
  pipe(front, score);
  // @ts-expect-error relabelPairs needs scored pairs
  pipe(front, embed, relabel);
  // @ts-expect-error relabelPairs needs lists turned into pairs first
  pipe(front, embed, score, relabel);
  // @ts-expect-error writeFeatures needs embedded records
  pipe(front, features);
  for (const f of [rerank, convert, embedOnly]) assert.equal(typeof f, 'function');
});
