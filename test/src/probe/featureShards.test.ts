import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { featureShardFiles, readFeatureShards } from '../../../src/probe/featureShards.js';
import { runCli, tempDir, hhRows } from '../../helpers/badInputs.js';

// The forward pass runs once (`prefrank embed`); `probe train` on its shards gives the same probe
// as embedding on the fly.
test('probe train on embed feature shards equals probe train on the texts', async () => {
  const dir = await tempDir('feature-shards');
  const input = join(dir, 'pairs.jsonl');
  writeFileSync(input, hhRows().slice(0, 80).map((r) => JSON.stringify(r)).join('\n') + '\n');
  const embedded = await runCli(['embed', input, '--out', join(dir, 'emb'), '--device', 'cpu']);
  assert.equal(embedded.code, 0, embedded.stderr);

  const files = await featureShardFiles([join(dir, 'emb')]);
  assert.deepEqual(files?.map((f) => f.replace(/.*\/emb\//, '')), ['features/train-00000-of-00001.parquet']);
  assert.equal(await featureShardFiles([input]), null, 'a texts file is not feature shards');
  assert.equal(await featureShardFiles([join(dir, 'emb'), input]), null, 'a mix is embedded, not read as shards');

  const shards = await readFeatureShards(files!);
  assert.equal(shards.features.pairs.length, 80);
  assert.equal(shards.source.width, 512);
  assert.equal(shards.features.pairs[0].chosen.length, 4 * 512);

  for (const [name, from] of [['a', join(dir, 'emb')], ['b', input]]) {
    const r = await runCli(['probe', 'train', from, '--out', join(dir, name), '--seed', '3', '--device', 'cpu']);
    assert.equal(r.code, 0, r.stderr);
  }
  assert.deepEqual(readFileSync(join(dir, 'a', 'model.safetensors')), readFileSync(join(dir, 'b', 'model.safetensors')));
  const meta = (n: string) => JSON.parse(readFileSync(join(dir, n, 'probe.json'), 'utf8'));
  assert.equal(meta('a').features.modelSha256, meta('b').features.modelSha256);
  assert.deepEqual(meta('a').training.inputs, meta('b').training.inputs);
});
