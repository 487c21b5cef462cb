/**
 * Writing a built model folder (model.onnx, tokenizer files, NOTICE.md) and building one on first
 * use: the one place that does it, for the default model and the baselines alike.
 */
import { copyFileSync, existsSync, mkdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { dataPath } from '../paths.js';

/** A file of the folder: its path inside the folder (subfolders allowed) and its bytes. */
export type FolderFile = readonly [path: string, data: string | Uint8Array];

/**
 * Writes `files` into `outDir` under temporary names, then renames them all, so a crash or a
 * concurrent build never leaves a half-written file where the CLI looks; then copies the recipe's
 * NOTICE.md (data/recipes/<recipe>/) beside them.
 */
export function writeModelFolder(outDir: string, files: readonly FolderFile[], recipe: string): void {
  const tmp = `.tmp-${process.pid}`;
  for (const [name, data] of files) {
    mkdirSync(dirname(join(outDir, name)), { recursive: true });
    writeFileSync(join(outDir, name + tmp), data);
  }
  for (const [name] of files) renameSync(join(outDir, name + tmp), join(outDir, name));
  const notice = dataPath('recipes', recipe, 'NOTICE.md');
  if (existsSync(notice)) copyFileSync(notice, join(outDir, 'NOTICE.md'));
}

/**
 * Builds a model folder when any of `required` (paths inside it; model.onnx last, as builders
 * write it) is missing; returns the folder. A failed build leaves no model.onnx behind.
 */
export function ensureModelFolder(outDir: string, required: readonly string[], build: () => void, log: (message: string) => void, what: string): string {
  if (required.every((f) => existsSync(join(outDir, f)))) return outDir;
  log(`building ${what} in ${outDir} (once)`);
  try {
    build();
  } catch (err) {
    rmSync(join(outDir, 'model.onnx'), { force: true });
    throw err;
  }
  return outDir;
}
