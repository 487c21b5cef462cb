import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gunzipSync } from 'node:zlib';

/** The package root (the folder holding package.json), found from this file whether run from src or dist. */
export function projectRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    if (existsSync(join(dir, 'package.json')) && existsSync(join(dir, 'schemas'))) return dir;
    const up = resolve(dir, '..');
    if (up === dir) throw new Error('prefrank: cannot find the package root from ' + fileURLToPath(import.meta.url));
    dir = up;
  }
}

/** A path inside the package's data/ folder (the embedded default). */
export function dataPath(...parts: string[]): string {
  return join(projectRoot(), 'data', ...parts);
}

/** The shared folder beside the checkout (tests and benchmarks only). */
export function sharedPath(...parts: string[]): string {
  return join(projectRoot(), '..', 'shared', ...parts);
}

/** The shared HH-RLHF harmless pairs (test split, 2,312 pairs): what the default probe, eval, tests and benches read. */
export function sharedHhFile(): string {
  return sharedPath('data', 'hh-rlhf-harmless-base', 'test.jsonl.gz');
}

/** The shared OpenAI moderation texts (1,680, with per-text harm flags). */
export function sharedModerationFile(): string {
  return sharedPath('data', 'openai-moderation', 'samples-1680.jsonl.gz');
}

/** The non-blank lines of a gzipped JSON lines file of the shared data (small files: read whole). */
export function sharedJsonLines(file: string): string[] {
  return gunzipSync(readFileSync(file))
    .toString('utf8')
    .split('\n')
    .filter((l) => l.trim() !== '');
}
