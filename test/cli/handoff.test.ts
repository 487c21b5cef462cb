/**
 * The training hand-off: TRL's DPOTrainer gets the re-ranked shards through Hugging Face datasets'
 * Parquet loader, that is Parquet read through Arrow. TRL cannot be installed here, so this reads a
 * real rerank output the same way (Parquet -> Arrow) and fails when a column the trainer needs, or
 * its type, drifts; and it checks that the example trainer asks for exactly those columns.
 */
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { tableFromIPC } from 'apache-arrow';
import { readParquet } from 'parquet-wasm/node';
import { projectRoot } from '../../src/runtime/paths.js';
import { hhRows, runCli, tempDir } from '../helpers/badInputs.js';

/** What DPOTrainer (explicit prompt) and the confidence smoothing read: Arrow type names. */
const TRAINER_COLUMNS: Record<string, string> = { prompt: 'Utf8', chosen: 'Utf8', rejected: 'Utf8', confidence: 'Float32' };

test('rerank output reads through Parquet -> Arrow with the columns and types the DPO trainer expects', async () => {
  const dir = await tempDir('handoff');
  writeFileSync(join(dir, 'hh.jsonl'), hhRows().slice(0, 30).map((r) => JSON.stringify(r)).join('\n') + '\n');
  const r = await runCli(['rerank', join(dir, 'hh.jsonl'), '--out', join(dir, 'o'), '--device', 'cpu']);
  assert.equal(r.code, 0, r.stderr);
  const table = tableFromIPC(readParquet(readFileSync(join(dir, 'o', 'data', 'train-00000-of-00001.parquet'))).intoIPCStream());
  assert.equal(table.numRows, 30);
  for (const [name, type] of Object.entries(TRAINER_COLUMNS)) {
    const field = table.schema.fields.find((f) => f.name === name);
    assert.ok(field, `column ${name} is missing`);
    assert.equal(String(field.type), type, `column ${name}`);
    const col = table.getChild(name)!;
    assert.equal(col.nullCount, 0, `${name} has nulls`);
    if (type === 'Utf8') for (let i = 0; i < col.length; i++) assert.ok((col.get(i) as string).length > 0, `${name} row ${i} is empty`);
    else for (let i = 0; i < col.length; i++) assert.ok((col.get(i) as number) >= 0 && (col.get(i) as number) <= 1, `${name} row ${i} out of [0, 1]`);
  }
  // The example trainer selects exactly these columns.
  const script = readFileSync(join(projectRoot(), 'examples', 'train', 'dpo_confidence.py'), 'utf8');
  const selected = /select_columns\(\[([^\]]*)\]\)/.exec(script)?.[1].match(/"(\w+)"/g)?.map((s) => s.slice(1, -1));
  assert.deepEqual(selected, Object.keys(TRAINER_COLUMNS));
});
