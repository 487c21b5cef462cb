/**
 * Training and evaluation data for the probe: embedded records (the embed pipeline's stages,
 * pipelines/probeFeatures.ts) turned into features. Probe training needs every pair in memory at
 * once (a few thousand to a few hundred thousand), so this collects instead of streaming.
 */
import { basename } from 'node:path';
import type { EmbeddedItem, Embedding } from '../../schemas/records.js';
import { NO_TOKENS } from '../../schemas/records.js';
import type { FeatureSet } from '../../schemas/features.js';

/** An empty FeatureSet to add batches to. */
export function emptyFeatureSet(): FeatureSet {
  return { pairs: [], labels: [], skipped: 0, truncated: 0 };
}

/**
 * Adds embedded records (embedPairs' output) to `set`: each pair's chosen and rejected features,
 * and each response with a safety label (pairs' chosenSafe/rejectedSafe, lists' labels) as a
 * labelled example. Groups for the metric breakdown are the category when present, else the input
 * file's base name. A record that embedPairs rejected because a text had no tokens counts as
 * skipped; other rejects are the reader's and validator's, reported apart.
 */
export function addFeatures(set: FeatureSet, items: readonly EmbeddedItem[]): FeatureSet {
  let { skipped, truncated } = set;
  for (const r of items) {
    if (r.kind === 'reject') {
      if (r.reason.startsWith(NO_TOKENS)) skipped++;
      continue;
    }
    if (r.kind === 'pair') {
      const [c, j] = [r.embChosen, r.embRejected];
      if (c.truncated || j.truncated) truncated++;
      set.pairs.push({
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
        if (safe !== null) set.labels.push({ features: e.features, safe, sourceFile: r.sourceFile });
      };
      label(c, r.chosenSafe);
      label(j, r.rejectedSafe);
    } else if (r.kind === 'list') {
      r.embeddings.forEach((e, i) => {
        const safe = r.labels?.[i] ?? null;
        if (safe !== null) set.labels.push({ features: e.features, safe, sourceFile: r.sourceFile });
      });
    }
  }
  return { ...set, skipped, truncated };
}

/**
 * Pairs and labelled responses per input file (base names, sorted), for probe.json's training
 * summary; `files` are listed even when they gave nothing.
 */
export function countByFile(set: FeatureSet, files: readonly string[] = []): { file: string; pairs: number; labels: number }[] {
  const perFile = new Map<string, { pairs: number; labels: number }>(files.map((f) => [basename(f), { pairs: 0, labels: 0 }]));
  const count = (file: string) => perFile.get(basename(file)) ?? perFile.set(basename(file), { pairs: 0, labels: 0 }).get(basename(file))!;
  for (const p of set.pairs) count(p.sourceFile).pairs++;
  for (const l of set.labels) count(l.sourceFile).labels++;
  return [...perFile.entries()].sort(([a], [b]) => (a < b ? -1 : 1)).map(([file, c]) => ({ file, ...c }));
}
