import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import ort from 'onnxruntime-node';
import { Embedder } from '../../src/runtime/model/Embedder.js';
import { UserError } from '../../src/runtime/errors.js';
import { applyLayerTap } from '../../src/runtime/model/layerTap.js';
import { DataType, decodeModel, encodeModelProto, valueInfo } from '../../src/runtime/model/onnxBuild.js';
import { sharedPath } from '../../src/runtime/paths.js';
import { hiddenStatesModel, noLayersModel, pastKeyValuesModel, writeModelDir } from '../helpers/onnxModels.js';

const fixture = (name: string) => sharedPath('fixtures', name, 'model.onnx');
const tokenizerJson = () => readFileSync(sharedPath('fixtures', 'bert-tiny', 'tokenizer.json'), 'utf8');
const tmp = mkdtempSync(join(tmpdir(), 'prefrank-tap-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

const TEXTS = ['the people said that this was not the first time', 'he was here', 'they had been in the new city for two years'];

function maxAbsDiff(a: Float32Array, b: Float32Array): number {
  assert.equal(a.length, b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

/**
 * Independent reference: the untouched model with the documented layer-end tensors added as
 * outputs, run on one text at a time, last token read in JS.
 */
async function referenceLayers(model: string, tensors: string[], ids: number[], extra: (t: number) => Record<string, ort.Tensor>): Promise<Float32Array[]> {
  const m = decodeModel(readFileSync(model));
  const existing = new Set(m.graph!.output!.map((o) => o.name));
  for (const t of tensors) if (!existing.has(t)) m.graph!.output!.push(valueInfo(t, DataType.FLOAT, null));
  const s = await ort.InferenceSession.create(encodeModelProto(m));
  const T = ids.length;
  const feeds: Record<string, ort.Tensor> = {
    input_ids: new ort.Tensor('int64', BigInt64Array.from(ids.map(BigInt)), [1, T]),
    attention_mask: new ort.Tensor('int64', new BigInt64Array(T).fill(1n), [1, T]),
    ...extra(T),
  };
  const out = await s.run(feeds, tensors);
  await s.release();
  return tensors.map((t) => {
    const d = out[t].data as Float32Array;
    const w = Number(out[t].dims[2]);
    return d.slice((T - 1) * w, T * w);
  });
}

describe('layer tap on the shared fixtures', () => {
  const cases = [
    {
      name: 'bert-tiny',
      ends: [0, 1, 2].map((n) => `/encoder/layer.${n}/output/LayerNorm/Add_1_output_0`),
      extra: (T: number) => ({ token_type_ids: new ort.Tensor('int64', new BigInt64Array(T), [1, T]) }),
    },
    {
      name: 'llama-tiny',
      ends: [0, 1, 2].map((n) => `/model/layers.${n}/Add_1_output_0`),
      extra: (T: number) => ({ position_ids: new ort.Tensor('int64', BigInt64Array.from({ length: T }, (_, i) => BigInt(i)), [1, T]) }),
    },
  ];
  for (const c of cases) {
    it(`${c.name}: finds the residual stream at the end of each of its 3 layers and reads the last token`, async () => {
      const plan = applyLayerTap(decodeModel(readFileSync(fixture(c.name))), { layers: null }, c.name);
      assert.equal(plan.kind, 'layers');
      assert.equal(plan.numLayers, 3);
      // bert's last layer end is renamed to the graph output by the exporter
      const expected = c.name === 'bert-tiny' ? [c.ends[0], c.ends[1], 'last_hidden_state'] : c.ends;
      assert.deepEqual(plan.tapped, expected);
      // the lm_head (llama) is pruned: no node reads the logits any more
      assert.ok(!plan.model.graph!.node!.some((n) => n.name === '/lm_head/MatMul'));

      await using e = await Embedder.open({ model: fixture(c.name), device: 'cpu', cacheMiB: 0 });
      assert.deepEqual(e.layers, [0, 1, 2]);
      assert.equal(e.width, 64);
      const embs = await e.embedTexts(TEXTS);
      for (let i = 0; i < TEXTS.length; i++) {
        const ids = Array.from(e.tokenizer.encode(TEXTS[i], 512).ids);
        const ref = await referenceLayers(fixture(c.name), expected, ids, c.extra);
        assert.equal(embs[i].layers, 3);
        for (let l = 0; l < 3; l++) assert.ok(maxAbsDiff(embs[i].features.subarray(l * 64, (l + 1) * 64), ref[l]) <= 1e-5, `${c.name} text ${i} layer ${l}`);
      }
    });
  }

  it('finds base-model layer names too (/layers.N/, as optimum feature-extraction exports name them)', () => {
    const m = decodeModel(readFileSync(fixture('llama-tiny')));
    for (const n of m.graph!.node!) n.name = n.name!.replace(/^\/model\//, '/');
    const plan = applyLayerTap(m, { layers: null }, 'llama-base');
    assert.deepEqual(plan.tapped, [0, 1, 2].map((n) => `/model/layers.${n}/Add_1_output_0`)); // tensor names unchanged
  });

  it('--layers picks layers, negative from the end, and prunes the layers after the last one', async () => {
    await using all = await Embedder.open({ model: fixture('llama-tiny'), device: 'cpu' });
    await using some = await Embedder.open({ model: fixture('llama-tiny'), device: 'cpu', layers: [-1, 0] });
    assert.deepEqual(some.layers, [0, 2]);
    assert.equal(some.numLayers, 3);
    const [a] = await all.embedTexts([TEXTS[0]]);
    const [b] = await some.embedTexts([TEXTS[0]]);
    assert.equal(b.layers, 2);
    assert.deepEqual(Array.from(b.features.subarray(0, 64)), Array.from(a.features.subarray(0, 64)));
    assert.deepEqual(Array.from(b.features.subarray(64)), Array.from(a.features.subarray(128)));
    const first = applyLayerTap(decodeModel(readFileSync(fixture('llama-tiny'))), { layers: [0] }, 'llama');
    assert.ok(!first.model.graph!.node!.some((n) => n.name!.startsWith('/model/layers.1/')));
    await assert.rejects(Embedder.open({ model: fixture('llama-tiny'), device: 'cpu', layers: [3] }), /--layers: layer 3 does not exist .* 3 layers: 0\.\.2/);
  });
});

describe('layer tap on generated models', () => {
  it('uses hidden_states outputs as they are', async () => {
    const m = hiddenStatesModel(8, 2);
    const path = writeModelDir(join(tmp, 'hs'), m.bytes, tokenizerJson());
    await using e = await Embedder.open({ model: path, device: 'cpu' });
    assert.equal(e.tapKind, 'hidden-states');
    assert.equal(e.numLayers, 3); // embedding output + 2 blocks, as transformers counts them
    assert.equal(e.width, 8);
    const [x] = await e.embedTexts(['the people said']);
    const ref = m.reference(Array.from(e.tokenizer.encode('the people said', 512).ids));
    for (let l = 0; l < 3; l++) assert.ok(maxAbsDiff(x.features.subarray(l * 8, (l + 1) * 8), ref[l]) <= 1e-5);
  });

  it('opens a model whose weights are in an external data file', async () => {
    const m = hiddenStatesModel(8, 2);
    const model = decodeModel(m.bytes);
    const E = model.graph!.initializer!.find((t) => t.name === 'E')!;
    const dir = join(tmp, 'external');
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'model.onnx.data'), E.rawData!);
    E.externalData = [
      { key: 'location', value: 'model.onnx.data' },
      { key: 'offset', value: '0' },
      { key: 'length', value: String(E.rawData!.length) },
    ];
    E.dataLocation = 1;
    E.rawData = new Uint8Array(0);
    const path = writeModelDir(dir, encodeModelProto(model), tokenizerJson());
    await using e = await Embedder.open({ model: path, device: 'cpu' });
    const [x] = await e.embedTexts(['the people said']);
    const ref = m.reference(Array.from(e.tokenizer.encode('the people said', 512).ids));
    for (let l = 0; l < 3; l++) assert.ok(maxAbsDiff(x.features.subarray(l * 8, (l + 1) * 8), ref[l]) <= 1e-5);
  });

  it('feeds empty past_key_values to a decoder export and taps /model/layers.N/', async () => {
    const m = pastKeyValuesModel(2);
    const path = writeModelDir(join(tmp, 'pkv'), m.bytes, tokenizerJson());
    for (const paddingSide of ['right', 'left'] as const) {
      await using e = await Embedder.open({ model: path, device: 'cpu', paddingSide, cacheMiB: 0 });
      assert.equal(e.tapKind, 'layers');
      assert.equal(e.numLayers, 2);
      const texts = ['the people said that', 'he was'];
      const embs = await e.embedTexts(texts);
      texts.forEach((t, i) => {
        const ref = m.reference(Array.from(e.tokenizer.encode(t, 512).ids));
        for (let l = 0; l < 2; l++) assert.ok(maxAbsDiff(embs[i].features.subarray(l * 8, (l + 1) * 8), ref[l]) <= 1e-5, `${paddingSide} text ${i} layer ${l}`);
      });
    }
  });

  it('a model without layers fails with a message listing its inputs and outputs', async () => {
    const path = writeModelDir(join(tmp, 'none'), noLayersModel(), tokenizerJson());
    await assert.rejects(Embedder.open({ model: path, device: 'cpu' }), (err: Error) => {
      assert.ok(err instanceof UserError);
      assert.match(err.message, /no layers found/);
      assert.match(err.message, /inputs: input_ids: int64\[batch, seq\]; outputs: logits: float\[batch, seq, 10\]/);
      return true;
    });
  });
});
