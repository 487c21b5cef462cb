/**
 * The default model (`--model default`): the one place that says which it is. Since the posterior
 * confidence work it is Universal Sentence Encoder lite (src/runtime/buildUseModel.ts), a real
 * pretrained transformer; the GloVe mean-pooling model (src/runtime/buildGloveModel.ts) stays
 * buildable as a baseline (`npm run build:model -- --glove`).
 */
import { join } from 'node:path';
import { buildUseModel, ensureUseModel, USE_MODEL_NAME, useModelDir } from './buildUseModel.js';

export const DEFAULT_MODEL_NAME = USE_MODEL_NAME;

export function defaultModelDir(): string {
  return useModelDir();
}

/** Builds the default model into `outDir` when it is missing; returns the folder. */
export function ensureDefaultModel(log: (message: string) => void, outDir = defaultModelDir()): string {
  return ensureUseModel(log, outDir);
}

/** Builds the default model into `outDir` (same bytes every time); returns model.onnx's path. */
export function buildDefaultModel(outDir = defaultModelDir()): string {
  return buildUseModel(outDir);
}

/** The default model's model.onnx, built first when missing. */
export function defaultModelFile(log: (message: string) => void): string {
  return join(ensureDefaultModel(log), 'model.onnx');
}
