/**
 * The default model on an accelerator against the CPU: `node dist/scripts/defaultModelDeviceCheck.js
 * [DEVICE] [OUT.json]` (DEVICE webgpu by default; cpu checks the check). It embeds shared texts
 * short and long (HH-RLHF responses and moderation texts, up to the 512 tokens the model reads in
 * windows of 128) on the CPU and on DEVICE, and reports the device each really ran on (a fallback
 * is logged and shows here), texts/s, and the largest difference of the features. The windowed graph
 * uses int64 Mod/Min, Pad and computed Reshape shapes, which a GPU provider may run on the CPU or
 * not at all: this is where that shows. scripts/gpuCheck.sh runs it first.
 */
import { writeFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { splitImplicit } from '../schemas/adapters.js';
import { defaultModelFile } from '../src/runtime/model/defaultModel.js';
import { Embedder } from '../src/runtime/model/Embedder.js';
import type { Device } from '../src/runtime/model/openOrtSession.js';
import { HH_FILE, MODERATION_FILE } from './probeData.js';
import { sharedJsonLines } from '../src/runtime/paths.js';

/** `count` shared texts: every other one an HH response, the rest moderation texts (43% over 128 tokens). */
export function checkTexts(count: number): string[] {
  // The chosen responses, split from their dialogues as the implicit-prompt adapter splits them.
  const hh = sharedJsonLines(HH_FILE).flatMap((l) => {
    const r = JSON.parse(l) as { chosen: string; rejected: string };
    const split = splitImplicit(r.chosen, r.rejected);
    return split && split.chosen.trim() !== '' ? [split.chosen] : [];
  });
  const mod = sharedJsonLines(MODERATION_FILE).map((l) => (JSON.parse(l) as { prompt: string }).prompt);
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
}

async function timed(device: Device, texts: readonly string[], log: (m: string) => void) {
  await using e = await Embedder.open({ model: defaultModelFile(log), device, cacheMiB: 0, log });
  const t0 = performance.now();
  const out = await e.embedTexts(texts);
  const seconds = (performance.now() - t0) / 1000;
  return { device: e.device, seconds, textsPerSecond: texts.length / seconds, out };
}

export async function defaultModelDeviceCheck(device: Device, count = 400, log: (m: string) => void = () => {}): Promise<DeviceCheck> {
  const texts = checkTexts(count);
  const cpu = await timed('cpu', texts, log);
  const other = await timed(device, texts, log);
  let maxAbsDiff = 0;
  let scale = 0;
  cpu.out.forEach((a, i) => {
    const b = other.out[i].features;
    for (let j = 0; j < a.features.length; j++) {
      scale = Math.max(scale, Math.abs(a.features[j]));
      maxAbsDiff = Math.max(maxAbsDiff, Math.abs(a.features[j] - b[j]));
    }
  });
  const strip = ({ out: _o, ...r }: Awaited<ReturnType<typeof timed>>) => r;
  return { asked: device, texts: texts.length, tokens: cpu.out.reduce((s, e) => s + e.tokens, 0), cpu: strip(cpu), other: strip(other), maxAbsDiff, maxRelDiff: maxAbsDiff / Math.max(scale, 1e-12) };
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const device = (process.argv[2] ?? 'webgpu') as Device;
  const r = await defaultModelDeviceCheck(device, 400, (m) => process.stderr.write(m + '\n'));
  const json = JSON.stringify(r, null, 2) + '\n';
  if (process.argv[3]) writeFileSync(process.argv[3], json);
  process.stdout.write(json);
}
