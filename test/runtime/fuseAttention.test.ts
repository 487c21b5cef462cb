/**
 * The attention rewrite (src/runtime/model/fuseAttention.ts): on a real torch.onnx BERT export and
 * on the benches' BERT, every attention becomes one MultiHeadAttention and prefrank's features stay
 * the same (padded batches included); what is not the pattern is left alone; the flag is part of a
 * run's settings.
 */
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { it } from 'node:test';
import { buildBertModel } from '../../bench/bertModel.js';
import { buildLlamaModel, randomLlamaWeights, TINY_LLAMA } from '../../bench/llamaModel.js';
import { Embedder } from '../../src/runtime/model/Embedder.js';
import { fuseAttention } from '../../src/runtime/model/fuseAttention.js';
import { applyLayerTap } from '../../src/runtime/model/layerTap.js';
import { decodeModel } from '../../src/runtime/model/onnxBuild.js';
import { sharedPath } from '../../src/runtime/paths.js';
import { hhRows, runCli, tempDir } from '../helpers/badInputs.js';

const bertTiny = sharedPath('fixtures', 'bert-tiny');
const texts = hhRows().slice(0, 6).flatMap((r) => [r.chosen.slice(-300), r.rejected.slice(-120)]);

const ops = (bytes: Uint8Array, fuse: boolean) => {
  const plan = applyLayerTap(decodeModel(bytes), { layers: null }, 'model');
  const r = fuse ? fuseAttention(plan.model) : null;
  const count = (op: string) => plan.model.graph!.node!.filter((n) => n.opType === op).length;
  return { r, mha: count('MultiHeadAttention'), softmax: count('Softmax') };
};

async function features(model: string, fuse: boolean, tokenizer?: string) {
  await using e = await Embedder.open({ model, tokenizer, device: 'cpu', cacheMiB: 0, fuseAttention: fuse, log: () => {} });
  return (await e.embedTexts(texts)).map((x) => x.features);
}

function maxDiff(a: Float32Array[], b: Float32Array[]): number {
  let m = 0;
  a.forEach((x, i) => x.forEach((v, k) => (m = Math.max(m, Math.abs(v - b[i][k])))));
  return m;
}

it('a torch.onnx BERT export: its 3 attentions become MultiHeadAttention, no Softmax is left, and the features of a padded batch do not change', async () => {
  const bytes = readFileSync(join(bertTiny, 'model.onnx'));
  assert.deepEqual(ops(bytes, false), { r: null, mha: 0, softmax: 3 });
  assert.deepEqual(ops(bytes, true), { r: { fused: 3, skipped: 0 }, mha: 3, softmax: 0 });
  const model = join(bertTiny, 'model.onnx');
  const [plain, fused] = [await features(model, false), await features(model, true)];
  assert.ok(maxDiff(plain, fused) < 1e-5, `max diff ${maxDiff(plain, fused)}`);
  assert.ok(plain.some((f) => f.some((v) => v !== 0)));
});

it("the benches' BERT (other Transpose forms of the keys, Div by sqrt(d)): fused, the same features", async () => {
  const dir = await tempDir('fuse-bench-bert');
  const { bytes } = buildBertModel({ layers: 2, width: 64, heads: 4, ffn: 128, vocab: 1000, maxPositions: 512 });
  writeFileSync(join(dir, 'model.onnx'), bytes);
  assert.deepEqual(ops(bytes, true), { r: { fused: 2, skipped: 0 }, mha: 2, softmax: 0 });
  const tok = join(bertTiny, 'tokenizer.json');
  const [plain, fused] = [await features(join(dir, 'model.onnx'), false, tok), await features(join(dir, 'model.onnx'), true, tok)];
  assert.ok(maxDiff(plain, fused) < 1e-5, `max diff ${maxDiff(plain, fused)}`);
});

it('a graph that is not the pattern (rotary heads of a decoder) is left exactly as it is', async () => {
  const dir = await tempDir('fuse-llama');
  buildLlamaModel(dir, TINY_LLAMA, { dtype: 'float32', attention: 'plain', weights: randomLlamaWeights(2) });
  const bytes = readFileSync(join(dir, 'model.onnx'));
  const before = applyLayerTap(decodeModel(bytes), { layers: null }, 'model');
  const after = applyLayerTap(decodeModel(bytes), { layers: null }, 'model');
  assert.deepEqual(fuseAttention(after.model), { fused: 0, skipped: 2 });
  assert.deepEqual(after.model.graph!.node!.map((n) => n.name), before.model.graph!.node!.map((n) => n.name));
});

it('rerank --fuse-attention: recorded in the run settings (a folder written without it is refused), the same pairs out', async () => {
  const work = await tempDir('fuse-cli');
  const input = join(work, 'hh.jsonl');
  writeFileSync(input, hhRows().slice(0, 12).map((r) => JSON.stringify(r)).join('\n') + '\n');
  const flags = ['--model', join(bertTiny, 'model.onnx'), '--device', 'cpu'];
  const a = await runCli(['embed', input, '--out', join(work, 'a'), ...flags]);
  assert.equal(a.code, 0, a.stderr);
  const b = await runCli(['embed', input, '--out', join(work, 'b'), ...flags, '--fuse-attention', '--log-level', 'info']);
  assert.equal(b.code, 0, b.stderr);
  assert.match(b.stderr, /fuse attention: 3 attention\(s\) now run as MultiHeadAttention/);
  const run = (d: string) => JSON.parse(readFileSync(join(work, d, 'run.json'), 'utf8')).settings;
  assert.equal(run('b').fuseAttention, true);
  assert.equal(run('a').fuseAttention, undefined);
  const again = await runCli(['embed', input, '--out', join(work, 'a'), ...flags, '--fuse-attention']);
  assert.equal(again.code, 1);
  assert.match(again.stderr, /other settings \(fuseAttention: undefined -> true/);
});
