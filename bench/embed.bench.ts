/**
 * The embed stage: texts/s and tokens/s on the default model and on a MiniLM-shaped encoder
 * (6 layers, width 384, up to 128 tokens, random weights), padding waste, the whole stage against a
 * bare session.run on the same pre-tokenized batches, and, for the MiniLM-shaped model, the same
 * texts through transformers.js' feature-extraction pipeline (same ONNX file and tokenizer, offline).
 * Texts: chosen and rejected dialogues of HH-RLHF harmless-base test.
 */
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type ort from 'onnxruntime-node';
import { bucketByTokens } from '../src/runtime/model/batching.js';
import { DEFAULT_MODEL_NAME, defaultModelFile } from '../src/runtime/model/defaultModel.js';
import { Embedder } from '../src/runtime/model/Embedder.js';
import { sharedHhFile, sharedJsonLines, sharedPath } from '../src/runtime/paths.js';
import { buildBertModel, MINI_LM } from './bertModel.js';
import { median, timeMedian, type Bench, type Row } from './harness.js';

const REPEATS = 5;
/** Texts per embed call, as the pipeline's record batches give them (512 pairs = 1024 texts). */
const CALL = 1024;
/** Few enough that the MiniLM-shaped runs (ours, bare, transformers.js, 3 times each) stay near a minute on 2 cores. */
const MINI_LM_TEXTS = 64;

function hhTexts(max: number): string[] {
  const out: string[] = [];
  for (const line of sharedJsonLines(sharedHhFile())) {
    const r = JSON.parse(line) as { chosen: string; rejected: string };
    out.push(r.chosen, r.rejected);
    if (out.length >= max) break;
  }
  return out.slice(0, max);
}

interface StageResult {
  stageSeconds: number;
  bareSeconds: number;
  /** Seconds of a third contender (transformers.js), when given. */
  otherSeconds: number;
  tokens: number;
  paddedSlots: number;
  truncated: number;
  features: Float32Array[];
}

/**
 * The whole stage (tokenize, bucket, run, gather) against session.run alone on the same feeds, and
 * optionally a third contender, interleaved in each repeat so that load from other processes on
 * the machine falls on all of them alike; medians of REPEATS.
 */
async function stageVsBare(embedder: Embedder, texts: readonly string[], other?: () => Promise<void>): Promise<StageResult> {
  const calls: string[][] = [];
  for (let i = 0; i < texts.length; i += CALL) calls.push(texts.slice(i, i + CALL));
  let info = { tokens: 0, paddedSlots: 0, truncated: 0 };
  let features: Float32Array[] = [];
  const stage = async () => {
    info = { tokens: 0, paddedSlots: 0, truncated: 0 };
    features = [];
    for (const c of calls) {
      const out = await embedder.embed(c);
      info.tokens += out.info.tokens;
      info.paddedSlots += out.info.paddedSlots;
      info.truncated += out.info.truncated;
      features.push(...out.embeddings.map((e) => e!.features));
    }
  };
  // The same batches, tokenized and fed beforehand: only session.run is timed.
  const feeds: Record<string, ort.Tensor>[] = [];
  for (const c of calls) {
    const ids = c.map((t) => embedder.tokenizer.encode(t, embedder.maxTokens).ids);
    const streamIds = embedder.streams.map((s) => c.map((t) => s.tokenizer.encode(t, s.maxTokens).ids));
    for (const g of bucketByTokens(ids.map((x) => x.length), embedder.batchTokens)) feeds.push(embedder.feeds(g.map((k) => ids[k]), streamIds.map((x) => g.map((k) => x[k]))));
  }
  const bare = async () => {
    for (const f of feeds) await embedder.session.run(f);
  };
  const times: number[][] = [[], [], []];
  const fns = [stage, bare, ...(other ? [other] : [])];
  for (let r = 0; r < REPEATS; r++) {
    for (let k = 0; k < fns.length; k++) times[k].push((await timeMedian(1, fns[k])).seconds);
  }
  return { stageSeconds: median(times[0]), bareSeconds: median(times[1]), otherSeconds: other ? median(times[2]) : NaN, ...info, features };
}

function row(model: string, texts: number, r: StageResult, extra: Row = {}): Row {
  return {
    model,
    texts,
    tokens: r.tokens,
    stage_s: r.stageSeconds,
    texts_per_s: texts / r.stageSeconds,
    tokens_per_s: r.tokens / r.stageSeconds,
    padding_waste_pct: 100 * (1 - r.tokens / r.paddedSlots),
    truncated: r.truncated,
    bare_run_s: r.bareSeconds,
    stage_over_bare: r.stageSeconds / r.bareSeconds,
    ...extra,
  };
}

const defaultModel: Bench = {
  name: 'embed-default',
  description: `default model (${DEFAULT_MODEL_NAME}, pooled): 2,000 HH-RLHF texts, max 512 tokens, batch budget 4096 tokens, median of ${REPEATS}`,
  async run() {
    await using e = await Embedder.open({ model: defaultModelFile((m) => process.stderr.write(m + '\n')), device: 'cpu', cacheMiB: 0 });
    const texts = hhTexts(2000);
    return [row(DEFAULT_MODEL_NAME, texts.length, await stageVsBare(e, texts), { layers: e.layers.length, width: e.width })];
  },
};

const miniLm: Bench = {
  name: 'embed-minilm',
  description: `MiniLM-shaped BERT (6 x 384, 12 heads, FFN 1536, random weights), texts of up to 128 tokens, vs transformers.js feature-extraction (batches of 32, input order), median of ${REPEATS}`,
  async run() {
    const dir = mkdtempSync(join(tmpdir(), 'prefrank-bench-minilm-'));
    try {
      // transformers.js layout: {localModelPath}/{id}/config.json, tokenizer files, onnx/model.onnx
      const folder = join(dir, 'minilm');
      mkdirSync(join(folder, 'onnx'), { recursive: true });
      const { bytes, config } = buildBertModel(MINI_LM);
      writeFileSync(join(folder, 'onnx', 'model.onnx'), bytes);
      writeFileSync(join(folder, 'config.json'), JSON.stringify(config));
      for (const f of ['tokenizer.json', 'tokenizer_config.json']) copyFileSync(sharedPath('fixtures', 'bert-tiny', f), join(folder, f));

      await using e = await Embedder.open({ model: join(folder, 'onnx', 'model.onnx'), tokenizer: join(folder, 'tokenizer.json'), device: 'cpu', cacheMiB: 0, maxTokens: 128 });
      // Texts that fit in 128 tokens, so both sides see the same tokens (transformers.js cuts the end, prefrank the start).
      const texts = hhTexts(4000).filter((t) => e.tokenizer.countTokens(t) <= 128).slice(0, MINI_LM_TEXTS);
      const { pipeline, env } = await import('@huggingface/transformers');
      env.allowRemoteModels = false;
      env.allowLocalModels = true;
      env.localModelPath = dir + '/';
      const extractor = await pipeline('feature-extraction', 'minilm', { dtype: 'fp32', device: 'cpu' });
      const last = e.layers.length - 1;
      let theirs: Float32Array[] = [];
      const tfjs = async () => {
        theirs = [];
        for (let i = 0; i < texts.length; i += 32) {
          const chunk = texts.slice(i, i + 32);
          const out = (await extractor(chunk, { pooling: 'none' })) as unknown as { data: Float32Array; dims: number[] };
          const [, T, W] = out.dims;
          chunk.forEach((t, r) => {
            const n = e.tokenizer.countTokens(t); // no special tokens in this tokenizer, right padding
            theirs.push(out.data.slice((r * T + n - 1) * W, (r * T + n) * W));
          });
        }
      };
      const ours = await stageVsBare(e, texts, tfjs);
      await extractor.dispose();
      let maxDiff = 0;
      texts.forEach((_, i) => {
        const mine = ours.features[i].subarray(last * e.width, (last + 1) * e.width);
        for (let j = 0; j < e.width; j++) maxDiff = Math.max(maxDiff, Math.abs(mine[j] - theirs[i][j]));
      });
      const lengths = texts.map((t) => e.tokenizer.countTokens(t));
      return [
        row('minilm-shaped 6x384', texts.length, ours, {
          layers: e.layers.length,
          width: e.width,
          median_tokens: median(lengths),
          tfjs_s: ours.otherSeconds,
          tfjs_texts_per_s: texts.length / ours.otherSeconds,
          speedup_vs_tfjs: ours.otherSeconds / ours.stageSeconds,
          max_abs_diff_vs_tfjs: maxDiff,
        }),
      ];
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  },
};

export const benches: Bench[] = [defaultModel, miniLm];
