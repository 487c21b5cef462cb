import assert from 'node:assert/strict';
import { test } from 'node:test';
import { checkTexts, defaultModelDeviceCheck } from '../../scripts/defaultModelDeviceCheck.js';

// The GPU check's first step, run CPU against CPU: it must read long texts (the windows are what a
// GPU provider may mishandle), report the device each side ran on, and find no difference.
test('defaultModelDeviceCheck: short and long shared texts, the device each side used, the largest feature difference (0 for CPU against CPU)', async () => {
  const texts = checkTexts(40);
  assert.equal(texts.length, 40);
  const r = await defaultModelDeviceCheck('cpu', 40);
  assert.deepEqual([r.asked, r.cpu.device, r.other.device, r.texts], ['cpu', 'cpu', 'cpu', 40]);
  assert.ok(r.tokens > 40 * 64, `${r.tokens} tokens: long texts included`);
  assert.equal(r.maxAbsDiff, 0);
  assert.ok(r.cpu.textsPerSecond > 0 && r.other.textsPerSecond > 0);
});
