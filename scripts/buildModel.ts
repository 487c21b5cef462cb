/**
 * `npm run build:model`: builds the default model (src/runtime/model/defaultModel.ts: Universal
 * Sentence Encoder lite with GloVe as a second token stream, data/models/use-lite-glove/) from its
 * npm packages, and prints the files' sha256. Same bytes on every run. `--out DIR` builds elsewhere
 * (to check that two builds are identical); `--glove` builds GloVe 100-d mean pooling alone (the
 * default until 2026-12-04, data/models/glove-100d/) as a baseline.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { buildGloveModel, gloveModelDir } from '../src/runtime/model/buildGloveModel.js';
import { buildDefaultModel, defaultModelDir, GLOVE_STREAM } from '../src/runtime/model/defaultModel.js';

const at = process.argv.indexOf('--out');
const glove = process.argv.includes('--glove');
const outDir = at >= 0 ? process.argv[at + 1] : glove ? gloveModelDir() : defaultModelDir();
const t0 = Date.now();
const model = glove ? buildGloveModel({ outDir }).model : buildDefaultModel(outDir);
for (const f of [model, join(dirname(model), 'tokenizer.json'), ...(glove ? [] : [join(dirname(model), GLOVE_STREAM, 'tokenizer.json')])]) {
  process.stdout.write(`${createHash('sha256').update(readFileSync(f)).digest('hex')}  ${f}\n`);
}
process.stderr.write(`built ${outDir} in ${((Date.now() - t0) / 1000).toFixed(1)} s\n`);
