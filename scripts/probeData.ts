/**
 * Data shared by scripts/buildProbe.ts and scripts/evalProbe.ts: the default model, the shared
 * HH-RLHF harmless pairs and the OpenAI moderation texts, embedded into probe features.
 */
import { basename } from 'node:path';
import { readFeatures } from '../pipelines/probeFeatures.js';
import { defaultModelFile } from '../src/runtime/model/defaultModel.js';
import { Embedder } from '../src/runtime/model/Embedder.js';
import { sharedHhFile, sharedJsonLines, sharedModerationFile } from '../src/runtime/paths.js';
import { Stats } from '../src/runtime/Stats.js';
import type { FeatureLabel, FeatureSet } from '../schemas/features.js';

export { DEFAULT_MODEL_NAME } from '../src/runtime/model/defaultModel.js';

/** The default model file, built first (by the model owner's builder) when missing. */
export function defaultModelPath(): string {
  return defaultModelFile((m) => process.stderr.write(m + '\n'));
}

/** Opens the default model (built by `npm run build:model`) on the CPU. */
export async function openDefaultEmbedder(): Promise<Embedder> {
  return Embedder.open({ model: defaultModelPath(), device: 'cpu' });
}

/** The HH-RLHF pairs through the shared front stages (implicit-prompt adapter), embedded. */
export async function hhFeatures(embedder: Embedder, file = sharedHhFile()): Promise<FeatureSet & { rejects: Readonly<Record<string, number>> }> {
  const { files: _f, ...features } = await readFeatures(
    [file],
    {
      read: { batchRows: 512, maxRowBytes: 16 * 2 ** 20 },
      adapt: { format: 'implicit', pkuChoice: 'safer' },
      validate: { maxTextChars: 1_000_000 },
      window: 2,
      partRows: 1_000_000,
      stats: new Stats(),
    },
    embedder,
  );
  return features;
}

const HARM_KEYS = ['S', 'H', 'V', 'HR', 'SH', 'S3', 'H2', 'V2'] as const;

/**
 * The moderation texts as labelled responses: unsafe when any harm flag is 1, safe when all eight
 * flags are present and 0, skipped otherwise (a missing key means unknown). Each text is embedded
 * as a response to an empty prompt.
 */
export async function moderationLabels(embedder: Embedder, file = sharedModerationFile()): Promise<{ labels: FeatureLabel[]; texts: string[]; safe: number; unsafe: number; unknown: number }> {
  const rows = sharedJsonLines(file).map((l) => JSON.parse(l) as Record<string, unknown>);
  const texts: string[] = [];
  const safe: boolean[] = [];
  let unknown = 0;
  for (const r of rows) {
    const flags = HARM_KEYS.map((k) => r[k]);
    if (typeof r.prompt !== 'string' || r.prompt.trim() === '') {
      unknown++;
      continue;
    }
    if (flags.some((f) => f === 1)) safe.push(false);
    else if (flags.every((f) => f === 0)) safe.push(true);
    else {
      unknown++;
      continue;
    }
    texts.push(r.prompt);
  }
  const { embeddings } = await embedder.embed(texts.map((t) => ({ prompt: '', response: t })));
  const labels: FeatureLabel[] = [];
  const kept: string[] = []; // the texts of `labels`, index for index
  embeddings.forEach((e, i) => {
    if (!e) return;
    labels.push({ features: e.features, safe: safe[i], sourceFile: basename(file) });
    kept.push(texts[i]);
  });
  return { labels, texts: kept, safe: labels.filter((l) => l.safe).length, unsafe: labels.filter((l) => !l.safe).length, unknown };
}
