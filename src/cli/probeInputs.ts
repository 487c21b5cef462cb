/**
 * The inputs of `probe train` and `probe eval`: any preference data, read and embedded through the
 * embed pipeline's stages with the model flags shared with rerank (src/cli/embedOptions.ts).
 */
import { basename } from 'node:path';
import { readFeatures } from '../../pipelines/probeFeatures.js';
import { DEFAULT_MODEL_NAME } from '../runtime/model/defaultModel.js';
import { Embedder } from '../runtime/model/Embedder.js';
import type { Logger, LogLevel } from '../runtime/Logger.js';
import { Stats } from '../runtime/Stats.js';
import { DEFAULT_MODEL, embedderOptions, type EmbedArgs } from './embedOptions.js';
import { inputConfig, type InputArgs as BaseInputArgs } from './ioOptions.js';
import type { FeatureSet } from '../../schemas/features.js';

export type InputArgs = BaseInputArgs & {
  logLevel: LogLevel;
  logFormat: 'text' | 'json';
};

/** Reads and embeds the inputs; the embedder stays open only as long as needed. */
export async function loadFeatures(
  args: InputArgs & EmbedArgs,
  log: Logger,
  check: (embedder: Embedder, modelName: string) => void = () => {},
): Promise<{ features: FeatureSet; embedder: Embedder; modelName: string; files: readonly string[] }> {
  // Checked before the model opens: a typo should not cost a model load.
  const input = inputConfig(args, 512);
  const opts = embedderOptions(args, (m) => log.info(m));
  const modelName = args.model === DEFAULT_MODEL ? DEFAULT_MODEL_NAME : basename(args.model.replace(/\/model\.onnx$/, ''));
  // The model opens first so that a mismatch is reported before any data is read.
  const embedder = await Embedder.open(opts);
  try {
    check(embedder, modelName);
  } catch (err) {
    await embedder.close();
    throw err;
  }
  const t0 = Date.now();
  const read = await readFeatures(args.inputs, { ...input, window: 2, partRows: 1_000_000, stats: new Stats() }, embedder);
  const rejected = Object.values(read.rejects).reduce((x, y) => x + y, 0);
  log.info(`read and embedded ${read.pairs.length} pairs and ${read.labels.length} labelled responses from ${read.files.length} file(s) in ${((Date.now() - t0) / 1000).toFixed(1)} s`, {
    skipped: read.skipped,
    truncated: read.truncated,
    ...(rejected ? { rejected, reasons: read.rejects } : {}),
  });
  const { rejects: _r, files, ...features } = read;
  return { features, embedder, modelName, files };
}

