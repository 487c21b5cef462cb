/**
 * bench/llamaModel.ts, the Llama-shaped graph the > 2 GB check and the decoder benchmarks build:
 * given the committed tiny export's own weights, both attention forms (plain and onnxruntime's fused
 * MultiHeadAttention), in float32 and float16, give prefrank features equal to the PyTorch
 * reference of that export (reference.json) within 1e-2 relative, with either padding side; and
 * the export's tokenizer and chat template open beside it unchanged.
 */
import assert from 'node:assert/strict';
import { copyFileSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { buildLlamaModel, randomLlamaWeights, TINY_LLAMA, toHalfBits, type WeightRole, type WeightSource } from '../../bench/llamaModel.js';
import { Embedder } from '../../src/runtime/model/Embedder.js';
import { onnx, type TensorProto } from '../../src/runtime/model/onnxBuild.js';
import { projectRoot } from '../../src/runtime/paths.js';
import { tempDir } from '../helpers/badInputs.js';
import { assertNearReference, readReference } from '../helpers/reference.js';

const fixture = join(projectRoot(), 'test', 'fixtures', 'llama-export', 'float32');

/** The weights of a torch.onnx export by role, found through the nodes that read them. */
function weightsFromExport(dir: string): WeightSource {
  const m = onnx.ModelProto.decode(readFileSync(join(dir, 'model.onnx')));
  const data = readFileSync(join(dir, 'model.onnx.data'));
  const inits = new Map(m.graph!.initializer!.map((t) => [t.name!, t as TensorProto]));
  const identity = new Map(m.graph!.node!.filter((n) => n.opType === 'Identity').map((n) => [n.output![0], n.input![0]]));
  const byNode = new Map(m.graph!.node!.map((n) => [n.name!, n]));
  const values = (name: string): Float32Array => {
    while (identity.has(name)) name = identity.get(name)!;
    const t = inits.get(name);
    assert.ok(t, `no initializer ${name}`);
    const ext = Object.fromEntries(t.externalData!.map((e) => [e.key, e.value]));
    const off = Number(ext.offset);
    return new Float32Array(data.buffer.slice(data.byteOffset + off, data.byteOffset + off + Number(ext.length)));
  };
  const read = (nodeName: string, input: number) => values(byNode.get(nodeName)!.input![input]);
  const proj: Partial<Record<WeightRole, string>> = { q: 'self_attn/q_proj', k: 'self_attn/k_proj', v: 'self_attn/v_proj', o: 'self_attn/o_proj', gate: 'mlp/gate_proj', up: 'mlp/up_proj', down: 'mlp/down_proj' };
  return (role, layer) => {
    if (role === 'embed') return read('/model/embed_tokens/Gather', 0);
    if (role === 'inputNorm') return read(`/model/layers.${layer}/input_layernorm/Mul_1`, 0);
    if (role === 'postNorm') return read(`/model/layers.${layer}/post_attention_layernorm/Mul_1`, 0);
    if (role === 'finalNorm') return read('/model/norm/Mul_1', 0);
    return read(`/model/layers.${layer}/${proj[role]}/MatMul`, 1);
  };
}

describe('bench/llamaModel.ts against the tiny export and its PyTorch reference', () => {
  const ref = readReference(fixture);
  for (const dtype of ['float32', 'float16'] as const)
    for (const attention of ['plain', 'fused'] as const)
      it(`${dtype}, ${attention} attention: the PyTorch features within 1e-2, either padding side`, async () => {
        const out = await tempDir(`llama-${dtype}-${attention}`);
        buildLlamaModel(out, TINY_LLAMA, { dtype, attention, weights: weightsFromExport(fixture) });
        for (const f of ['tokenizer.json', 'tokenizer_config.json']) copyFileSync(join(fixture, f), join(out, f));
        for (const paddingSide of ['right', 'left'] as const) {
          await using e = await Embedder.open({ model: join(out, 'model.onnx'), device: 'cpu', cacheMiB: 0, paddingSide });
          assert.deepEqual([e.tapKind, e.layers.length, e.width], ['hidden-states', ref.layers, ref.width]);
          assertNearReference(ref, await e.embedTexts(ref.texts.map((t) => t.text)), dtype === 'float32' ? 1e-4 : 1e-2, `${paddingSide} padding`);
        }
      });
});

it('random weights: seeded and shaped; float16 bits round to nearest even', () => {
  const a = randomLlamaWeights(3)('q', 0, [4, 8]);
  const b = randomLlamaWeights(3)('q', 0, [4, 8]);
  assert.deepEqual(a, b);
  assert.equal(a.length, 32);
  assert.ok(Math.max(...a.map(Math.abs)) <= Math.sqrt(3 / 4));
  assert.deepEqual(randomLlamaWeights(3)('postNorm', 0, [3]), Float32Array.of(1, 1, 1));
  assert.deepEqual([1, -2, 65504, 1e-8, 0.1, 1 + 2 ** -11, 1 + 3 * 2 ** -11, 70000].map(toHalfBits), [0x3c00, 0xc000, 0x7bff, 0, 0x2e66, 0x3c00, 0x3c02, 0x7c00]);
});
