import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import type { Manifest } from '../../schemas/manifest.js';
import { renderDatasetCard, sizeCategory } from '../../src/runtime/io/datasetCard.js';
import { inputLicense } from '../../src/runtime/io/inputs.js';
import { tempDir } from '../helpers/badInputs.js';

const manifest = (createdBy: string, rowsOut: number, license: string | null): Manifest => ({
  prefrank: '0.1.0',
  createdBy,
  license,
  configHash: 'c',
  config: {},
  versions: {},
  split: 'train',
  totals: { parts: 1, failedParts: 0, rowsIn: rowsOut, rowsOut, rowsRejected: 0, rowsFlipped: 0, rowsTruncated: 0, rejectsByReason: {} },
  shards: [],
});

test('the dataset card has the front matter the Hugging Face Hub reads', () => {
  const card = renderDatasetCard(manifest('rerank', 12_345, 'mit'), [
    { name: 'prompt', type: 'VARCHAR' },
    { name: 'confidence', type: 'FLOAT' },
    { name: 'flipped', type: 'BOOLEAN' },
    { name: 'source_row', type: 'BIGINT' },
    { name: 'extra_columns', type: 'VARCHAR' },
  ]);
  const front = card.split('\n---\n')[0];
  assert.match(front, /^---\nlicense: mit\ntask_categories:\n- text-generation\ntags:\n- dpo\n/);
  assert.match(front, /size_categories:\n- 10K<n<100K\n/);
  assert.match(front, /configs:\n- config_name: default\n  data_files:\n  - split: train\n    path: data\/train-\*\.parquet\n/);
  assert.match(front, /dataset_info:\n  features:\n  - name: prompt\n    dtype: string\n  - name: confidence\n    dtype: float32\n  - name: flipped\n    dtype: bool\n  - name: source_row\n    dtype: int64\n/);
  assert.match(front, /  splits:\n  - name: train\n    num_examples: 12345$/);
  assert.match(card, /^# Preference pairs re-ranked by prefrank$/m);
  assert.match(card, /^\| extra_columns \| string \| keys of a JSON-lines row that its file's first row did not have/m);
});

test('a convert card says it is not scored; an unknown licence says so; feature shards list no features', () => {
  const convert = renderDatasetCard(manifest('convert', 10, null), [{ name: 'confidence', type: 'FLOAT' }]);
  assert.match(convert, /^license: unknown$/m);
  assert.match(convert, /^# Preference pairs converted by prefrank$/m);
  assert.match(convert, /^\| confidence \| float32 \| not scored here/m);
  assert.doesNotMatch(convert, /re-ranked/);
  const embed = renderDatasetCard(manifest('embed', 10, null), [{ name: 'chosen_features', type: 'FLOAT[]' }]);
  assert.doesNotMatch(embed, /dataset_info/);
  assert.match(embed, /path: features\/train-\*\.parquet/);
  assert.deepEqual([0, 999, 1000, 99_999, 5_000_000].map(sizeCategory), ['n<1K', 'n<1K', '1K<n<10K', '10K<n<100K', '1M<n<10M']);
});

test('the inputs\' licence comes from their folder: a Hub card, else a LICENSE file', async () => {
  const dir = await tempDir('licence');
  const folder = (name: string, files: Record<string, string>) => {
    mkdirSync(join(dir, name, 'sub'), { recursive: true });
    for (const [f, text] of Object.entries(files)) writeFileSync(join(dir, name, f), text);
    writeFileSync(join(dir, name, 'sub', 'a.jsonl'), '');
    writeFileSync(join(dir, name, 'b.jsonl'), '');
    return [join(dir, name, 'b.jsonl'), join(dir, name, 'sub', 'a.jsonl')];
  };
  assert.equal(await inputLicense(folder('mit', { LICENSE: 'MIT License\n\nCopyright (c) 2022 Anthropic\n\nPermission is hereby granted, free of charge' })), 'mit');
  assert.equal(await inputLicense(folder('hub', { 'README.md': '---\nlicense: cc-by-nc-4.0\n---\n# x\n', LICENSE: 'MIT License' })), 'cc-by-nc-4.0');
  assert.equal(await inputLicense(folder('odd', { LICENSE: 'All rights reserved.' })), 'other');
  assert.equal(await inputLicense(folder('none', {})), null);
});
