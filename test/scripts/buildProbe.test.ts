import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { buildProbe } from '../../scripts/buildProbe.js';
import { loadProbe } from '../../src/probe/artifact.js';
import { dataPath } from '../../src/runtime/paths.js';

// One full build (about 10 s: embedding the 2,312 HH-RLHF pairs dominates) compared byte for byte
// with the committed default probe: the script regenerates it exactly.
test('npm run build:probe regenerates data/probe/ byte for byte', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'prefrank-probe-'));
  try {
    const { meta } = await buildProbe({ outDir: dir });
    for (const f of ['model.safetensors', 'probe.json']) assert.ok(readFileSync(join(dir, f)).equals(readFileSync(dataPath('probe', f))), `${f} differs from data/probe/${f}`);
    const loaded = loadProbe(dir);
    assert.equal(loaded.meta.features.width, 512);
    assert.equal(loaded.meta.features.layers.length, 3);
    assert.equal(loaded.meta.calibration?.slopeSource, 'clean pairs');
    assert.equal(meta.metrics.heldOutPairs, 462);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
