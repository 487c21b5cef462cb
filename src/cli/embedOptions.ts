/**
 * Flags of the embed stage, declared once so that rerank, embed and probe train accept the same
 * ones with the same meaning, and their conversion to EmbedderOptions (each bad value is a
 * UsageError naming its flag). The default model is built on first use when missing.
 */
import { existsSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import type { Argv } from 'yargs';
import { DEFAULT_MODEL_NAME, defaultModelFile } from '../runtime/model/defaultModel.js';
import { checkEmbedderOptions, type EmbedderOptions } from '../runtime/model/Embedder.js';
import { fileMetadata, tokenStreams } from '../runtime/model/onnxBuild.js';
import { asUsageError, UsageError } from '../runtime/errors.js';
import { sha256File } from '../runtime/hash.js';
import { DEVICES, type Device } from '../runtime/model/openOrtSession.js';
import { DEFAULT_TEMPLATE, modelTemplate } from '../runtime/model/TextTokenizer.js';

const group = 'Model:';
export const DEFAULT_MODEL = 'default';

export function withEmbedOptions<T>(y: Argv<T>) {
  return y
    .option('model', { type: 'string', default: DEFAULT_MODEL, describe: `ONNX model file or folder holding model.onnx ("default": data/models/${DEFAULT_MODEL_NAME}, built on first use)`, group })
    .option('tokenizer', { type: 'string', describe: 'tokenizer.json (default: beside the model)', group })
    .option('device', { choices: DEVICES, default: 'auto' as Device, describe: 'Execution provider; auto tries cuda, then webgpu, then cpu', group })
    .option('threads', { type: 'number', default: 0, describe: 'onnxruntime intra-op threads (0 = one per core)', group })
    .option('inter-op-threads', { type: 'number', default: 0, describe: 'onnxruntime inter-op threads (0 = default)', group })
    .option('layers', { type: 'string', default: 'all', describe: 'Layers to read: all, or a list such as 0,4-7,-1 (negative counts from the end)', group })
    .option('template', { type: 'string', describe: `Text the model sees; {prompt} and {response} are replaced, \\n and \\t are newline and tab (default: the model's prefrank_template in tokenizer_config.json, else ${DEFAULT_TEMPLATE})`, group })
    .option('chat-template', { type: 'boolean', default: false, describe: "Use the tokenizer's chat template (user: prompt, assistant: response) instead of --template", group })
    .option('max-tokens', { type: 'number', describe: 'Longest input in tokens; longer texts lose their start (default 512, or the tokenizer\'s limit)', group })
    .option('batch-tokens', { type: 'number', default: 4096, describe: 'Token budget of one model batch (rows x padded length)', group })
    .option('cache-size', { type: 'number', default: 256, describe: 'Embedding cache in MiB (0 = off): a repeated text is embedded once per run', group })
    .option('padding-side', { choices: ['right', 'left'] as const, default: 'right' as const, describe: 'Padding side (left needs a model with position_ids)', group })
    .option('fuse-attention', { type: 'boolean', default: false, describe: "Run the model's attention as onnxruntime's fused MultiHeadAttention (BERT-family torch.onnx exports)", group });
}

export interface EmbedArgs {
  model: string;
  tokenizer?: string;
  device: Device;
  threads: number;
  interOpThreads: number;
  layers: string;
  template?: string;
  chatTemplate: boolean;
  maxTokens?: number;
  batchTokens: number;
  cacheSize: number;
  paddingSide: 'right' | 'left';
  fuseAttention: boolean;
}

/** `all` -> null; `0,4-7,-1` -> [0, 4, 5, 6, 7, -1]. */
export function parseLayers(spec: string): number[] | null {
  const s = spec.trim();
  if (s === 'all' || s === '') return null;
  const out: number[] = [];
  for (const part of s.split(',').map((p) => p.trim())) {
    const range = /^(\d+)-(\d+)$/.exec(part);
    if (range) {
      const [a, b] = [Number(range[1]), Number(range[2])];
      if (b < a) throw new UsageError(`--layers: range ${part} runs backwards`);
      for (let i = a; i <= b; i++) out.push(i);
    } else if (/^-?\d+$/.test(part)) {
      out.push(Number(part));
    } else {
      throw new UsageError(`--layers: cannot read ${JSON.stringify(part)} (use all, or a list such as 0,4-7,-1)`);
    }
  }
  return out;
}

/** A template given on a command line: \n, \t and \\ become newline, tab and backslash. */
export function unescapeTemplate(t: string): string {
  return t.replace(/\\([nt\\])/g, (_, c: string) => (c === 'n' ? '\n' : c === 't' ? '\t' : '\\'));
}

/** The model file a --model value names (a folder means its model.onnx). */
export function modelFile(model: string, log: (message: string) => void): string {
  if (model === DEFAULT_MODEL) return defaultModelFile(log);
  const p = resolve(model);
  if (!existsSync(p)) throw new UsageError(`--model: ${model} does not exist`);
  const file = statSync(p).isDirectory() ? join(p, 'model.onnx') : p;
  if (!existsSync(file)) throw new UsageError(`--model: ${model} is a folder without model.onnx`);
  return file;
}

/** Validates the flags and turns them into EmbedderOptions (building the default model if needed). */
export function embedderOptions(args: EmbedArgs, log: (message: string) => void): EmbedderOptions {
  asUsageError(() => checkEmbedderOptions({ maxTokens: args.maxTokens, batchTokens: args.batchTokens, intraOpThreads: args.threads, interOpThreads: args.interOpThreads, cacheMiB: args.cacheSize }));
  if (!DEVICES.includes(args.device)) throw new UsageError(`--device must be one of ${DEVICES.join(', ')}, got ${args.device}`);
  if (args.template !== undefined && !args.chatTemplate && !unescapeTemplate(args.template).includes('{response}')) throw new UsageError(`--template must contain {response}, got ${JSON.stringify(args.template)}`);
  const layers = parseLayers(args.layers);
  if (args.tokenizer !== undefined && !existsSync(args.tokenizer)) throw new UsageError(`--tokenizer: ${args.tokenizer} does not exist`);
  const model = modelFile(args.model, log);
  // Resolved here, not when the model opens: the run's settings hash names the template.
  const template = args.template !== undefined ? unescapeTemplate(args.template) : modelTemplate(args.tokenizer ?? join(dirname(model), 'tokenizer.json'));
  return Object.freeze({
    model,
    tokenizer: args.tokenizer,
    device: args.device,
    intraOpThreads: args.threads,
    interOpThreads: args.interOpThreads,
    layers,
    template,
    chatTemplate: args.chatTemplate,
    maxTokens: args.maxTokens,
    batchTokens: args.batchTokens,
    cacheMiB: args.cacheSize,
    paddingSide: args.paddingSide,
    fuseAttention: args.fuseAttention,
    log,
  });
}

/**
 * The model-path settings that decide the output bytes, hashed into the run's config: one list for
 * every command that embeds (embed, rerank), so a resumed run can never mix, say, left- and
 * right-padded features. The files are hashed without opening a session: with --workers the
 * parent process only waits, and an onnxruntime session costs seconds and memory.
 */
export async function modelSettings(args: EmbedArgs, options: EmbedderOptions): Promise<Record<string, unknown>> {
  const tokenizer = options.tokenizer ?? join(dirname(options.model), 'tokenizer.json');
  // tokenizer_config.json decides outputs too: model_max_length (the default --max-tokens), the
  // chat template's text, the tokenizer's tie rule. Hashed when the model has one, so editing it
  // between runs is a difference a resumed run names, never features made two ways in one folder.
  const config = join(dirname(tokenizer), 'tokenizer_config.json');
  const [modelSha256, tokenizerSha256, tokenizerConfigSha256, streams] = await Promise.all([
    sha256File(options.model),
    sha256File(tokenizer),
    existsSync(config) ? sha256File(config) : null,
    streamSettings(options.model),
  ]);
  return {
    modelSha256,
    tokenizerSha256,
    ...(tokenizerConfigSha256 ? { tokenizerConfigSha256 } : {}),
    // Only for a model with extra token streams: other runs keep the hash they had.
    ...(streams.length ? { tokenStreams: streams } : {}),
    layers: options.layers ?? 'all',
    template: args.chatTemplate ? 'chat-template' : options.template,
    maxTokens: args.maxTokens ?? null,
    batchTokens: args.batchTokens,
    paddingSide: args.paddingSide,
    device: args.device,
    // Only when on: runs without it keep the hash they had before the flag existed.
    ...(args.fuseAttention ? { fuseAttention: true } : {}),
  };
}

/**
 * The sha256 of each extra token stream's tokenizer files (S/tokenizer.json and
 * S/tokenizer_config.json beside the model; null when missing). A file that is no ONNX model, or
 * a stream without its tokenizer, is reported by Embedder.open, in one line naming it.
 */
async function streamSettings(model: string): Promise<{ name: string; tokenizerSha256: string | null; tokenizerConfigSha256: string | null }[]> {
  const names = tokenStreams(await fileMetadata(model).catch(() => ({})));
  const sha = (file: string) => (existsSync(file) ? sha256File(file) : null);
  return Promise.all(
    names.map(async (name) => {
      const dir = join(dirname(model), name);
      return { name, tokenizerSha256: await sha(join(dir, 'tokenizer.json')), tokenizerConfigSha256: await sha(join(dir, 'tokenizer_config.json')) };
    }),
  );
}
