/**
 * Decoder LLMs as users export them (examples/export/export_hf.py): a Llama-shaped model with
 * grouped-query attention, external data, float32 and float16 weights; prefrank's features must
 * equal the PyTorch model's (reference.json, written by the tool's --check) within 1e-2 relative.
 */
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { Embedder } from '../../src/runtime/Embedder.js';
import { projectRoot } from '../../src/runtime/paths.js';
import { TextTokenizer } from '../../src/runtime/TextTokenizer.js';
import { hhRows, runCli, tempDir } from '../helpers/badInputs.js';

const dir = (dtype: string) => join(projectRoot(), 'test', 'fixtures', 'llama-export', dtype);

interface Reference {
  layers: number;
  width: number;
  texts: { text: string; ids: number[]; features: number[][] }[];
}

for (const dtype of ['float32', 'float16']) {
  describe(`llama export, ${dtype}, external data`, () => {
    const ref = JSON.parse(readFileSync(join(dir(dtype), 'reference.json'), 'utf8')) as Reference;

    it('tokenizes as the tool did and gives the PyTorch features within 1e-2, with either padding side', async () => {
      const tok = TextTokenizer.load({ path: join(dir(dtype), 'tokenizer.json') });
      for (const t of ref.texts) assert.deepEqual(Array.from(tok.encode(t.text, 1000).ids), t.ids, t.text);
      for (const paddingSide of ['right', 'left'] as const) {
        await using e = await Embedder.open({ model: join(dir(dtype), 'model.onnx'), device: 'cpu', cacheMiB: 0, paddingSide });
        assert.deepEqual([e.tapKind, e.layers.length, e.width], ['hidden-states', ref.layers, ref.width]);
        // One batch, texts of different lengths: padding must not change a text's features.
        const got = await e.embedTexts(ref.texts.map((t) => t.text));
        ref.texts.forEach((t, i) => {
          for (let l = 0; l < ref.layers; l++) {
            const want = t.features[l];
            const have = got[i].features.subarray(l * ref.width, (l + 1) * ref.width);
            const scale = Math.max(...want.map(Math.abs));
            const diff = Math.max(...want.map((w, k) => Math.abs(w - have[k])));
            assert.ok(diff / scale < 1e-2, `${paddingSide} padding, "${t.text}", layer ${l}: ${diff / scale} relative`);
          }
        });
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
