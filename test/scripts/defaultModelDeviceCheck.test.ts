import assert from 'node:assert/strict';
import { test } from 'node:test';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { checkTexts, defaultModelDeviceCheck, standInModel } from '../../scripts/defaultModelDeviceCheck.js';
import { Embedder } from '../../src/runtime/model/Embedder.js';

// The GPU check's first step, run CPU against CPU: it must read long texts (the windows are what a
// GPU provider may mishandle), report the device each side ran on, and find no difference.
test('defaultModelDeviceCheck: short and long shared texts, the device each side used, the largest feature difference (0 for CPU against CPU)', async () => {
  const texts = checkTexts(40);
  assert.equal(texts.length, 40);
  const r = await defaultModelDeviceCheck('cpu', 40);
  assert.deepEqual([r.asked, r.cpu.device, r.other.device, r.texts], ['cpu', 'cpu', 'cpu', 40]);
  assert.ok(r.tokens > 40 * 64, `${r.tokens} tokens: long texts included`);
  assert.equal(r.maxAbsDiff, 0);
  assert.deepEqual(r.standIn, { useWeights: false, glove: false }, 'everything is installed here: the real default model is checked');
  assert.ok(r.cpu.textsPerSecond > 0 && r.other.textsPerSecond > 0);
});

// On the GPU machine (no GloVe package, no USE weight shards), the check runs the default model's
// graph with stand-in values: the same nodes, windows and streams.
test('defaultModelDeviceCheck: the stand-ins give the default model\'s graph and streams', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'prefrank-stand-in-'));
  try {
    const texts = checkTexts(40);
    await using e = await Embedder.open({ model: standInModel(texts, dir, { useWeights: true, glove: true }), device: 'cpu' });
    assert.deepEqual([e.layers, e.width, e.streams.map((s) => s.name)], [[0, 1, 2, 3], 512, ['glove']]);
    const [f] = await e.embedTexts([texts[0]]);
    const glove = f.features.subarray(3 * 512, 3 * 512 + 100);
    assert.ok(glove.some((x) => x !== 0), 'the stand-in vectors are read');
    assert.ok(f.features.subarray(0, 3 * 512).every(Number.isFinite) && f.features.subarray(0, 512).some((x) => x !== 0), 'the stand-in transformer runs');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
