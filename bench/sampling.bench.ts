/**
 * The paper's cost argument, measured on one model and device: re-ranking the responses a dataset
 * already has (one forward pass per existing response, through prefrank's embed stage) against
 * online sampling (N = 8 new responses of 256 tokens per prompt, generated with a key/value cache
 * through the same model's ONNX decode step, then scored by the same forward pass). Seconds and
 * FLOPs per prompt, and their ratios.
 *
 * The model is an export of examples/export/export_hf.py with --decode-step: by default the tiny
 * random Llama in test/fixtures/llama-export/float32 (CPU, seconds); PREFRANK_SAMPLING_MODEL=DIR
 * runs a larger one (a ~1B Llama shape: `--random-llama 1b --decode-step`, on the GPU machine),
 * PREFRANK_SAMPLING_DEVICE=cpu|webgpu picks the provider. FLOPs count the matrix products, 2 per
 * weight per token, plus attention (4 x layers x width x context per token).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import ort from 'onnxruntime-node';
import { splitImplicit } from '../schemas/adapters.js';
import { Prng } from '../src/probe/Prng.js';
import { Embedder } from '../src/runtime/model/Embedder.js';
import { openOrtSession } from '../src/runtime/model/openOrtSession.js';
import { projectRoot, sharedHhFile, sharedJsonLines } from '../src/runtime/paths.js';
import type { Device } from '../src/runtime/model/openOrtSession.js';
import { median, type Bench, type Row } from './harness.js';

const N = 8;
const NEW_TOKENS = 256;
const PROMPTS = Number(process.env.PREFRANK_SAMPLING_PROMPTS ?? 3);

interface ModelConfig {
  num_hidden_layers: number;
  hidden_size: number;
  intermediate_size: number;
  num_attention_heads: number;
  num_key_value_heads: number;
  vocab_size: number;
}

/** Matrix-product FLOPs of one token through the decoder (2 per weight), attention over `context` tokens. */
function flopsPerToken(c: ModelConfig, context: number, withHead: boolean): number {
  const head = c.hidden_size / c.num_attention_heads;
  const kv = c.num_key_value_heads * head;
  const perLayer = c.hidden_size * (2 * c.hidden_size + 2 * kv) + 3 * c.hidden_size * c.intermediate_size;
  return 2 * c.num_hidden_layers * perLayer + 4 * c.num_hidden_layers * c.hidden_size * context + (withHead ? 2 * c.hidden_size * c.vocab_size : 0);
}

/** HH-RLHF harmless pairs split by the implicit-prompt adapter's own rule: shared dialogue, two answers. */
function hhPrompts(n: number): { prompt: string; responses: [string, string] }[] {
  const out: { prompt: string; responses: [string, string] }[] = [];
  for (const line of sharedJsonLines(sharedHhFile())) {
    if (out.length >= n) break;
    const r = JSON.parse(line) as { chosen: string; rejected: string };
    const split = splitImplicit(r.chosen, r.rejected);
    if (split) out.push({ prompt: split.prompt, responses: [split.chosen, split.rejected] });
  }
  return out;
}

function softmaxSample(logits: Float32Array, off: number, vocab: number, rng: Prng): number {
  let max = -Infinity;
  for (let i = 0; i < vocab; i++) max = Math.max(max, logits[off + i]);
  let sum = 0;
  for (let i = 0; i < vocab; i++) sum += Math.exp(logits[off + i] - max);
  let u = rng.next() * sum;
  for (let i = 0; i < vocab; i++) {
    u -= Math.exp(logits[off + i] - max);
    if (u <= 0) return i;
  }
  return vocab - 1;
}

/** N responses of NEW_TOKENS sampled for one prompt through the decode step, with its cache. */
async function sample(step: ort.InferenceSession, c: ModelConfig, promptIds: Int32Array, rng: Prng): Promise<number[][]> {
  const head = c.hidden_size / c.num_attention_heads;
  const pastNames = step.inputNames.filter((n) => n.startsWith('past.'));
  let feeds: Record<string, ort.Tensor> = {};
  for (const n of pastNames) feeds[n] = new ort.Tensor('float32', new Float32Array(0), [N, c.num_key_value_heads, 0, head]);
  let tokens = BigInt64Array.from({ length: N * promptIds.length }, (_, i) => BigInt(promptIds[i % promptIds.length]));
  let t = promptIds.length;
  let total = 0;
  const out: number[][] = Array.from({ length: N }, () => []);
  for (let k = 0; k < NEW_TOKENS; k++) {
    const pos = BigInt64Array.from({ length: N * t }, (_, i) => BigInt(total + (i % t)));
    const res = await step.run({
      ...feeds,
      input_ids: new ort.Tensor('int64', tokens, [N, t]),
      attention_mask: new ort.Tensor('int64', new BigInt64Array(N * (total + t)).fill(1n), [N, total + t]),
      position_ids: new ort.Tensor('int64', pos, [N, t]),
    });
    const logits = res.logits.data as Float32Array;
    const next = Array.from({ length: N }, (_, b) => softmaxSample(logits, b * c.vocab_size, c.vocab_size, rng));
    next.forEach((id, b) => out[b].push(id));
    feeds = {};
    for (const n of pastNames) feeds[n] = res[n.replace('past.', 'present.')];
    total += t;
    t = 1;
    tokens = BigInt64Array.from(next, (x) => BigInt(x));
  }
  return out;
}

export const benches: Bench[] = [
  {
    name: 'sampling',
    description: `re-rank (one forward pass per existing response) vs online sampling (${N} x ${NEW_TOKENS} new tokens per prompt with a KV cache, then scored), same model and device, ${PROMPTS} HH-RLHF prompts`,
    async run(): Promise<Row[]> {
      const dir = process.env.PREFRANK_SAMPLING_MODEL ?? join(projectRoot(), 'test', 'fixtures', 'llama-export', 'float32');
      const device = (process.env.PREFRANK_SAMPLING_DEVICE ?? 'cpu') as Device;
      const c = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8')) as ModelConfig;
      const vocab = JSON.parse(readFileSync(join(dir, 'tokenizer.json'), 'utf8')) as { model: { vocab: Record<string, number> } };
      const word = new Map(Object.entries(vocab.model.vocab).map(([w, id]) => [id, w]));
      await using embedder = await Embedder.open({ model: join(dir, 'model.onnx'), device, cacheMiB: 0 });
      const { session: step } = await openOrtSession(join(dir, 'decode_step.onnx'), { device, log: () => {}, externalDataFolder: dir });
      const rng = new Prng(7);
      const rerankS: number[] = [];
      const sampleS: number[] = [];
      const scoreS: number[] = [];
      let rerankFlops = 0;
      let sampleFlops = 0;
      const prompts = hhPrompts(PROMPTS);
      await embedder.embed([{ prompt: prompts[0].prompt, response: prompts[0].responses[0] }]); // warm-up
      for (const p of prompts) {
        const pairs = p.responses.map((response) => ({ prompt: p.prompt, response }));
        let t0 = performance.now();
        await embedder.embed(pairs);
        rerankS.push((performance.now() - t0) / 1000);
        for (const x of pairs) {
          const n = embedder.tokenizer.encode(embedder.render(x.prompt, x.response), embedder.maxTokens).ids.length;
          for (let i = 0; i < n; i++) rerankFlops += flopsPerToken(c, i + 1, false);
        }
        const promptIds = embedder.tokenizer.encode(p.prompt, embedder.maxTokens).ids;
        t0 = performance.now();
        const responses = await sample(step, c, promptIds, rng);
        sampleS.push((performance.now() - t0) / 1000);
        for (let i = 0; i < promptIds.length + NEW_TOKENS; i++) sampleFlops += N * flopsPerToken(c, i + 1, i >= promptIds.length - 1);
        // The new responses are scored by the same forward pass (their words joined back into text).
        const texts = responses.map((ids) => ({ prompt: p.prompt, response: ' ' + ids.map((id) => word.get(id) ?? '[UNK]').join(' ') }));
        t0 = performance.now();
        await embedder.embed(texts);
        scoreS.push((performance.now() - t0) / 1000);
        for (const x of texts) {
          const n = embedder.tokenizer.encode(embedder.render(x.prompt, x.response), embedder.maxTokens).ids.length;
          for (let i = 0; i < n; i++) sampleFlops += flopsPerToken(c, i + 1, false);
        }
      }
      await step.release();
      const k = prompts.length;
      const rerank = median(rerankS);
      const online = median(sampleS.map((s, i) => s + scoreS[i]));
      return [
        {
          model: `${c.num_hidden_layers} x ${c.hidden_size} (${dir.split('/').slice(-2).join('/')})`,
          device: embedder.device,
          prompts: k,
          rerankSecondsPerPrompt: Number(rerank.toFixed(4)),
          samplingSecondsPerPrompt: Number(online.toFixed(4)),
          secondsRatio: Number((online / rerank).toFixed(1)),
          rerankGflopPerPrompt: Number((rerankFlops / k / 1e9).toFixed(3)),
          samplingGflopPerPrompt: Number((sampleFlops / k / 1e9).toFixed(3)),
          flopRatio: Number((sampleFlops / rerankFlops).toFixed(1)),
          maxTokens: embedder.maxTokens,
        },
      ];
    },
  },
];
