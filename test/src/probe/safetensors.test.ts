import assert from 'node:assert/strict';
import { test } from 'node:test';
import { decodeSafetensors, encodeSafetensors } from '../../../src/probe/safetensors.js';

const tensors = {
  zeta: { shape: [3], data: Float32Array.from([1, -2.5, 3e-7]) },
  alpha: { shape: [2, 2], data: Float32Array.from([0.1, 0.2, 0.3, Infinity]) },
};

test('layout: u64 header length, JSON header padded to 8, sorted keys, contiguous data', () => {
  const bytes = encodeSafetensors(tensors, { format: 'pt' });
  const n = Number(new DataView(bytes.buffer).getBigUint64(0, true));
  assert.equal(n % 8, 0);
  const header = JSON.parse(Buffer.from(bytes.subarray(8, 8 + n)).toString('utf8'));
  assert.deepEqual(Object.keys(header), ['__metadata__', 'alpha', 'zeta']);
  assert.deepEqual(header.alpha, { dtype: 'F32', shape: [2, 2], data_offsets: [0, 16] });
  assert.deepEqual(header.zeta, { dtype: 'F32', shape: [3], data_offsets: [16, 28] });
  assert.equal(bytes.length, 8 + n + 28);
  // Raw little-endian float32 of the first tensor in key order.
  assert.equal(new DataView(bytes.buffer).getFloat32(8 + n + 4, true), Math.fround(0.2));
});

test('round trip and determinism', () => {
  const a = encodeSafetensors(tensors, { format: 'pt' });
  const b = encodeSafetensors({ alpha: tensors.alpha, zeta: tensors.zeta }, { format: 'pt' });
  assert.deepEqual(a, b);
  const back = decodeSafetensors(a);
  assert.deepEqual(back.metadata, { format: 'pt' });
  assert.deepEqual(back.tensors.alpha.shape, [2, 2]);
  assert.deepEqual([...back.tensors.zeta.data], [...tensors.zeta.data]);
  // Unaligned input buffer still decodes.
  const shifted = new Uint8Array(a.length + 1);
  shifted.set(a, 1);
  assert.deepEqual([...decodeSafetensors(shifted.subarray(1)).tensors.alpha.data], [...tensors.alpha.data]);
});

test('bad input fails with a message', () => {
  assert.throws(() => decodeSafetensors(new Uint8Array(3)), /shorter/);
  const a = encodeSafetensors(tensors);
  assert.throws(() => decodeSafetensors(a.subarray(0, a.length - 4)), /data_offsets/);
  assert.throws(() => encodeSafetensors({ x: { shape: [2], data: new Float32Array(3) } }), /3 values/);
});
