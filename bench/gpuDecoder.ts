/**
 * The decoder rows of the GPU benchmark (bench/gpu.ts --decoders llama1b): a Llama-shaped model of
 * about 1B parameters (16 x 2048, 32/8 heads, FFN 8192; bench/llamaModel.ts, random weights,
 * float16, external data) in both attention forms, plain and fused (MultiHeadAttention), timed as
 * the encoders are (the whole embed stage and a bare session.run on the same batches) on the CPU
 * (a few texts: the reference features) and on each available accelerator, with the largest
 * difference of the accelerator's features from the CPU's, relative to the features' scale.
 *
 * With a peer folder, each model stays there with an index of its weights in model.onnx.data
 * (transformers' LlamaForCausalLM names, [out, in] after the transpose the index asks for), and the
 * token ids and CPU features of its texts, so bench/gpu_peer.py runs PyTorch fp16 on the same
 * weights and inputs without needing onnx.
 */
import { copyFileSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Embedder } from '../src/runtime/model/Embedder.js';
import type { ConcreteDevice } from '../src/runtime/model/openOrtSession.js';
import type { TextTokenizer } from '../src/runtime/model/TextTokenizer.js';
import { buildLlamaModel, randomLlamaWeights, type AttentionForm, type LlamaShape, type LlamaTensor } from './llamaModel.js';
import { maxAbsDiff, measure } from './gpuMeasure.js';
import type { Row } from './harness.js';

/** Decoder shapes by name; the vocabulary is the bench tokenizer's. */
export const DECODERS: Record<string, Omit<LlamaShape, 'vocab'>> = {
  /** The export tool's `--random-llama 1b` shape. */
  llama1b: { layers: 16, width: 2048, heads: 32, kvHeads: 8, ffn: 8192, ropeTheta: 10000, eps: 1e-5 },
  /** For tests: runs in milliseconds on any CPU. */
  llamatiny: { layers: 2, width: 64, heads: 4, kvHeads: 2, ffn: 128, ropeTheta: 10000, eps: 1e-5 },
};

/** Multiply-add FLOPs of one text of T tokens: 2 x matmul parameters x T, plus 4 T^2 w per layer of attention. */
export function decoderFlopsPerText(s: Omit<LlamaShape, 'vocab'>, T: number): number {
  const d = s.width / s.heads;
  const perToken = 2 * s.width * s.heads * d + 2 * s.width * s.kvHeads * d + 3 * s.width * s.ffn;
  return s.layers * (2 * T * perToken + 4 * T * T * s.width);
}

/** transformers' LlamaForCausalLM parameter name of a weight, and whether the index stores it [in, out]. */
function hfName(t: LlamaTensor): { name: string; transpose: boolean } {
  const p = `model.layers.${t.layer}`;
  switch (t.role) {
    case 'embed':
      return { name: 'model.embed_tokens.weight', transpose: false };
    case 'finalNorm':
      return { name: 'model.norm.weight', transpose: false };
    case 'inputNorm':
      return { name: `${p}.input_layernorm.weight`, transpose: false };
    case 'postNorm':
      return { name: `${p}.post_attention_layernorm.weight`, transpose: false };
    case 'q':
    case 'k':
    case 'v':
    case 'o':
      return { name: `${p}.self_attn.${t.role}_proj.weight`, transpose: true };
    default:
      return { name: `${p}.mlp.${t.role}_proj.weight`, transpose: true };
  }
}

export interface DecoderContext {
  readonly decoders: readonly string[];
  readonly forms: readonly AttentionForm[];
  readonly lengths: readonly number[];
  readonly devices: readonly ConcreteDevice[];
  readonly available: Readonly<Record<string, string>>;
  readonly threads: number;
  readonly cpuBatchTokens: number;
  readonly gpuBatchTokens: readonly number[];
  readonly repeats: number;
  readonly quick: boolean;
  readonly deadlineS: number;
  readonly elapsed: () => number;
  readonly work: string;
  readonly peerDir: string | null;
  /** The bench tokenizer: tokenizer.json's path and tokenizer_config.json's content. */
  readonly tokenizer: { readonly json: string; readonly config: Record<string, unknown> };
  readonly tok: TextTokenizer;
  readonly vocab: number;
  readonly texts: (T: number, n: number) => string[];
  readonly rows: Row[];
  readonly save: () => void;
  readonly log: (m: string) => void;
  /** The peer's inputs: decoders and their cases are added here (saved by savePeer). */
  readonly peer: { decoders?: Record<string, unknown>; decoderCases?: unknown[] };
  readonly savePeer: () => void;
}

/** Texts per row: a whole number of batches; the CPU runs few (a 1B model takes seconds a text there). */
function textsFor(ctx: DecoderContext, device: ConcreteDevice, T: number, budget: number): number {
  const perBatch = Math.max(1, Math.floor(budget / T));
  if (ctx.quick || device === 'cpu') return Math.min(perBatch, 2);
  return perBatch * Math.max(1, Math.floor(Math.max(16384, budget) / (perBatch * T)));
}

export async function decoderRows(ctx: DecoderContext): Promise<void> {
  const maxLen = Math.max(...ctx.lengths);
  for (const name of ctx.decoders) {
    const shape: LlamaShape = { ...DECODERS[name], vocab: ctx.vocab };
    for (const form of ctx.forms) {
      const key = `${name}-${form}`;
      const dir = join(ctx.peerDir ?? ctx.work, key);
      if (ctx.elapsed() > ctx.deadlineS) {
        ctx.rows.push({ model: key, status: `skipped: past the ${ctx.deadlineS} s deadline` });
        ctx.save();
        continue;
      }
      const tb = performance.now();
      mkdirSync(dir, { recursive: true });
      const { weightBytes, tensors } = buildLlamaModel(dir, shape, { dtype: 'float16', attention: form, weights: randomLlamaWeights(1) });
      copyFileSync(ctx.tokenizer.json, join(dir, 'tokenizer.json'));
      writeFileSync(join(dir, 'tokenizer_config.json'), JSON.stringify({ ...ctx.tokenizer.config, model_max_length: maxLen }));
      ctx.log(`model ${key}: ${shape.layers} layers x ${shape.width}, float16, ${(weightBytes / 1e9).toFixed(2)} GB, built in ${((performance.now() - tb) / 1000).toFixed(1)} s`);
      if (ctx.peerDir) {
        (ctx.peer.decoders ??= {})[key] = {
          data: `${key}/model.onnx.data`,
          dtype: 'F16',
          tensors: Object.fromEntries(tensors.map((t) => { const h = hfName(t); return [h.name, { offset: t.offset, length: t.length, dims: t.dims, transpose: h.transpose }]; })),
          config: { vocab_size: shape.vocab, hidden_size: shape.width, intermediate_size: shape.ffn, num_hidden_layers: shape.layers, num_attention_heads: shape.heads, num_key_value_heads: shape.kvHeads, rope_theta: shape.ropeTheta, rms_norm_eps: shape.eps, max_position_embeddings: Math.max(2048, maxLen), tie_word_embeddings: false, attention_bias: false, mlp_bias: false, hidden_act: 'silu' },
        };
        ctx.savePeer();
      }
      const cpuFeatures = new Map<number, Float32Array[]>();
      for (const device of ctx.devices) {
        for (const budget of device === 'cpu' ? [ctx.cpuBatchTokens] : ctx.gpuBatchTokens) {
          const base = { model: key, layers: shape.layers, width: shape.width, dtype: 'float16', attention: form, device, threads: ctx.threads, batch_tokens: budget };
          if (ctx.available[device] !== 'available' || ctx.elapsed() > ctx.deadlineS) {
            for (const T of ctx.lengths) ctx.rows.push({ ...base, tokens_per_text: T, status: ctx.available[device] !== 'available' ? ctx.available[device] : `skipped: past the ${ctx.deadlineS} s deadline` });
            ctx.save();
            continue;
          }
          let e: Embedder;
          const to = performance.now();
          try {
            e = await Embedder.open({ model: join(dir, 'model.onnx'), device, intraOpThreads: ctx.threads, batchTokens: budget, maxTokens: maxLen, cacheMiB: 0, log: () => {} });
          } catch (err) {
            for (const T of ctx.lengths) ctx.rows.push({ ...base, tokens_per_text: T, status: `error: ${(err as Error).message.split('\n')[0]}` });
            ctx.save();
            continue;
          }
          const openSeconds = (performance.now() - to) / 1000;
          try {
            for (const T of ctx.lengths) {
              const row: Row = { ...base, tokens_per_text: T, open_s: openSeconds };
              try {
                const n = textsFor(ctx, device, T, budget);
                const texts = ctx.texts(T, n);
                const m = await measure(e, texts, budget, ctx.repeats, !ctx.quick);
                const flop = decoderFlopsPerText(shape, T);
                Object.assign(row, {
                  status: 'ok',
                  texts: n,
                  stage_s: m.stageSeconds,
                  stage_texts_per_s: n / m.stageSeconds,
                  bare_texts_per_s: n / m.bareSeconds,
                  stage_over_bare: m.stageSeconds / m.bareSeconds,
                  gflop_per_text: flop / 1e9,
                  stage_tflops: (flop * n) / m.stageSeconds / 1e12,
                });
                if (device === 'cpu') {
                  cpuFeatures.set(T, m.features);
                  if (ctx.peerDir) {
                    (ctx.peer.decoderCases ??= []).push({
                      model: key,
                      tokens: T,
                      ids: ctx.texts(T, textsFor(ctx, ctx.devices.find((d) => d !== 'cpu') ?? 'webgpu', T, Math.max(...ctx.gpuBatchTokens))).map((t) => Array.from(ctx.tok.encode(t, maxLen).ids)),
                      reference: { texts: m.features.length, layers: shape.layers, width: shape.width, features: m.features.map((f) => Array.from(f)) },
                    });
                    ctx.savePeer();
                  }
                } else {
                  const ref = cpuFeatures.get(T);
                  if (ref) {
                    const scale = maxAbsDiff(ref, ref.map((f) => new Float32Array(f.length)));
                    row.max_abs_diff_vs_cpu = maxAbsDiff(m.features, ref);
                    row.max_rel_diff_vs_cpu = (row.max_abs_diff_vs_cpu as number) / scale;
                  }
                }
                ctx.log(`  ${key} ${T} tokens on ${device}: ${(row.stage_texts_per_s as number).toFixed(2)} texts/s stage, ${(row.bare_texts_per_s as number).toFixed(2)} bare`);
              } catch (err) {
                row.status = `error: ${(err as Error).message.split('\n')[0]}`;
                ctx.log(`  ${key} ${T} tokens on ${device}: ${row.status}`);
              }
              ctx.rows.push(row);
              ctx.save();
            }
          } finally {
            await e.close();
          }
        }
      }
    }
  }
}
