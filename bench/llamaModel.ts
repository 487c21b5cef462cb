/**
 * A Llama-shaped decoder (RoPE, grouped-query attention, RMSNorm, SwiGLU) written with onnx-proto,
 * in the form prefrank's export tool gives users' models (examples/export/export_hf.py): inputs
 * `input_ids`, `attention_mask`, `position_ids`; one output `hidden_states.N` per decoder layer (the
 * last after the final norm, as transformers gives it); weights in external data
 * (`model.onnx.data`, read by onnxruntime by path), float32 or float16.
 *
 * It exists because these machines have no transformers to export a large model with: the weights
 * come from a `WeightSource`, random for benchmarks and the > 2 GB check (`scripts/bigLlamaCheck.ts`),
 * or another export's own weights, which is how the test holds this graph to the PyTorch reference of
 * the committed tiny export. Two attention forms:
 * - `plain`: MatMul, the causal and padding bias added to the scores, Softmax (computed in float32,
 *   as transformers does for float16 models), MatMul; key/value heads repeated for the query heads.
 * - `fused`: onnxruntime's `com.microsoft.MultiHeadAttention` on the rotated heads with the same
 *   additive bias, the contrib op that its CPU, CUDA and WebGPU providers run as one kernel.
 * Weights are written one tensor at a time, so a model of any size needs one tensor of memory.
 */
import { closeSync, mkdirSync, openSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { DataType, int64s, node, onnx, tensor, valueInfo, type NodeProto, type TensorProto } from '../src/runtime/model/onnxBuild.js';
import { weights } from '../test/helpers/random.js';

export interface LlamaShape {
  readonly layers: number;
  readonly width: number;
  readonly heads: number;
  readonly kvHeads: number;
  readonly ffn: number;
  readonly vocab: number;
  readonly ropeTheta: number;
  readonly eps: number;
}

/** The tiny export's shape (test/fixtures/llama-export). */
export const TINY_LLAMA: LlamaShape = { layers: 2, width: 64, heads: 4, kvHeads: 2, ffn: 128, vocab: 1000, ropeTheta: 10000, eps: 1e-5 };

/**
 * The export tool's `--random-llama 1b` shape (16 x 2048, 32/8 heads, FFN 8192) with 20 layers, so
 * that its float16 weights are over 2 GiB (2.4 GB), the size that needs ONNX external data.
 */
export const LLAMA_1B_20L: LlamaShape = { layers: 20, width: 2048, heads: 32, kvHeads: 8, ffn: 8192, vocab: 1000, ropeTheta: 10000, eps: 1e-5 };

/**
 * The weights by role, each float32 in the layout its MatMul reads ([in, out], row-major):
 * `embed` [vocab, width]; per layer `q` [width, heads*d], `k`/`v` [width, kvHeads*d], `o`
 * [heads*d, width], `gate`/`up` [width, ffn], `down` [ffn, width], `inputNorm`/`postNorm` [width];
 * `finalNorm` [width].
 */
export type WeightRole = 'embed' | 'q' | 'k' | 'v' | 'o' | 'gate' | 'up' | 'down' | 'inputNorm' | 'postNorm' | 'finalNorm';
export type WeightSource = (role: WeightRole, layer: number, dims: readonly number[]) => Float32Array;

export type AttentionForm = 'plain' | 'fused';

export interface BuildLlamaOptions {
  readonly dtype: 'float32' | 'float16';
  readonly attention: AttentionForm;
  readonly weights: WeightSource;
}

/**
 * Seeded random weights (the benches' uniform xorshift, one seed per tensor in the order asked):
 * norms 1, matrices scaled to unit variance over their fan-in, so activations stay O(1).
 */
export function randomLlamaWeights(seed = 1): WeightSource {
  let next = seed;
  return (role, _layer, dims) => {
    const n = dims.reduce((a, b) => a * b, 1);
    if (role === 'inputNorm' || role === 'postNorm' || role === 'finalNorm') return new Float32Array(n).fill(1);
    return weights(n, next++, role === 'embed' ? 1 : Math.sqrt(3 / dims[0]));
  };
}

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/** float32 -> IEEE half bits, rounded to nearest even (what torch's .half() does). */
export function toHalfBits(x: number): number {
  f32[0] = x;
  const b = u32[0];
  const sign = (b >>> 16) & 0x8000;
  const exp = (b >>> 23) & 0xff;
  let mant = b & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant ? 0x200 : 0);
  const e = exp - 127 + 15;
  if (e >= 0x1f) return sign | 0x7c00;
  if (e <= 0) {
    if (e < -10) return sign;
    mant |= 0x800000;
    const shift = 14 - e;
    let h = mant >>> shift;
    const rem = mant & ((1 << shift) - 1);
    const half = 1 << (shift - 1);
    if (rem > half || (rem === half && h & 1)) h++;
    return sign | h;
  }
  let h = (e << 10) | (mant >>> 13);
  const rem = mant & 0x1fff;
  if (rem > 0x1000 || (rem === 0x1000 && h & 1)) h++;
  return sign | h;
}

function halfBytes(x: Float32Array): Uint8Array {
  const h = new Uint16Array(x.length);
  for (let i = 0; i < x.length; i++) h[i] = toHalfBits(x[i]);
  return new Uint8Array(h.buffer);
}

/** Where one weight lies in model.onnx.data (for a peer that reads the same weights without onnx). */
export interface LlamaTensor {
  readonly name: string;
  readonly role: WeightRole;
  readonly layer: number;
  readonly dims: readonly number[];
  readonly offset: number;
  readonly length: number;
}

/**
 * Writes `outDir/model.onnx`, `outDir/model.onnx.data` and `outDir/config.json` (transformers'
 * names for the shape). Returns the number of weight bytes written.
 */
export function buildLlamaModel(outDir: string, shape: LlamaShape, options: BuildLlamaOptions): { weightBytes: number; tensors: LlamaTensor[] } {
  const { layers: L, width: W, heads: H, kvHeads: KV, ffn: F, vocab: V } = shape;
  if (W % H !== 0 || H % KV !== 0) throw new RangeError(`buildLlamaModel: width ${W}, heads ${H}, kv heads ${KV} do not divide`);
  const d = W / H;
  const rep = H / KV;
  const T = options.dtype === 'float16' ? DataType.FLOAT16 : DataType.FLOAT;
  mkdirSync(outDir, { recursive: true });
  const dataName = 'model.onnx.data';
  const fd = openSync(join(outDir, dataName), 'w');
  let offset = 0;
  const nodes: NodeProto[] = [];
  const inits: TensorProto[] = [];
  const tensors: LlamaTensor[] = [];

  // Big weights go to the data file as they are made; small constants stay in the graph.
  const weight = (role: WeightRole, layer: number, dims: number[], name: string): string => {
    const x = options.weights(role, layer, dims);
    if (x.length !== dims.reduce((a, b) => a * b, 1)) throw new RangeError(`buildLlamaModel: ${name} has ${x.length} values, expected ${dims.join(' x ')}`);
    const bytes = T === DataType.FLOAT16 ? halfBytes(x) : new Uint8Array(x.buffer, x.byteOffset, x.byteLength);
    writeSync(fd, bytes, 0, bytes.length, offset);
    tensors.push({ name, role, layer, dims, offset, length: bytes.length });
    inits.push(
      onnx.TensorProto.create({
        name,
        dims,
        dataType: T,
        dataLocation: onnx.TensorProto.DataLocation.EXTERNAL,
        externalData: [
          { key: 'location', value: dataName },
          { key: 'offset', value: String(offset) },
          { key: 'length', value: String(bytes.length) },
        ],
      }),
    );
    // 64-byte aligned, as onnx's own external-data writer may be asked for (memory mapping).
    offset += Math.ceil(bytes.length / 64) * 64;
    return name;
  };
  const constF32 = (name: string, dims: number[], values: number[]) => {
    inits.push(tensor(name, dims, Float32Array.from(values)));
    return name;
  };
  const n = (op: string, ins: string[], name: string, attrs = {}, domain?: string): string => {
    const out = `${name}_output_0`;
    const nd = node(op, ins, [out], name, attrs);
    if (domain) nd.domain = domain;
    nodes.push(nd);
    return out;
  };
  const made = new Set<string>();
  const ints = (name: string, v: number[]) => {
    if (!made.has(name)) inits.push(int64s(name, v));
    made.add(name);
    return name;
  };
  const scalarInt = (name: string, v: number) => {
    if (!made.has(name)) inits.push(tensor(name, [], BigInt64Array.of(BigInt(v))));
    made.add(name);
    return name;
  };

  // Rotary tables from the positions (so left padding works), in float32 as transformers computes them.
  const invFreq = constF32('/rotary/inv_freq', [d / 2], Array.from({ length: d / 2 }, (_, i) => 1 / shape.ropeTheta ** ((2 * i) / d)));
  const pos = n('Unsqueeze', [n('Cast', ['position_ids'], '/rotary/Cast', { to: DataType.FLOAT }), ints('/const/axis2', [2])], '/rotary/Unsqueeze');
  const freqs = n('Mul', [pos, invFreq], '/rotary/Mul');
  const emb = n('Concat', [freqs, freqs], '/rotary/Concat', { axis: -1 });
  const heads1 = ints('/const/axis1', [1]);
  const cos = n('Unsqueeze', [n('Cast', [n('Cos', [emb], '/rotary/Cos')], '/rotary/Cast_cos', { to: T }), heads1], '/rotary/Unsqueeze_cos'); // [B,1,S,d]
  const sin = n('Unsqueeze', [n('Cast', [n('Sin', [emb], '/rotary/Sin')], '/rotary/Cast_sin', { to: T }), heads1], '/rotary/Unsqueeze_sin');

  // Additive attention bias [B,1,S,S]: 0 where a query may see a key (causal and not padding), else
  // float32's lowest (finite, so a fully padded query row stays a number).
  const seqLen = n('Gather', [n('Shape', ['input_ids'], '/mask/Shape'), scalarInt('/const/one_s', 1)], '/mask/Gather', { axis: 0 });
  const idx = n('Range', [scalarInt('/const/zero_s', 0), seqLen, scalarInt('/const/one_s', 1)], '/mask/Range');
  const causal = n('LessOrEqual', [n('Unsqueeze', [idx, ints('/const/axis0', [0])], '/mask/Unsqueeze_k'), n('Unsqueeze', [idx, heads1], '/mask/Unsqueeze_q')], '/mask/LessOrEqual');
  const pad = n('Unsqueeze', [n('Cast', ['attention_mask'], '/mask/Cast', { to: DataType.BOOL }), ints('/const/axes12', [1, 2])], '/mask/Unsqueeze_pad');
  const allowed = n('And', [causal, pad], '/mask/And');
  const zeroF = constF32('/const/zero_f', [], [0]);
  const bias = n('Where', [allowed, zeroF, constF32('/const/min_f', [], [-3.4028234663852886e38])], '/mask/Where');
  // The fused op adds its bias in the model's dtype: float16's lowest there (float32's would be -inf,
  // and a padded row of -inf turns to NaN, which the next layer's values carry everywhere).
  const biasT = T === DataType.FLOAT16 ? n('Cast', [n('Where', [allowed, zeroF, constF32('/const/min_f16', [], [-65504])], '/mask/Where_f16')], '/mask/Cast_bias', { to: T }) : bias;

  const rmsNorm = (x: string, w: string, p: string) => {
    const xf = n('Cast', [x], `${p}/Cast`, { to: DataType.FLOAT });
    const variance = n('ReduceMean', [n('Mul', [xf, xf], `${p}/Pow`)], `${p}/ReduceMean`, { axes: [-1], keepdims: 1 });
    const inv = n('Reciprocal', [n('Sqrt', [n('Add', [variance, constF32(`${p}/eps`, [], [shape.eps])], `${p}/Add`)], `${p}/Sqrt`)], `${p}/Reciprocal`);
    return n('Mul', [w, n('Cast', [n('Mul', [xf, inv], `${p}/Mul`)], `${p}/Cast_1`, { to: T })], `${p}/Mul_1`);
  };
  const half = ints('/const/half', [d / 2]);
  const full = ints('/const/full', [d]);
  const zero = ints('/const/zero', [0]);
  const axis3 = ints('/const/axis3', [3]);
  const rope = (x: string, p: string) => {
    const x1 = n('Slice', [x, zero, half, axis3], `${p}/Slice`);
    const x2 = n('Slice', [x, half, full, axis3], `${p}/Slice_1`);
    const rotated = n('Concat', [n('Neg', [x2], `${p}/Neg`), x1], `${p}/Concat`, { axis: 3 });
    return n('Add', [n('Mul', [x, cos], `${p}/Mul`), n('Mul', [rotated, sin], `${p}/Mul_1`)], `${p}/Add`);
  };
  const headsShape = (h: number) => ints(`/const/heads_${h}`, [0, 0, h, d]);
  const toHeads = (x: string, h: number, p: string) => n('Transpose', [n('Reshape', [x, headsShape(h)], `${p}/Reshape`)], `${p}/Transpose`, { perm: [0, 2, 1, 3] }); // [B,h,S,d]
  const repeatKv = (x: string, p: string) => {
    if (rep === 1) return x;
    const u = n('Unsqueeze', [x, ints(`${p}/axes`, [2])], `${p}/Unsqueeze`);
    return n('Reshape', [n('Concat', Array(rep).fill(u), `${p}/Concat`, { axis: 2 }), ints(`${p}/shape`, [0, H, -1, d])], `${p}/Reshape`);
  };
  const fromHeads = (x: string, p: string) => n('Reshape', [n('Transpose', [x], `${p}/Transpose`, { perm: [0, 2, 1, 3] }), ints(`${p}/shape`, [0, 0, H * d])], `${p}/Reshape`);

  let x = n('Gather', [weight('embed', 0, [V, W], 'model.embed_tokens.weight'), 'input_ids'], '/model/embed_tokens/Gather', { axis: 0 });
  const outputs: string[] = [];
  for (let l = 0; l < L; l++) {
    const p = `/model/layers.${l}`;
    const a = `${p}/self_attn`;
    const inNorm = weight('inputNorm', l, [W], `model.layers.${l}.input_layernorm.weight`);
    const h = rmsNorm(x, inNorm, `${p}/input_layernorm`);
    const q = rope(toHeads(n('MatMul', [h, weight('q', l, [W, H * d], `model.layers.${l}.self_attn.q_proj.MatMul.weight`)], `${a}/q_proj/MatMul`), H, `${a}/q`), `${a}/rotary_q`);
    const k = rope(toHeads(n('MatMul', [h, weight('k', l, [W, KV * d], `model.layers.${l}.self_attn.k_proj.MatMul.weight`)], `${a}/k_proj/MatMul`), KV, `${a}/k`), `${a}/rotary_k`);
    const v = toHeads(n('MatMul', [h, weight('v', l, [W, KV * d], `model.layers.${l}.self_attn.v_proj.MatMul.weight`)], `${a}/v_proj/MatMul`), KV, `${a}/v`);
    const kr = repeatKv(k, `${a}/repeat_k`);
    const vr = repeatKv(v, `${a}/repeat_v`);
    let ctx: string;
    if (options.attention === 'fused') {
      // MultiHeadAttention takes [B,S,heads*d] queries and keys; the heads are already rotated.
      ctx = n(
        'MultiHeadAttention',
        [fromHeads(q, `${a}/q_bsd`), fromHeads(kr, `${a}/k_bsd`), fromHeads(vr, `${a}/v_bsd`), '', '', biasT],
        `${a}/MultiHeadAttention`,
        { num_heads: H, scale: { float: 1 / Math.sqrt(d) } },
        'com.microsoft',
      );
    } else {
      let scores = n('MatMul', [q, n('Transpose', [kr], `${a}/Transpose_k`, { perm: [0, 1, 3, 2] })], `${a}/MatMul`);
      if (T === DataType.FLOAT16) scores = n('Cast', [scores], `${a}/Cast_scores`, { to: DataType.FLOAT });
      const probs = n('Softmax', [n('Add', [n('Mul', [scores, constF32(`${a}/scale`, [], [1 / Math.sqrt(d)])], `${a}/Mul_scale`), bias], `${a}/Add_bias`)], `${a}/Softmax`, { axis: -1 });
      ctx = fromHeads(n('MatMul', [T === DataType.FLOAT16 ? n('Cast', [probs], `${a}/Cast_probs`, { to: T }) : probs, vr], `${a}/MatMul_1`), `${a}/ctx`);
    }
    x = n('Add', [x, n('MatMul', [ctx, weight('o', l, [H * d, W], `model.layers.${l}.self_attn.o_proj.MatMul.weight`)], `${a}/o_proj/MatMul`)], `${p}/Add`);
    const h2 = rmsNorm(x, weight('postNorm', l, [W], `model.layers.${l}.post_attention_layernorm.weight`), `${p}/post_attention_layernorm`);
    const m = `${p}/mlp`;
    const gate = n('MatMul', [h2, weight('gate', l, [W, F], `model.layers.${l}.mlp.gate_proj.MatMul.weight`)], `${m}/gate_proj/MatMul`);
    const up = n('MatMul', [h2, weight('up', l, [W, F], `model.layers.${l}.mlp.up_proj.MatMul.weight`)], `${m}/up_proj/MatMul`);
    const act = n('Mul', [n('Mul', [gate, n('Sigmoid', [gate], `${m}/act_fn/Sigmoid`)], `${m}/act_fn/Mul`), up], `${m}/Mul`);
    x = n('Add', [x, n('MatMul', [act, weight('down', l, [F, W], `model.layers.${l}.mlp.down_proj.MatMul.weight`)], `${m}/down_proj/MatMul`)], `${p}/Add_1`);
    const out = `hidden_states.${l}`;
    const last = l === L - 1 ? rmsNorm(x, weight('finalNorm', 0, [W], 'model.norm.weight'), '/model/norm') : x;
    nodes.push(node('Identity', [last], [out], `/output/${l}`));
    outputs.push(out);
  }
  closeSync(fd);

  const model = onnx.ModelProto.create({
    irVersion: 8,
    opsetImport: [
      { domain: '', version: 17 },
      { domain: 'com.microsoft', version: 1 },
    ],
    producerName: 'prefrank',
    graph: {
      name: `llama ${L}x${W} ${options.dtype} ${options.attention}`,
      node: nodes,
      initializer: inits,
      input: [valueInfo('input_ids', DataType.INT64, ['batch', 'seq']), valueInfo('attention_mask', DataType.INT64, ['batch', 'seq']), valueInfo('position_ids', DataType.INT64, ['batch', 'seq'])],
      output: outputs.map((o) => valueInfo(o, T, ['batch', 'seq', W])),
    },
  });
  writeFileSync(join(outDir, 'model.onnx'), onnx.ModelProto.encode(model).finish());
  writeFileSync(
    join(outDir, 'config.json'),
    JSON.stringify(
      {
        exporter: 'prefrank bench/llamaModel.ts',
        model_type: 'llama',
        dtype: options.dtype,
        attention: options.attention,
        vocab_size: V,
        hidden_size: W,
        intermediate_size: F,
        num_hidden_layers: L,
        num_attention_heads: H,
        num_key_value_heads: KV,
        head_dim: d,
        rope_theta: shape.ropeTheta,
        rms_norm_eps: shape.eps,
      },
      null,
      2,
    ) + '\n',
  );
  return { weightBytes: offset, tensors };
}
