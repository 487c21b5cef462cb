/**
 * `npm run build:probe`: trains the default probe (data/probe/) on the shared HH-RLHF harmless
 * pairs with the default model, and decides by measurement whether the OpenAI moderation texts
 * (per-text harm flags, logistic loss) are added: both variants are trained on the same seeded
 * splits, and the moderation texts are kept when they raise the mean held-out response AUROC (on
 * held-out moderation texts, the same split for both) while costing less than ACCURACY_TOLERANCE
 * of mean held-out pairwise accuracy: the probe exists to tell safe from unsafe responses, and HH
 * pair accuracy alone is a noisy proxy for that. Deterministic: the same model bytes give the same
 * probe bytes.
 *
 * The probe is only valid for the exact model bytes built by `npm run build:model`: probe.json
 * records the model's sha256, and rerank refuses a probe whose hash does not match.
 */
import { basename } from 'node:path';
import { pathToFileURL } from 'node:url';
import { featureSourceOf, prefrankVersion, saveProbe } from '../src/probe/artifact.js';
import { auroc } from '../src/probe/metrics.js';
import { splitIndices, trainProbe, type TrainProbeOptions, type TrainProbeResult } from '../src/probe/trainProbe.js';
import { dataPath, sharedHhFile, sharedModerationFile } from '../src/runtime/paths.js';
import { DEFAULT_MODEL_NAME, hhFeatures, moderationLabels, openDefaultEmbedder } from './probeData.js';
import type { ProbeMetadata } from '../schemas/probe.js';
import type { FeatureLabel } from '../schemas/features.js';

/** The default probe's recipe (the paper's: margin 1, Adam lr 1e-3, weight decay 0.01). */
export const DEFAULT_TRAIN_OPTIONS = {
  margin: 1,
  lr: 1e-3,
  weightDecay: 0.01,
  epochs: 200,
  patience: 20,
  batchSize: 64,
  seed: 20250313,
  holdout: 0.2,
  standardize: true,
  // The moderation texts' logistic loss weighs 3x a pair: measured on 4 seeded splits of HH pairs
  // and moderation texts with the default model (2026-12-04, then reading a text's last 128 tokens),
  // held-out response AUROC 0.732 (weight 1), 0.758
  // (2), 0.783 (3), 0.784 (5), pair accuracy 0.641, 0.634, 0.618, 0.621. The probe exists to tell
  // safe from unsafe responses; HH pair labels are noisy.
  labelWeight: 3,
  alpha: 'auto',
} as const satisfies Omit<TrainProbeOptions, 'layers' | 'width'>;

/** Seeded splits over which the with/without-moderation comparison is averaged. */
export const COMPARISON_SPLITS = 5;
/** Held-out pair accuracy the moderation texts may cost: about one split's standard error (0.022). */
export const ACCURACY_TOLERANCE = 0.02;

export interface BuildProbeOptions {
  readonly outDir: string;
  /** 'auto' measures both variants; true/false forces one. */
  readonly moderation?: 'auto' | boolean;
  readonly log?: (line: string) => void;
}

export async function buildProbe(options: BuildProbeOptions): Promise<{ meta: ProbeMetadata; accuracyPairsOnly: number | null; accuracyWithModeration: number | null }> {
  const log = options.log ?? (() => {});
  await using embedder = await openDefaultEmbedder();
  const hh = await hhFeatures(embedder);
  log(`HH-RLHF: ${hh.pairs.length} pairs embedded (${hh.skipped} skipped, ${hh.truncated} truncated, rejects ${JSON.stringify(hh.rejects)})`);
  const shape = { layers: embedder.layers.length, width: embedder.width };
  const mode = options.moderation ?? 'auto';

  // The moderation question is decided on the mean held-out accuracy over several seeded splits:
  // one split of ~460 pairs has a standard error of about 0.023, larger than the effect measured.
  let mod: Awaited<ReturnType<typeof moderationLabels>> | null = null;
  if (mode !== false) mod = await moderationLabels(embedder);
  const seeds = mode === 'auto' ? Array.from({ length: COMPARISON_SPLITS }, (_, i) => DEFAULT_TRAIN_OPTIONS.seed + i) : [DEFAULT_TRAIN_OPTIONS.seed];
  const runs = (labels: FeatureLabel[]) => seeds.map((seed) => trainProbe(hh.pairs, labels, { ...DEFAULT_TRAIN_OPTIONS, ...shape, seed }));
  const mean = (rs: TrainProbeResult[]) => rs.reduce((a, r) => a + (r.metrics.heldOutAccuracy ?? 0), 0) / rs.length;
  // Response AUROC on the moderation texts that trainProbe holds out for the run's seed (seed + 1).
  const aurocOf = (rs: TrainProbeResult[]) => {
    if (!mod) return null;
    const vals = rs.map((r, k) => {
      const held = splitIndices(mod!.labels.length, DEFAULT_TRAIN_OPTIONS.holdout, seeds[k] + 1)[1];
      return auroc(held.map((i) => r.probe.score(mod!.labels[i].features)), held.map((i) => mod!.labels[i].safe)) ?? 0.5;
    });
    return vals.reduce((a, x) => a + x, 0) / vals.length;
  };
  const pairsOnly = mode !== true ? runs([]) : null;
  const withMod = mode !== false && mod ? runs(mod.labels) : null;
  const accP = pairsOnly ? mean(pairsOnly) : null;
  const accM = withMod ? mean(withMod) : null;
  if (pairsOnly) log(`pairs only: mean held-out accuracy ${accP!.toFixed(4)} over ${seeds.length} split(s) [${pairsOnly.map((r) => r.metrics.heldOutAccuracy!.toFixed(4)).join(' ')}]`);
  if (withMod) log(`pairs + moderation (${mod!.safe} safe, ${mod!.unsafe} unsafe): mean held-out accuracy ${accM!.toFixed(4)} [${withMod.map((r) => r.metrics.heldOutAccuracy!.toFixed(4)).join(' ')}]`);
  const aucP = pairsOnly ? aurocOf(pairsOnly) : null;
  const aucM = withMod ? aurocOf(withMod) : null;
  if (aucP !== null || aucM !== null) log(`mean held-out response AUROC: pairs only ${aucP?.toFixed(4) ?? '-'}, with moderation ${aucM?.toFixed(4) ?? '-'}`);
  const useMod = withMod !== null && (pairsOnly === null || (aucM! > aucP! && accM! > accP! - ACCURACY_TOLERANCE));
  // The kept probe is the run on the recipe's own seed.
  const kept = (useMod ? withMod : pairsOnly)![0];
  log(`kept: ${useMod ? 'pairs + moderation' : 'pairs only'}`);

  const inputs = [{ file: basename(sharedHhFile()), pairs: hh.pairs.length, labels: 0 }];
  if (useMod && mod) inputs.push({ file: basename(sharedModerationFile()), pairs: 0, labels: mod.labels.length });
  const meta = saveProbe(options.outDir, kept.probe, {
    prefrank: prefrankVersion(),
    features: featureSourceOf(embedder, DEFAULT_MODEL_NAME),
    alpha: kept.alpha,
    alphaSource: kept.alphaSource,
    calibration: kept.calibration,
    training: {
      inputs,
      pairs: hh.pairs.length,
      labels: useMod && mod ? mod.labels.length : 0,
      options: { ...kept.options },
      experiments: {
        moderation: {
          question: `do the moderation texts (logistic loss) raise held-out response AUROC at a cost under ${ACCURACY_TOLERANCE} of held-out pairwise accuracy?`,
          splits: seeds.length,
          meanHeldOutAccuracyPairsOnly: accP,
          meanHeldOutAccuracyWithModeration: accM,
          meanHeldOutAurocPairsOnly: aucP,
          meanHeldOutAurocWithModeration: aucM,
          moderationLabels: mod ? { safe: mod.safe, unsafe: mod.unsafe, unknownSkipped: mod.unknown } : null,
          kept: useMod ? 'with moderation' : 'pairs only',
        },
      },
    },
    metrics: kept.metrics,
  });
  return { meta, accuracyPairsOnly: accP, accuracyWithModeration: accM };
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const outDir = process.argv[2] ?? dataPath('probe');
  const t0 = Date.now();
  buildProbe({ outDir, log: (l) => process.stderr.write(l + '\n') })
    .then(({ meta }) => {
      const m = meta.metrics;
      process.stderr.write(`wrote ${outDir} in ${((Date.now() - t0) / 1000).toFixed(1)} s: held-out accuracy ${m.heldOutAccuracy?.toFixed(4)}, alpha ${meta.alpha.toFixed(4)}, ECE ${m.heldOutEce?.toFixed(4)}\n`);
    })
    .catch((err: unknown) => {
      process.stderr.write(`build:probe failed: ${(err as Error)?.stack ?? String(err)}\n`);
      process.exitCode = 1;
    });
}
