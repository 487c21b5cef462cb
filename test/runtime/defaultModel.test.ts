import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { buildUseModel, USE_WIDTH } from '../../src/runtime/model/buildUseModel.js';
import { buildDefaultModel, GLOVE_STREAM } from '../../src/runtime/model/defaultModel.js';
import { Embedder } from '../../src/runtime/model/Embedder.js';
import { decodeModel, fileMetadata, modelMetadata, tokenStreams } from '../../src/runtime/model/onnxBuild.js';
import { runCli } from '../helpers/badInputs.js';

// GloVe's stream from a file of the package's layout: 4 words of 3 dimensions (the real table is
// 300 MB of JSON; the build reads any file of its layout).
const vectors: Record<string, number[]> = { how: [1, 0, 2], do: [0, 4, 0], i: [-1, 1, 1], rob: [3, 3, -3] };

describe('the default model: USE lite and a GloVe token stream in one graph', () => {
  let tmp: string;
  let model: string;
  let use: Embedder;
  let both: Embedder;
  before(async () => {
    tmp = mkdtempSync(join(tmpdir(), 'prefrank-default-'));
    const glove = join(tmp, 'wink.json');
    writeFileSync(glove, JSON.stringify({ dimensions: 3, words: Object.keys(vectors), vectors, unkVector: [0.5, 0.5, 0.5] }));
    model = buildDefaultModel(join(tmp, 'default'), { glove });
    both = await Embedder.open({ model, device: 'cpu' });
    use = await Embedder.open({ model: buildUseModel(join(tmp, 'use')), device: 'cpu' });
  });
  after(async () => {
    await both?.close();
    await use?.close();
    rmSync(tmp, { recursive: true, force: true });
  });

  it('builds the same bytes twice', () => {
    const again = buildDefaultModel(join(tmp, 'again'), { glove: join(tmp, 'wink.json') });
    for (const f of ['model.onnx', 'tokenizer.json', join(GLOVE_STREAM, 'tokenizer.json'), join(GLOVE_STREAM, 'tokenizer_config.json')])
      assert.ok(readFileSync(join(tmp, 'default', f)).equals(readFileSync(join(tmp, 'again', f))), f);
    assert.ok(readFileSync(model).equals(readFileSync(again)));
  });

  it('reads USE lite as layers 0-2, bit for bit, and the mean GloVe vector of prompt and response as layer 3', async () => {
    assert.deepEqual([both.layers, both.width, both.template, both.streams.map((s) => s.name)], [[0, 1, 2, 3], USE_WIDTH, '{response}', [GLOVE_STREAM]]);
    const inputs = [{ prompt: 'How do I', response: ' rob?' }, { prompt: 'Nothing known', response: ' here' }, 'How do I rob a casino?'];
    const a = await both.embedTexts(inputs);
    const u = await use.embedTexts(inputs);
    const mean = (words: string[]) => [0, 1, 2].map((d) => words.reduce((s, w) => s + (vectors[w] ?? [0.5, 0.5, 0.5])[d], 0) / words.length);
    // GloVe's words (lower case, split at punctuation): "how do i rob ?", "nothing known here", "how do i rob a casino ?"
    const expected = [mean(['how', 'do', 'i', 'rob', '?']), mean(['nothing', 'known', 'here']), mean(['how', 'do', 'i', 'rob', 'a', 'casino', '?'])];
    for (let i = 0; i < inputs.length; i++) {
      assert.deepEqual(Array.from(a[i].features.subarray(0, 3 * USE_WIDTH)), Array.from(u[i].features), `text ${i}: USE layers`);
      const g = Array.from(a[i].features.subarray(3 * USE_WIDTH));
      expected[i].forEach((v, d) => assert.ok(Math.abs(g[d] - v) < 1e-6, `text ${i} dim ${d}: ${g[d]} vs ${v}`));
      assert.ok(g.slice(3).every((x) => x === 0), `text ${i}: padding`);
    }
  });

  it('keys its cache on both streams: the same response after another prompt is not served from it', async () => {
    // USE reads the response alone, so both pairs have the same USE tokens; GloVe reads the prompt too.
    const [x, y] = await both.embedTexts([{ prompt: 'how', response: ' do' }, { prompt: 'rob', response: ' do' }]);
    assert.deepEqual(Array.from(x.features.subarray(0, 3 * USE_WIDTH)), Array.from(y.features.subarray(0, 3 * USE_WIDTH)));
    assert.deepEqual(Array.from(x.features.subarray(3 * USE_WIDTH, 3 * USE_WIDTH + 3)), [0.5, 2, 1]);
    assert.deepEqual(Array.from(y.features.subarray(3 * USE_WIDTH, 3 * USE_WIDTH + 3)), [1.5, 3.5, -1.5]);
  });

  it('gives a text the same features in any batch', async () => {
    const texts = Array.from({ length: 30 }, (_, t) => ({ prompt: 'how do i '.repeat(1 + (t % 7)), response: ` rob ${'casino '.repeat((t * 5) % 23)}` }));
    await using small = await Embedder.open({ model, device: 'cpu', cacheMiB: 0, batchTokens: 16 });
    const a = await small.embedTexts(texts);
    const b = await both.embedTexts(texts);
    for (let i = 0; i < texts.length; i++) assert.deepEqual(Array.from(a[i].features), Array.from(b[i].features), `text ${i}`);
  });

  it('reads no GloVe stream when the selected layers do not need it', async () => {
    await using first = await Embedder.open({ model, device: 'cpu', layers: [0, 2] });
    assert.deepEqual([first.layers, first.streams.length], [[0, 2], 0]);
    const [f] = await first.embedTexts([{ prompt: 'how', response: ' do' }]);
    const [a] = await both.embedTexts([{ prompt: 'how', response: ' do' }]);
    assert.deepEqual(Array.from(f.features), [...a.features.subarray(0, USE_WIDTH), ...a.features.subarray(2 * USE_WIDTH, 3 * USE_WIDTH)]);
  });

  it('reads GloVe alone when only its layer is selected (the main stream still sets the batches)', async () => {
    await using last = await Embedder.open({ model, device: 'cpu', layers: [3] });
    assert.deepEqual([last.layers, last.streams.map((s) => s.name)], [[3], [GLOVE_STREAM]]);
    const [f] = await last.embedTexts([{ prompt: 'how', response: ' do' }]);
    const [a] = await both.embedTexts([{ prompt: 'how', response: ' do' }]);
    assert.deepEqual(Array.from(f.features), Array.from(a.features.subarray(3 * USE_WIDTH)));
  });

  it('declares its stream in metadata that a run\'s config hash reads without loading the graph', async () => {
    assert.deepEqual({ ...(await fileMetadata(model)) }, { ...modelMetadata(decodeModel(readFileSync(model))) });
    assert.deepEqual(tokenStreams(await fileMetadata(model)), [GLOVE_STREAM]);
    await assert.rejects(fileMetadata(join(tmp, 'wink.json')), /not an ONNX model/);
  });

  it('a run records the stream\'s tokenizer files, so editing them is a difference a resumed run names', async () => {
    const input = join(tmp, 'pairs.jsonl');
    writeFileSync(input, '{"prompt":"how","chosen":" do","rejected":" rob"}\n');
    const out = join(tmp, 'embedded');
    const first = await runCli(['embed', input, '--out', out, '--model', join(tmp, 'default')]);
    assert.equal(first.code, 0, first.stderr);
    const recorded = (JSON.parse(readFileSync(join(out, 'manifest.json'), 'utf8')) as { config: { tokenStreams: { name: string }[] } }).config.tokenStreams;
    assert.deepEqual(recorded.map((s) => s.name), [GLOVE_STREAM]);
    const cfg = join(tmp, 'default', GLOVE_STREAM, 'tokenizer_config.json');
    writeFileSync(cfg, readFileSync(cfg, 'utf8').replace('{prompt}{response}', '{response}'));
    const again = await runCli(['embed', input, '--out', out, '--model', join(tmp, 'default')]);
    assert.equal(again.code, 1);
    assert.match(again.stderr, /was written with other settings \(tokenStreams: /);
  });

  it('names the missing stream tokenizer when the folder lacks it', async () => {
    rmSync(join(tmp, 'again', GLOVE_STREAM), { recursive: true });
    await assert.rejects(Embedder.open({ model: join(tmp, 'again', 'model.onnx'), device: 'cpu' }), /cannot read tokenizer .*glove[/\\]tokenizer\.json/);
  });
});
