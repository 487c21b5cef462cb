/**
 * Training and evaluation data for the probe: canonical records read through the shared front
 * stages (read -> adapt -> validate, pipelines/readPairs.ts), then embedded with an open Embedder
 * into features. Probe training needs every pair in memory at once (a few thousand to a few
 * hundred thousand), so this collects instead of streaming.
 */
import { basename } from 'node:path';
import { lastValueFrom, toArray } from 'rxjs';
import { readPairs } from '../../pipelines/readPairs.js';
import type { AdaptOptions } from '../../schemas/adapters.js';
import type { Embedding, ListRecord, PairRecord } from '../../schemas/records.js';
import type { ValidateOptions } from '../../schemas/validate.js';
import type { EmbedInput, EmbedOutput } from '../runtime/Embedder.js';
import { expandInputs, planParts } from '../runtime/inputs.js';
import type { ReadOptions } from '../runtime/readers.js';
import type { Stats } from '../runtime/Stats.js';
import type { TrainingLabel, TrainingPair } from './trainProbe.js';

export interface ReadRecordsOptions {
  readonly read: ReadOptions;
  readonly adapt: AdaptOptions;
  readonly validate: ValidateOptions;
  readonly window: number;
  readonly partRows: number;
  readonly stats: Stats;
}

export interface ReadRecordsResult {
  readonly records: (PairRecord | ListRecord)[];
  /** Rejected rows by reason (bad rows do not stop training; they are reported). */
  readonly rejects: Readonly<Record<string, number>>;
  readonly files: readonly string[];
}

/** Reads every input through read -> adapt -> validate and collects the good records. */
export async function readRecords(inputs: readonly string[], options: ReadRecordsOptions): Promise<ReadRecordsResult> {
  const files = await expandInputs(inputs);
  const parts = await planParts(files, { partRows: options.partRows });
  const batches = await lastValueFrom(readPairs(parts, options).pipe(toArray()), { defaultValue: [] });
  const records: (PairRecord | ListRecord)[] = [];
  const rejects: Record<string, number> = {};
  for (const b of batches)
    for (const it of b.items) {
      if (it.kind === 'pair' || it.kind === 'list') records.push(it);
      else if (it.kind === 'reject') rejects[it.reason] = (rejects[it.reason] ?? 0) + 1;
    }
  return { records, rejects, files };
}

/** The part of an Embedder this module uses (a fake in tests). */
export interface EmbedderLike {
  embed(inputs: readonly EmbedInput[]): Promise<EmbedOutput>;
}

/** One embedded pair, with what the metrics and the noise experiment need to know about it. */
export interface FeaturePair extends TrainingPair {
  readonly pairId: string;
  readonly sourceFile: string;
  readonly sourceRow: number;
  readonly category: string | null;
  readonly chosenText: string;
  readonly rejectedText: string;
  readonly prompt: string;
}

export interface FeatureLabel extends TrainingLabel {
  readonly sourceFile: string;
}

export interface FeatureSet {
  readonly pairs: FeaturePair[];
  readonly labels: FeatureLabel[];
  /** Records skipped because a text had no tokens. */
  readonly skipped: number;
  readonly truncated: number;
}

/**
 * Embeds records into features: each pair's chosen and rejected response under its prompt (through
 * the embedder's template), and each response with a safety label (pairs' chosenSafe/rejectedSafe,
 * lists' labels) as a labelled example. Groups for the metric breakdown are the category when
 * present, else the input file's base name. `chunk` responses are embedded per call.
 */
export async function embedRecords(
  embedder: EmbedderLike,
  records: readonly (PairRecord | ListRecord)[],
  options: { readonly chunk?: number; readonly onProgress?: (done: number, total: number) => void } = {},
): Promise<FeatureSet> {
  const chunk = options.chunk ?? 256;
  const pairs: FeaturePair[] = [];
  const labels: FeatureLabel[] = [];
  let skipped = 0;
  let truncated = 0;
  for (let start = 0; start < records.length; start += chunk) {
    const slice = records.slice(start, start + chunk);
    const inputs: EmbedInput[] = [];
    for (const r of slice) {
      if (r.kind === 'pair') inputs.push({ prompt: r.prompt, response: r.chosen }, { prompt: r.prompt, response: r.rejected });
      else for (const resp of r.responses) inputs.push({ prompt: r.prompt, response: resp });
    }
    const { embeddings } = await embedder.embed(inputs);
    let k = 0;
    for (const r of slice) {
      if (r.kind === 'pair') {
        const [c, j] = [embeddings[k], embeddings[k + 1]];
        k += 2;
        if (!c || !j) {
          skipped++;
          continue;
        }
        if (c.truncated || j.truncated) truncated++;
        pairs.push({
          chosen: c.features,
          rejected: j.features,
          group: r.category ?? basename(r.sourceFile),
          pairId: r.pairId,
          sourceFile: r.sourceFile,
          sourceRow: r.sourceRow,
          category: r.category,
          chosenText: r.chosen,
          rejectedText: r.rejected,
          prompt: r.prompt,
        });
        const label = (e: Embedding, safe: boolean | null) => {
          if (safe !== null) labels.push({ features: e.features, safe, sourceFile: r.sourceFile });
        };
        label(c, r.chosenSafe);
        label(j, r.rejectedSafe);
      } else {
        const embs = embeddings.slice(k, k + r.responses.length);
        k += r.responses.length;
        embs.forEach((e, i) => {
          const safe = r.labels?.[i] ?? null;
          if (!e) skipped++;
          else if (safe !== null) labels.push({ features: e.features, safe, sourceFile: r.sourceFile });
        });
      }
    }
    options.onProgress?.(Math.min(records.length, start + chunk), records.length);
  }
  return { pairs, labels, skipped, truncated };
}
