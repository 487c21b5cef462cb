import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { buildProbe } from '../../scripts/buildProbe.js';
import { loadProbe } from '../../src/probe/artifact.js';
import { dataPath } from '../../src/runtime/paths.js';

/** Numbers equal within `tol` of the larger magnitude, everything else equal, at any depth. */
function near(a: unknown, b: unknown, tol: number, at = ''): string | null {
  if (typeof a === 'number' && typeof b === 'number') return Math.abs(a - b) <= tol * Math.max(1, Math.abs(a), Math.abs(b)) ? null : `${at}: ${a} vs ${b}`;
  if (ArrayBuffer.isView(a) && ArrayBuffer.isView(b)) return near(Array.from(a as Float32Array), Array.from(b as Float32Array), tol, at);
  if (a && b && typeof a === 'object' && typeof b === 'object') {
    const keys = [...new Set([...Object.keys(a), ...Object.keys(b)])];
    for (const k of keys) {
      const d = near((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k], tol, `${at}.${k}`);
      if (d) return d;
    }
    return null;
  }
  return a === b ? null : `${at}: ${JSON.stringify(a)} vs ${JSON.stringify(b)}`;
}

// One full build (about 10 s: embedding the 2,312 HH-RLHF pairs dominates) compared byte for byte
// with the committed default probe: the script regenerates it exactly. On a machine whose
// onnxruntime kernels round differently (the model's features differ in the last bits by CPU, see
// test/cli/golden.test.ts), the same build must agree to float rounding: weights within 1e-5, every
// metric and the calibration within 1e-6 (seen: 1.8e-7 on an AVX2-only AMD machine).
test('npm run build:probe regenerates data/probe/ byte for byte (to float rounding on other CPUs)', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'prefrank-probe-'));
  try {
    const { meta } = await buildProbe({ outDir: dir });
    const same = ['model.safetensors', 'probe.json'].every((f) => readFileSync(join(dir, f)).equals(readFileSync(dataPath('probe', f))));
    if (!same) {
      const [mine, committed] = [loadProbe(dir), loadProbe(dataPath('probe'))];
      const { w, b, v, mean, std } = mine.probe;
      const c = committed.probe;
      assert.equal(near({ w, b, v, mean, std }, { w: c.w, b: c.b, v: c.v, mean: c.mean, std: c.std }, 1e-5), null, 'probe weights differ from data/probe/ beyond float rounding');
      // The weights' own sha256 differs with their last bits; the weights are compared above.
      const { weightsSha256: _a, ...mineMeta } = mine.meta;
      const { weightsSha256: _b, ...committedMeta } = committed.meta;
      assert.equal(near(mineMeta, committedMeta, 1e-6), null, 'probe.json differs from data/probe/ beyond float rounding');
      t.diagnostic('data/probe/ rebuilt to float rounding, not byte for byte: this CPU rounds the model differently from the one that built it');
    }
    const loaded = loadProbe(dir);
    assert.equal(loaded.meta.features.width, 512);
    assert.equal(loaded.meta.features.layers.length, 4); // USE lite 0-2, GloVe 3
    assert.equal(loaded.meta.calibration?.slopeSource, 'clean pairs');
    assert.equal(meta.metrics.heldOutPairs, 462);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
