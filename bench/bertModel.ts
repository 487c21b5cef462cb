/**
 * A BERT-style encoder with random weights, written with onnx-proto, for benches: the shape of
 * all-MiniLM-L6 (6 layers, width 384, 12 heads, FFN 1536) by default, with node names as torch.onnx
 * gives a Hugging Face BertModel (`/encoder/layer.N/...`), so the layer tap finds its layers, and
 * the output `last_hidden_state`, so transformers.js' feature-extraction runs it too.
 */
import { DataType, encodeModel, int64s, node, tensor, valueInfo, type NodeProto, type TensorProto } from '../src/runtime/model/onnxBuild.js';
import { weights } from '../test/helpers/random.js';

export interface BertShape {
  readonly layers: number;
  readonly width: number;
  readonly heads: number;
  readonly ffn: number;
  readonly vocab: number;
  readonly maxPositions: number;
}

export const MINI_LM: BertShape = { layers: 6, width: 384, heads: 12, ffn: 1536, vocab: 1000, maxPositions: 128 };


/** The model bytes and a transformers-style config.json for it. */
export function buildBertModel(shape: BertShape = MINI_LM): { bytes: Uint8Array; config: Record<string, unknown> } {
  const { layers, width: w, heads: h, ffn, vocab, maxPositions } = shape;
  const d = w / h;
  const nodes: NodeProto[] = [];
  const inits: TensorProto[] = [];
  let seed = 1;
  const weight = (name: string, dims: number[], scale = 0.05) => {
    inits.push(tensor(name, dims, weights(dims.reduce((a, b) => a * b, 1), seed++, scale)));
    return name;
  };
  const fill = (name: string, dims: number[], v: number) => {
    inits.push(tensor(name, dims, new Float32Array(dims.reduce((a, b) => a * b, 1)).fill(v)));
    return name;
  };
  const n = (op: string, ins: string[], name: string, attrs = {}, out = `${name}_output_0`) => {
    nodes.push(node(op, ins, [out], name, attrs));
    return out;
  };
  const layerNorm = (x: string, prefix: string, paramPrefix: string, out?: string) =>
    n('LayerNormalization', [x, fill(`${paramPrefix}.weight`, [w], 1), fill(`${paramPrefix}.bias`, [w], 0)], `${prefix}/LayerNormalization`, { axis: -1, epsilon: 1e-12 }, out);
  const linear = (x: string, prefix: string, paramPrefix: string, inDim: number, outDim: number) =>
    n('Add', [n('MatMul', [x, weight(`${paramPrefix}.weight`, [inDim, outDim])], `${prefix}/MatMul`), fill(`${paramPrefix}.bias`, [outDim], 0.01)], `${prefix}/Add`);

  inits.push(int64s('/const/one_i', [1]), int64s('/const/heads_shape', [0, 0, h, d]), int64s('/const/width_shape', [0, 0, w]), int64s('/const/axes_12', [1, 2]));
  inits.push(tensor('/const/zero_s', [], BigInt64Array.of(0n)), tensor('/const/one_s', [], BigInt64Array.of(1n)));
  inits.push(tensor('/const/one_f', [], Float32Array.of(1)), tensor('/const/neg_f', [], Float32Array.of(-10000)), tensor('/const/scale', [], Float32Array.of(1 / Math.sqrt(d))));
  inits.push(tensor('/const/half', [], Float32Array.of(0.5)), tensor('/const/sqrt2', [], Float32Array.of(Math.SQRT2)));

  // Embeddings: word + position (0..T-1) + token type, then LayerNorm.
  const words = n('Gather', [weight('embeddings.word_embeddings.weight', [vocab, w], 0.5), 'input_ids'], '/embeddings/word_embeddings/Gather', { axis: 0 });
  const idsShape = n('Shape', ['input_ids'], '/embeddings/Shape');
  const T = n('Gather', [idsShape, '/const/one_s'], '/embeddings/Gather', { axis: 0 });
  const range = n('Range', ['/const/zero_s', T, '/const/one_s'], '/embeddings/Range');
  const pos = n('Gather', [weight('embeddings.position_embeddings.weight', [maxPositions, w], 0.5), range], '/embeddings/position_embeddings/Gather', { axis: 0 });
  const types = n('Gather', [weight('embeddings.token_type_embeddings.weight', [2, w], 0.5), 'token_type_ids'], '/embeddings/token_type_embeddings/Gather', { axis: 0 });
  let x = layerNorm(n('Add', [n('Add', [words, types], '/embeddings/Add'), pos], '/embeddings/Add_1'), '/embeddings/LayerNorm', 'embeddings.LayerNorm');

  // Additive mask [b, 1, 1, t]: 0 for real tokens, -10000 for padding.
  const maskF = n('Cast', ['attention_mask'], '/Cast', { to: DataType.FLOAT });
  const bias = n('Unsqueeze', [n('Mul', [n('Sub', ['/const/one_f', maskF], '/Sub'), '/const/neg_f'], '/Mul'), '/const/axes_12'], '/Unsqueeze');

  for (let l = 0; l < layers; l++) {
    const p = `/encoder/layer.${l}`;
    const q = `encoder.layer.${l}`;
    const split = (t: string, name: string, perm: number[]) => n('Transpose', [n('Reshape', [t, '/const/heads_shape'], `${p}/attention/self/${name}/Reshape`)], `${p}/attention/self/${name}/Transpose`, { perm });
    const Q = split(linear(x, `${p}/attention/self/query`, `${q}.attention.self.query`, w, w), 'query', [0, 2, 1, 3]);
    const K = split(linear(x, `${p}/attention/self/key`, `${q}.attention.self.key`, w, w), 'key', [0, 2, 3, 1]);
    const V = split(linear(x, `${p}/attention/self/value`, `${q}.attention.self.value`, w, w), 'value', [0, 2, 1, 3]);
    const scores = n('Add', [n('Mul', [n('MatMul', [Q, K], `${p}/attention/self/MatMul`), '/const/scale'], `${p}/attention/self/Mul`), bias], `${p}/attention/self/Add`);
    const probs = n('Softmax', [scores], `${p}/attention/self/Softmax`, { axis: -1 });
    const ctx = n('Reshape', [n('Transpose', [n('MatMul', [probs, V], `${p}/attention/self/MatMul_1`)], `${p}/attention/self/Transpose`, { perm: [0, 2, 1, 3] }), '/const/width_shape'], `${p}/attention/self/Reshape`);
    const attnOut = linear(ctx, `${p}/attention/output/dense`, `${q}.attention.output.dense`, w, w);
    const a = layerNorm(n('Add', [attnOut, x], `${p}/attention/output/Add`), `${p}/attention/output/LayerNorm`, `${q}.attention.output.LayerNorm`);
    const inter = linear(a, `${p}/intermediate/dense`, `${q}.intermediate.dense`, w, ffn);
    // GELU (erf form), as the torch exporter writes it before opset 20
    const gelu = n('Mul', [n('Mul', [inter, n('Add', [n('Erf', [n('Div', [inter, '/const/sqrt2'], `${p}/intermediate/intermediate_act_fn/Div`)], `${p}/intermediate/intermediate_act_fn/Erf`), '/const/one_f'], `${p}/intermediate/intermediate_act_fn/Add`)], `${p}/intermediate/intermediate_act_fn/Mul`), '/const/half'], `${p}/intermediate/intermediate_act_fn/Mul_1`);
    const out = linear(gelu, `${p}/output/dense`, `${q}.output.dense`, ffn, w);
    x = layerNorm(n('Add', [out, a], `${p}/output/Add`), `${p}/output/LayerNorm`, `${q}.output.LayerNorm`, l === layers - 1 ? 'last_hidden_state' : undefined);
  }

  const bytes = encodeModel({
    name: 'bert-random',
    opset: 17,
    nodes,
    initializers: inits,
    inputs: ['input_ids', 'attention_mask', 'token_type_ids'].map((name) => valueInfo(name, DataType.INT64, ['batch_size', 'sequence_length'])),
    outputs: [valueInfo('last_hidden_state', DataType.FLOAT, ['batch_size', 'sequence_length', w])],
  });
  const config = {
    model_type: 'bert',
    architectures: ['BertModel'],
    hidden_size: w,
    num_hidden_layers: layers,
    num_attention_heads: h,
    intermediate_size: ffn,
    vocab_size: vocab,
    max_position_embeddings: maxPositions,
    type_vocab_size: 2,
  };
  return { bytes, config };
}
