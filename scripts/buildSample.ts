/**
 * Builds the embedded default input, data/sample/: the first 1,000 pairs of Anthropic's HH-RLHF
 * harmless-base test split (MIT, ../shared/data), kept in their own layout (whole dialogues in
 * `chosen` and `rejected`, the implicit-prompt format) and stored as Parquet. Same bytes every run.
 *
 *   npm run build && node dist/scripts/buildSample.js
 */
import { copyFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { Field, Schema, Utf8 } from 'apache-arrow';
import { tableFromRows } from '../schemas/output.js';
import { dataPath, sharedJsonLines, sharedPath } from '../src/runtime/paths.js';
import { ParquetWriter } from '../src/runtime/io/ParquetWriter.js';

const ROWS = 1000;

async function main(): Promise<void> {
  const src = sharedPath('data', 'hh-rlhf-harmless-base');
  const lines = sharedJsonLines(join(src, 'test.jsonl.gz'));
  const rows = lines.slice(0, ROWS).map((l) => JSON.parse(l) as { chosen: string; rejected: string });
  const schema = new Schema([new Field('chosen', new Utf8(), false), new Field('rejected', new Utf8(), false)]);
  const out = dataPath('sample');
  mkdirSync(out, { recursive: true });
  const writer = new ParquetWriter(join(out, 'hh-rlhf-harmless-test-1k.parquet'), schema, { compression: 'zstd', rowGroupRows: 100_000 });
  await writer.write(tableFromRows(schema, rows));
  await writer.close();
  copyFileSync(join(src, 'LICENSE'), join(out, 'LICENSE'));
  process.stderr.write(`wrote ${rows.length} pairs to ${out}\n`);
}

main().catch((err) => {
  process.stderr.write(`buildSample failed: ${(err as Error).stack ?? err}\n`);
  process.exitCode = 1;
});
