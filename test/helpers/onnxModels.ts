/**
 * Tiny ONNX models generated in TypeScript for the shapes the shared fixtures do not cover: a model
 * that already outputs hidden states, a decoder with past_key_values inputs, and a model with no
 * recognisable layers. Weights come from a seeded generator; each model comes with a reference in
 * plain JS so tests can check values, not just shapes.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DataType, encodeModel, int64s, node, tensor, valueInfo } from '../../src/runtime/model/onnxBuild.js';
import { weights } from './random.js';

export { weights };

export const VOCAB = 1000;


function matVec(x: Float32Array, w: Float32Array, width: number): Float32Array {
  // x [width] @ w [width, width]
  const y = new Float32Array(width);
  for (let j = 0; j < width; j++) {
    let s = 0;
    for (let i = 0; i < width; i++) s += x[i] * w[i * width + j];
    y[j] = s;
  }
  return y;
}

/**
 * Per-token residual blocks h_{l+1} = h_l + tanh(h_l W_l), outputs `last_hidden_state` and
 * `hidden_states.0..L` (the embedding output and each block, as transformers exports them).
 * Node names are deliberately not layer-like: the hidden-state outputs alone must be used.
 */
export function hiddenStatesModel(width = 8, layers = 2): { bytes: Uint8Array; reference: (ids: readonly number[]) => Float32Array[] } {
  const E = weights(VOCAB * width, 11);
  const Ws = Array.from({ length: layers }, (_, l) => weights(width * width, 100 + l));
  const nodes = [node('Gather', ['E', 'input_ids'], ['h0'], 'embed', { axis: 0 })];
  for (let l = 0; l < layers; l++) {
    nodes.push(node('MatMul', [`h${l}`, `W${l}`], [`m${l}`], `mm${l}`));
    nodes.push(node('Tanh', [`m${l}`], [`t${l}`], `tanh${l}`));
    nodes.push(node('Add', [`h${l}`, `t${l}`], [`h${l + 1}`], `add${l}`));
  }
  for (let l = 0; l <= layers; l++) nodes.push(node('Identity', [`h${l}`], [`hidden_states.${l}`], `out${l}`));
  nodes.push(node('Identity', [`h${layers}`], ['last_hidden_state'], 'outLast'));
  const bytes = encodeModel({
    nodes,
    initializers: [tensor('E', [VOCAB, width], E), ...Ws.map((w, l) => tensor(`W${l}`, [width, width], w))],
    inputs: [valueInfo('input_ids', DataType.INT64, ['batch', 'seq']), valueInfo('attention_mask', DataType.INT64, ['batch', 'seq'])],
    outputs: [
      valueInfo('last_hidden_state', DataType.FLOAT, ['batch', 'seq', width]),
      ...Array.from({ length: layers + 1 }, (_, l) => valueInfo(`hidden_states.${l}`, DataType.FLOAT, ['batch', 'seq', width])),
    ],
  });
  const reference = (ids: readonly number[]) => {
    const last = ids[ids.length - 1];
    const hs = [E.slice(last * width, (last + 1) * width)];
    for (let l = 0; l < layers; l++) {
      const m = matVec(hs[l], Ws[l], width);
      hs.push(hs[l].map((v, j) => v + Math.tanh(m[j])));
    }
    return hs;
  };
  return { bytes, reference };
}

/**
 * A decoder-shaped model with `past_key_values.N.key/value` inputs ([batch, 2, past, 4]) and
 * `present.N.*` outputs, layers named `/model/layers.N/...`, position_ids, and logits. Layer N:
 * k = reshape(h Wk) concatenated after the past; h' = h + mean_heads,dims(k) + 0.01 * position.
 */
export function pastKeyValuesModel(layers = 2): { bytes: Uint8Array; reference: (ids: readonly number[]) => Float32Array[] } {
  const width = 8;
  const E = weights(VOCAB * width, 21);
  const Wk = Array.from({ length: layers }, (_, l) => weights(width * width, 200 + l));
  const nodes = [
    node('Gather', ['E', 'input_ids'], ['/model/embed_tokens/Gather_output_0'], '/model/embed_tokens/Gather', { axis: 0 }),
    node('Cast', ['position_ids'], ['/model/Cast_output_0'], '/model/Cast', { to: DataType.FLOAT }),
    node('Unsqueeze', ['/model/Cast_output_0', 'axis2'], ['/model/pos_output_0'], '/model/Unsqueeze'),
    node('Mul', ['/model/pos_output_0', 'c001'], ['/model/posScaled_output_0'], '/model/Mul'),
  ];
  let h = '/model/embed_tokens/Gather_output_0';
  const inputs = [valueInfo('input_ids', DataType.INT64, ['batch', 'seq']), valueInfo('attention_mask', DataType.INT64, ['batch', 'total']), valueInfo('position_ids', DataType.INT64, ['batch', 'seq'])];
  const outputs = [valueInfo('logits', DataType.FLOAT, ['batch', 'seq', VOCAB])];
  for (let l = 0; l < layers; l++) {
    const p = `/model/layers.${l}`;
    inputs.push(valueInfo(`past_key_values.${l}.key`, DataType.FLOAT, ['batch', 2, 'past', 4]), valueInfo(`past_key_values.${l}.value`, DataType.FLOAT, ['batch', 2, 'past', 4]));
    outputs.push(valueInfo(`present.${l}.key`, DataType.FLOAT, ['batch', 2, 'total', 4]), valueInfo(`present.${l}.value`, DataType.FLOAT, ['batch', 2, 'total', 4]));
    nodes.push(
      node('MatMul', [h, `Wk${l}`], [`${p}/k_proj/MatMul_output_0`], `${p}/k_proj/MatMul`),
      node('Reshape', [`${p}/k_proj/MatMul_output_0`, 'heads'], [`${p}/Reshape_output_0`], `${p}/Reshape`),
      node('Transpose', [`${p}/Reshape_output_0`], [`${p}/Transpose_output_0`], `${p}/Transpose`, { perm: [0, 2, 1, 3] }),
      node('Concat', [`past_key_values.${l}.key`, `${p}/Transpose_output_0`], [`present.${l}.key`], `${p}/ConcatK`, { axis: 2 }),
      node('Concat', [`past_key_values.${l}.value`, `${p}/Transpose_output_0`], [`present.${l}.value`], `${p}/ConcatV`, { axis: 2 }),
      node('ReduceMean', [`present.${l}.key`], [`${p}/ReduceMean_output_0`], `${p}/ReduceMean`, { axes: [1, 3], keepdims: 0 }),
      node('Unsqueeze', [`${p}/ReduceMean_output_0`, 'axis2'], [`${p}/Unsqueeze_output_0`], `${p}/Unsqueeze`),
      node('Add', [h, `${p}/Unsqueeze_output_0`], [`${p}/Add_output_0`], `${p}/Add`),
      node('Add', [`${p}/Add_output_0`, '/model/posScaled_output_0'], [`${p}/Add_1_output_0`], `${p}/Add_1`),
    );
    h = `${p}/Add_1_output_0`;
  }
  nodes.push(node('MatMul', [h, 'lm_head'], ['logits'], '/lm_head/MatMul'));
  const lmHead = new Float32Array(width * VOCAB);
  for (let v = 0; v < VOCAB; v++) for (let j = 0; j < width; j++) lmHead[j * VOCAB + v] = E[v * width + j];
  const bytes = encodeModel({
    nodes,
    initializers: [
      tensor('E', [VOCAB, width], E),
      tensor('lm_head', [width, VOCAB], lmHead),
      ...Wk.map((w, l) => tensor(`Wk${l}`, [width, width], w)),
      int64s('heads', [0, 0, 2, 4]),
      int64s('axis2', [2]),
      tensor('c001', [], Float32Array.of(0.01)),
    ],
    inputs,
    outputs,
  });
  const reference = (ids: readonly number[]) => {
    const last = ids[ids.length - 1];
    const pos = ids.length - 1;
    let x = E.slice(last * width, (last + 1) * width);
    const out: Float32Array[] = [];
    for (let l = 0; l < layers; l++) {
      const k = matVec(x, Wk[l], width);
      const mean = k.reduce((a, b) => a + b, 0) / width;
      x = x.map((v) => v + mean + 0.01 * pos);
      out.push(x);
    }
    return out;
  };
  return { bytes, reference };
}

/** A model with nothing prefrank can read: unnamed nodes and only logits. */
export function noLayersModel(): Uint8Array {
  return encodeModel({
    nodes: [node('Gather', ['E', 'input_ids'], ['x'], 'n0', { axis: 0 }), node('MatMul', ['x', 'W'], ['logits'], 'n1')],
    initializers: [tensor('E', [VOCAB, 4], weights(VOCAB * 4, 3)), tensor('W', [4, 10], weights(40, 4))],
    inputs: [valueInfo('input_ids', DataType.INT64, ['batch', 'seq'])],
    outputs: [valueInfo('logits', DataType.FLOAT, ['batch', 'seq', 10])],
  });
}

/** Writes model.onnx next to a copy of a fixture's tokenizer, returns the model path. */
export function writeModelDir(dir: string, bytes: Uint8Array, tokenizerJson: string): string {
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'model.onnx'), bytes);
  writeFileSync(join(dir, 'tokenizer.json'), tokenizerJson);
  return join(dir, 'model.onnx');
}
