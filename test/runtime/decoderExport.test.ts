/**
 * Decoder LLMs as users export them (examples/export/export_hf.py): a Llama-shaped model with
 * grouped-query attention, external data, float32 and float16 weights; prefrank's features must
 * equal the PyTorch model's (reference.json, written by the tool's --check) within 1e-2 relative.
 */
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import ort from 'onnxruntime-node';
import { Embedder } from '../../src/runtime/model/Embedder.js';
import { openOrtSession } from '../../src/runtime/model/openOrtSession.js';
import { projectRoot } from '../../src/runtime/paths.js';
import { TextTokenizer } from '../../src/runtime/model/TextTokenizer.js';
import { hhRows, runCli, tempDir } from '../helpers/badInputs.js';
import { assertNearReference, readReference } from '../helpers/reference.js';

const dir = (dtype: string) => join(projectRoot(), 'test', 'fixtures', 'llama-export', dtype);

for (const dtype of ['float32', 'float16']) {
  describe(`llama export, ${dtype}, external data`, () => {
    const ref = readReference(dir(dtype));

    it('tokenizes as the tool did and gives the PyTorch features within 1e-2, with either padding side', async () => {
      const tok = TextTokenizer.load({ path: join(dir(dtype), 'tokenizer.json') });
      for (const t of ref.texts) assert.deepEqual(Array.from(tok.encode(t.text, 1000).ids), t.ids, t.text);
      for (const paddingSide of ['right', 'left'] as const) {
        await using e = await Embedder.open({ model: join(dir(dtype), 'model.onnx'), device: 'cpu', cacheMiB: 0, paddingSide });
        assert.deepEqual([e.tapKind, e.layers.length, e.width], ['hidden-states', ref.layers, ref.width]);
        // One batch, texts of different lengths: padding must not change a text's features.
        assertNearReference(ref, await e.embedTexts(ref.texts.map((t) => t.text)), 1e-2, `${paddingSide} padding`);
      }
    });
  });
}

it('a float16 decoder export re-ranks pairs end to end: embed, probe train on the shards, rerank with its chat template', async () => {
  const work = await tempDir('decoder-e2e');
  const input = join(work, 'hh.jsonl');
  writeFileSync(input, hhRows().slice(0, 40).map((r) => JSON.stringify(r)).join('\n') + '\n');
  const model = ['--model', dir('float16'), '--device', 'cpu', '--chat-template'];
  const embed = await runCli(['embed', input, '--out', join(work, 'feats'), ...model]);
  assert.equal(embed.code, 0, embed.stderr);
  const train = await runCli(['probe', 'train', join(work, 'feats'), '--out', join(work, 'probe'), '--seed', '1']);
  assert.equal(train.code, 0, train.stderr);
  const rerank = await runCli(['rerank', input, '--out', join(work, 'out'), '--probe', join(work, 'probe'), ...model]);
  assert.equal(rerank.code, 0, rerank.stderr);
  const summary = JSON.parse(rerank.stdout.trim().split('\n').at(-1)!);
  assert.equal(summary.pairs, 40);
  const manifest = JSON.parse(readFileSync(join(work, 'out', 'manifest.json'), 'utf8'));
  assert.equal(manifest.config.template, 'chat-template');
  assert.equal(manifest.shards[0].device, 'cpu');
});

it("the export's decode step (key/value cache) decodes greedily as PyTorch does, in onnxruntime-node", async () => {
  // PyTorch's greedy tokens for these ids, from the tool's check (scripts/exportCheck.sh's log).
  const pytorch = [982, 514, 121, 661, 122, 148];
  const cfg = JSON.parse(readFileSync(join(dir('float32'), 'config.json'), 'utf8')) as { num_key_value_heads: number; hidden_size: number; num_attention_heads: number };
  const head = cfg.hidden_size / cfg.num_attention_heads;
  const { session } = await openOrtSession(join(dir('float32'), 'decode_step.onnx'), { device: 'cpu', log: () => {}, externalDataFolder: dir('float32') });
  try {
    const pastNames = session.inputNames.filter((n) => n.startsWith('past.'));
    let past: Record<string, ort.Tensor> = Object.fromEntries(pastNames.map((n) => [n, new ort.Tensor('float32', new Float32Array(0), [1, cfg.num_key_value_heads, 0, head])]));
    let ids = [5, 17, 42, 7];
    let total = 0;
    const got: number[] = [];
    for (let k = 0; k < pytorch.length; k++) {
      const res = await session.run({
        ...past,
        input_ids: new ort.Tensor('int64', BigInt64Array.from(ids, BigInt), [1, ids.length]),
        attention_mask: new ort.Tensor('int64', new BigInt64Array(total + ids.length).fill(1n), [1, total + ids.length]),
        position_ids: new ort.Tensor('int64', BigInt64Array.from(ids, (_, i) => BigInt(total + i)), [1, ids.length]),
      });
      const logits = res.logits.data as Float32Array;
      const next = logits.indexOf(Math.max(...logits));
      got.push(next);
      past = Object.fromEntries(pastNames.map((n) => [n, res[n.replace('past.', 'present.')]]));
      total += ids.length;
      ids = [next];
    }
    assert.deepEqual(got, pytorch);
  } finally {
    await session.release();
  }
});
