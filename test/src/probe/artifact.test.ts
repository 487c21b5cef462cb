import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { checkProbeCompatibility, loadProbe, resolveAlpha, saveProbe } from '../../../src/probe/artifact.js';
import { trainProbe } from '../../../src/probe/trainProbe.js';
import { UserError } from '../../../src/runtime/errors.js';
import { syntheticPairs } from './synthetic.js';
import type { FeatureSource } from '../../../schemas/probe.js';

const tmp = mkdtempSync(join(tmpdir(), 'prefrank-artifact-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

const features: FeatureSource = { modelSha256: 'a'.repeat(64), tokenizerSha256: 'b'.repeat(64), modelName: 'm', layers: [3, 5], width: 6, pooling: 'last-token', template: 't' };

function build(dir: string) {
  const r = trainProbe(syntheticPairs(60, 2, 6, 1), [], { layers: 2, width: 6, epochs: 5, seed: 1 });
  return saveProbe(dir, r.probe, {
    prefrank: '0.0.0-test',
    features,
    alpha: r.alpha,
    alphaSource: r.alphaSource,
    training: { inputs: [{ file: 'x.jsonl', pairs: 60, labels: 0 }], pairs: 60, labels: 0, options: { ...r.options } },
    metrics: r.metrics,
  });
}

test('save is byte-identical and load returns the same probe', () => {
  const a = join(tmp, 'a'), b = join(tmp, 'b');
  const meta = build(a);
  build(b);
  for (const f of ['model.safetensors', 'probe.json']) assert.deepEqual(readFileSync(join(a, f)), readFileSync(join(b, f)));
  const loaded = loadProbe(a);
  assert.deepEqual(loaded.meta, JSON.parse(JSON.stringify(meta)));
  assert.equal(loaded.probe.layers, 2);
  assert.equal(loaded.meta.kind, 'hybrid');
  assert.equal(loaded.sha256, loadProbe(b).sha256);
  assert.equal(resolveAlpha('auto', loaded.meta), meta.alpha);
  assert.equal(resolveAlpha(3, loaded.meta), 3);
});

test('a replaced weights file or a missing folder is a UserError', () => {
  const c = join(tmp, 'c');
  build(c);
  const w = readFileSync(join(c, 'model.safetensors'));
  w[w.length - 1] ^= 1;
  writeFileSync(join(c, 'model.safetensors'), w);
  assert.throws(() => loadProbe(c), (e: unknown) => e instanceof UserError && /sha256 differs/.test(e.message));
  assert.throws(() => loadProbe(join(tmp, 'nope')), (e: unknown) => e instanceof UserError && /missing/.test(e.message));
});

test('compatibility: names what differs; --force passes hashes but never shapes', () => {
  const meta = build(join(tmp, 'd'));
  assert.deepEqual(checkProbeCompatibility(meta, features), []);
  const other = { ...features, modelSha256: 'c'.repeat(64), modelName: 'other' };
  assert.throws(() => checkProbeCompatibility(meta, other, { probeDir: 'P' }), (e: unknown) => e instanceof UserError && /probe P does not match the model: model sha256 cccccccccccc \(other\) but the probe was trained on aaaaaaaaaaaa \(m\).*--force/.test(e.message));
  assert.equal(checkProbeCompatibility(meta, other, { force: true }).length, 1);
  assert.throws(() => checkProbeCompatibility(meta, { ...features, width: 7 }, { force: true }), /width 7 but the probe expects 6.*cannot help/);
  assert.throws(() => checkProbeCompatibility(meta, { ...features, layers: [3] }, { force: true }), /layers \[3\] but the probe expects \[3, 5\]/);
  assert.throws(() => checkProbeCompatibility(meta, { ...features, template: 'u' }), /template "u" but the probe expects "t"/);
});
