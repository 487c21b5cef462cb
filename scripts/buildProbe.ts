/**
 * `npm run build:probe`: trains the default probe (data/probe/) on the shared HH-RLHF harmless
 * pairs with the default model, and decides by measurement whether the OpenAI moderation texts
 * (per-text harm flags, logistic loss) are added: both variants are trained with the same seed and
 * split, and the one with the better held-out pairwise accuracy is kept (ties keep the simpler,
 * pairs only). Deterministic: the same model bytes give the same probe bytes.
 *
 * The probe is only valid for the exact model bytes built by `npm run build:model`: probe.json
 * records the model's sha256, and rerank refuses a probe whose hash does not match.
 */
import { basename } from 'node:path';
import { pathToFileURL } from 'node:url';
import { featureSourceOf, prefrankVersion, saveProbe, type ProbeMetadata } from '../src/probe/artifact.js';
import { trainProbe, type TrainProbeOptions, type TrainProbeResult } from '../src/probe/trainProbe.js';
import { dataPath } from '../src/runtime/paths.js';
import { DEFAULT_MODEL_NAME, HH_FILE, hhFeatures, MODERATION_FILE, moderationLabels, openDefaultEmbedder } from './probeData.js';

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
  labelWeight: 1,
  alpha: 'auto',
} as const satisfies Omit<TrainProbeOptions, 'layers' | 'width'>;

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

  let pairsOnly: TrainProbeResult | null = null;
  let withMod: TrainProbeResult | null = null;
  let mod: Awaited<ReturnType<typeof moderationLabels>> | null = null;
  if (mode !== true) {
    pairsOnly = trainProbe(hh.pairs, [], { ...DEFAULT_TRAIN_OPTIONS, ...shape });
    log(`pairs only: held-out accuracy ${pairsOnly.metrics.heldOutAccuracy?.toFixed(4)} (best epoch ${pairsOnly.metrics.bestEpoch})`);
  }
  if (mode !== false) {
    mod = await moderationLabels(embedder);
    withMod = trainProbe(hh.pairs, mod.labels, { ...DEFAULT_TRAIN_OPTIONS, ...shape });
    log(`pairs + moderation (${mod.safe} safe, ${mod.unsafe} unsafe): held-out accuracy ${withMod.metrics.heldOutAccuracy?.toFixed(4)}, label AUROC ${withMod.metrics.heldOutAuroc?.toFixed(4)}`);
  }
  const accP = pairsOnly?.metrics.heldOutAccuracy ?? null;
  const accM = withMod?.metrics.heldOutAccuracy ?? null;
  const useMod = withMod !== null && (pairsOnly === null || (accM ?? -1) > (accP ?? -1));
  const kept = (useMod ? withMod : pairsOnly)!;
  log(`kept: ${useMod ? 'pairs + moderation' : 'pairs only'}`);

  const inputs = [{ file: basename(HH_FILE), pairs: hh.pairs.length, labels: 0 }];
  if (useMod && mod) inputs.push({ file: basename(MODERATION_FILE), pairs: 0, labels: mod.labels.length });
  const meta = saveProbe(options.outDir, kept.probe, {
    prefrank: prefrankVersion(),
    features: featureSourceOf(embedder, DEFAULT_MODEL_NAME),
    alpha: kept.alpha,
    alphaSource: kept.alphaSource,
    training: {
      inputs,
      pairs: hh.pairs.length,
      labels: useMod && mod ? mod.labels.length : 0,
      options: { ...kept.options },
      experiments: {
        moderation: {
          question: 'does adding the moderation texts (logistic loss) improve held-out pairwise accuracy?',
          heldOutAccuracyPairsOnly: accP,
          heldOutAccuracyWithModeration: accM,
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
