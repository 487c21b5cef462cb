/**
 * How bench/gpu.ts times a model (shared by its encoder rows and the decoder rows of
 * bench/gpuDecoder.ts): the whole embed stage against a bare session.run on the same batches.
 */
import { bucketByTokens } from '../src/runtime/model/batching.js';
import type { Embedder } from '../src/runtime/model/Embedder.js';
import { median } from './harness.js';

export interface Measured {
  stageSeconds: number;
  bareSeconds: number;
  warmupSeconds: number;
  batches: number;
  features: Float32Array[];
  ids: Int32Array[];
}

/** Warm-up batch, then `repeats` x (whole stage, bare session.run on the same batches), interleaved; medians. */
export async function measure(e: Embedder, texts: readonly string[], budget: number, repeats: number, warm: boolean): Promise<Measured> {
  const ids = texts.map((t) => e.tokenizer.encode(t, e.maxTokens).ids);
  const feeds = bucketByTokens(ids.map((x) => x.length), budget).map((g) => e.feeds(g.map((k) => ids[k])));
  let warmupSeconds = 0;
  if (warm) {
    // The first run at a shape compiles kernels (WebGPU shaders); time it apart from the rest.
    const t0 = performance.now();
    await e.embed(texts.slice(0, Math.max(1, Math.floor(budget / ids[0].length))));
    warmupSeconds = (performance.now() - t0) / 1000;
  }
  const stage: number[] = [];
  const bare: number[] = [];
  let features: Float32Array[] = [];
  let batches = 0;
  for (let r = 0; r < repeats; r++) {
    let t0 = performance.now();
    const out = await e.embed(texts);
    stage.push((performance.now() - t0) / 1000);
    if (out.info.computed !== texts.length) throw new Error(`embed computed ${out.info.computed} of ${texts.length} texts (cache or duplicates)`);
    features = out.embeddings.map((x) => x!.features);
    batches = out.info.batches;
    t0 = performance.now();
    for (const f of feeds) await e.session.run(f);
    bare.push((performance.now() - t0) / 1000);
  }
  return { stageSeconds: median(stage), bareSeconds: median(bare), warmupSeconds, batches, features, ids };
}

export function maxAbsDiff(a: readonly Float32Array[], b: readonly Float32Array[]): number {
  let m = 0;
  for (let i = 0; i < Math.min(a.length, b.length); i++) {
    const x = a[i];
    const y = b[i];
    for (let j = 0; j < x.length; j++) {
      const d = Math.abs(x[j] - y[j]);
      if (!(d <= m)) m = d; // NaN propagates as the maximum
    }
  }
  return m;
}

