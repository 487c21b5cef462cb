/**
 * The layer tap: rewrites an ONNX model so that it outputs, for each selected layer, the hidden
 * state of one token per row (the last real token), as `[batch, width]` float tensors.
 *
 * A standard export outputs only the last hidden state or the logits, so the per-layer residual
 * stream is found from the node names that torch.onnx / optimum give transformer layers
 * (`/model/layers.N/...` for Llama, Qwen2, Mistral; `/encoder/layer.N/...` for BERT; a few other
 * common families). The end of layer N is the last tensor produced inside that scope that is read
 * outside it (by layer N+1, the final norm or a graph output). Models that already output hidden
 * states use those; a model whose output is already pooled (`[batch, width]`) is one layer.
 *
 * The gather of the last token happens inside the graph (Flatten + Gather on a flat row index fed
 * as the extra input `prefrank_last_index`), so the session returns `batch x width` per layer
 * instead of `batch x tokens x width`, and the unneeded tail of the graph (lm_head, layers after the
 * last selected one) is pruned before the session sees it.
 */
import { UserError } from '../errors.js';
import {
  DataType,
  declaredShape,
  describeValue,
  elemTypeOf,
  encodeModelProto,
  int64s,
  node,
  onnx,
  valueInfo,
  type ModelProto,
  type NodeProto,
  type ValueInfoProto,
} from './onnxBuild.js';

/** Name of the input the tap adds: flat row indices (row * seqLen + lastTokenIndex), int64 [batch]. */
export const LAST_INDEX_INPUT = 'prefrank_last_index';

export type TapKind = 'layers' | 'hidden-states' | 'pooled' | 'last-hidden-state';

export interface TapPlan {
  readonly kind: TapKind;
  /** Layers the model has (as prefrank counts them; see `kind`). */
  readonly numLayers: number;
  /** Selected layer indices, ascending, 0-based. */
  readonly layers: readonly number[];
  /** One graph output per selected layer, `[batch, width]`. */
  readonly outputNames: readonly string[];
  /** Whether the rewritten model takes `prefrank_last_index` (false for pooled outputs). */
  readonly takesLastIndex: boolean;
  /** The tensors tapped, for logs and tests (before the gather). */
  readonly tapped: readonly string[];
  /** Width when the model declares it, else null (found by a first run). */
  readonly declaredWidth: number | null;
  /** The rewritten model. */
  readonly model: ModelProto;
}

/**
 * Layer-scope patterns of common exporters. The first group is the scope prefix, the second N.
 * Lazy prefixes, so a nested list inside a layer never wins over the layer list itself.
 */
const SCOPE_PATTERNS: readonly RegExp[] = [
  // Llama, Qwen2, Mistral, Phi-3, Gemma: /model/layers.N/ (…ForCausalLM) or /layers.N/ (the base
  // model, as optimum's feature-extraction export has it); OPT /model/decoder/layers.N/; GPT-NeoX
  /^(.*?\/layers\.)(\d+)\//,
  /^(.*?\/encoder\/layer\.)(\d+)\//, // BERT, RoBERTa, MiniLM
  /^(.*?\/h\.)(\d+)\//, // GPT-2, GPT-J, Falcon
  /^(.*?\/blocks\.)(\d+)\//, // MPT
];

const HIDDEN_STATES_OUTPUT = /^(?:all_)?hidden_states[._](\d+)$/;
/** Per-layer pooled outputs, [batch, width] each (the default model's form: pooled inside the graph). */
const POOLED_LAYER_OUTPUT = /^pooled_layer[._](\d+)$/;

export interface LayerSelection {
  /** null = all layers. Negative indices count from the end (-1 = last). */
  readonly layers: readonly number[] | null;
}

export function modelSignature(model: ModelProto): string {
  const g = model.graph!;
  const inits = new Set((g.initializer ?? []).map((t) => t.name));
  const ins = (g.input ?? []).filter((i) => !inits.has(i.name!)).map((v) => describeValue(v as ValueInfoProto));
  const outs = (g.output ?? []).map((v) => describeValue(v as ValueInfoProto));
  return `inputs: ${ins.join('; ')}; outputs: ${outs.join('; ')}`;
}

/** Resolves `--layers` against the number of layers the model has. */
export function resolveLayers(requested: readonly number[] | null, numLayers: number, where: string): number[] {
  if (requested === null) return Array.from({ length: numLayers }, (_, i) => i);
  const out = new Set<number>();
  for (const r of requested) {
    const i = r < 0 ? numLayers + r : r;
    if (!Number.isInteger(i) || i < 0 || i >= numLayers) {
      throw new UserError(`--layers: layer ${r} does not exist in ${where} (it has ${numLayers} layer${numLayers === 1 ? '' : 's'}: 0..${numLayers - 1})`);
    }
    out.add(i);
  }
  return [...out].sort((a, b) => a - b);
}

interface Found {
  kind: TapKind;
  /** Tensor per layer, all layers of the model. */
  perLayer: { tensor: string; index?: number }[];
  pooled: boolean;
  declaredWidth: number | null;
}

function findLayers(model: ModelProto): Found | null {
  const g = model.graph!;
  const outputs = (g.output ?? []) as ValueInfoProto[];

  // 1. Hidden states the export already outputs.
  const hs = outputs
    .map((o) => ({ o, m: HIDDEN_STATES_OUTPUT.exec(o.name ?? '') }))
    .filter((x) => x.m)
    .sort((a, b) => Number(a.m![1]) - Number(b.m![1]));
  if (hs.length > 0) {
    const shape = declaredShape(hs[0].o);
    return { kind: 'hidden-states', perLayer: hs.map((x) => ({ tensor: x.o.name! })), pooled: false, declaredWidth: widthOf(shape) };
  }
  const stacked = outputs.find((o) => o.name === 'hidden_states' && declaredShape(o)?.length === 4);
  if (stacked) {
    const shape = declaredShape(stacked)!;
    const n = typeof shape[0] === 'number' ? shape[0] : null;
    if (n === null) throw new UserError(`the model's output hidden_states is stacked [layers, batch, tokens, width] but does not declare its number of layers (${modelSignature(model)})`);
    return { kind: 'hidden-states', perLayer: Array.from({ length: n }, (_, i) => ({ tensor: stacked.name!, index: i })), pooled: false, declaredWidth: widthOf(shape) };
  }

  // 1b. One pooled [batch, width] output per layer: each is a layer, read as it is.
  const pl = outputs
    .map((o) => ({ o, m: POOLED_LAYER_OUTPUT.exec(o.name ?? '') }))
    .filter((x) => x.m && declaredShape(x.o)?.length === 2)
    .sort((a, b) => Number(a.m![1]) - Number(b.m![1]));
  if (pl.length > 0) return { kind: 'pooled', perLayer: pl.map((x) => ({ tensor: x.o.name! })), pooled: true, declaredWidth: widthOf(declaredShape(pl[0].o)) };

  // 2. Layer scopes in node names.
  const nodes = (g.node ?? []) as NodeProto[];
  let best: { prefix: string; layers: Map<number, number[]> } | null = null;
  for (const re of SCOPE_PATTERNS) {
    const families = new Map<string, Map<number, number[]>>();
    nodes.forEach((n, i) => {
      const m = re.exec(n.name ?? '');
      if (!m) return;
      let fam = families.get(m[1]);
      if (!fam) families.set(m[1], (fam = new Map()));
      const k = Number(m[2]);
      let list = fam.get(k);
      if (!list) fam.set(k, (list = []));
      list.push(i);
    });
    for (const [prefix, layers] of families) if (!best || layers.size > best.layers.size) best = { prefix, layers };
  }
  if (best && best.layers.size > 0) {
    const ids = [...best.layers.keys()].sort((a, b) => a - b);
    if (ids[0] !== 0 || ids[ids.length - 1] !== ids.length - 1) {
      throw new UserError(`the model's layers ${best.prefix}N are not numbered 0..${ids.length - 1} (found ${ids.join(', ')}); ${modelSignature(model)}`);
    }
    const consumers = new Map<string, number[]>();
    nodes.forEach((n, i) => {
      for (const t of n.input ?? []) {
        let c = consumers.get(t);
        if (!c) consumers.set(t, (c = []));
        c.push(i);
      }
    });
    const graphOutputs = new Set(outputs.map((o) => o.name!));
    const perLayer = ids.map((layer) => {
      const inScope = new Set(best!.layers.get(layer)!);
      let end: string | null = null;
      let endAt = -1;
      for (const i of inScope) {
        for (const t of nodes[i].output ?? []) {
          if (!t) continue;
          const readOutside = (consumers.get(t) ?? []).some((c) => !inScope.has(c));
          // KV-cache outputs (present.N.key) leave the layer too, but are not the residual stream.
          const isOutput = graphOutputs.has(t) && !/^present/.test(t);
          if ((readOutside || isOutput) && i > endAt) {
            end = t;
            endAt = i;
          }
        }
      }
      if (end === null) throw new UserError(`cannot find where layer ${best!.prefix}${layer} ends (no tensor of it is read outside it); ${modelSignature(model)}`);
      return { tensor: end };
    });
    // The width is declared only when the last layer's end is the graph output (BERT's last_hidden_state).
    const out = outputs.find((o) => o.name === perLayer[perLayer.length - 1].tensor);
    return { kind: 'layers', perLayer, pooled: false, declaredWidth: out ? widthOf(declaredShape(out)) : null };
  }

  // 3. A pooled [batch, width] float output: one layer.
  const floats = outputs.filter((o) => elemTypeOf(o) === DataType.FLOAT || elemTypeOf(o) === DataType.FLOAT16);
  const pooled = floats.filter((o) => declaredShape(o)?.length === 2);
  if (pooled.length > 0) {
    const pick = pooled.find((o) => /sentence_embedding|pooler_output|embedding/.test(o.name ?? '')) ?? pooled[0];
    return { kind: 'pooled', perLayer: [{ tensor: pick.name! }], pooled: true, declaredWidth: widthOf(declaredShape(pick)) };
  }

  // 4. Only the last hidden state: one layer.
  const last = floats.find((o) => o.name === 'last_hidden_state');
  if (last) return { kind: 'last-hidden-state', perLayer: [{ tensor: last.name! }], pooled: false, declaredWidth: widthOf(declaredShape(last)) };
  return null;
}

function widthOf(shape: readonly (number | string | null)[] | null): number | null {
  const w = shape?.[shape.length - 1];
  return typeof w === 'number' && w > 0 ? w : null;
}

/**
 * Plans and applies the tap. `model` is modified in place (decode a fresh copy per call).
 * Throws a UserError listing the model's inputs and outputs when no layers can be found.
 */
export function applyLayerTap(model: ModelProto, selection: LayerSelection, where: string): TapPlan {
  const g = model.graph!;
  const found = findLayers(model);
  if (!found) {
    throw new UserError(
      `${where}: no layers found: the model neither outputs hidden states nor has layer nodes named like /model/layers.N/ or /encoder/layer.N/, nor a pooled [batch, width] output; ${modelSignature(model)}. Export it with all hidden states (see README: "Your own model").`,
    );
  }
  const numLayers = found.perLayer.length;
  const layers = resolveLayers(selection.layers, numLayers, where);

  const newNodes: NodeProto[] = [];
  const newInits = [];
  const outputNames: string[] = [];
  const tapped: string[] = [];
  const floatType = outputFloatType(model);
  for (const l of layers) {
    const src = found.perLayer[l];
    tapped.push(src.index === undefined ? src.tensor : `${src.tensor}[${src.index}]`);
    const out = `prefrank_layer_${l}`;
    outputNames.push(out);
    if (found.pooled) {
      newNodes.push(node('Identity', [src.tensor], [out], `/prefrank/tap.${l}/Identity`));
      continue;
    }
    let x = src.tensor;
    if (src.index !== undefined) {
      // A stacked [layers, batch, tokens, width] output: pick layer l first.
      const idx = `prefrank_stack_index_${l}`;
      newInits.push(int64Scalar(idx, src.index));
      newNodes.push(node('Gather', [x, idx], [`/prefrank/tap.${l}/stack_output_0`], `/prefrank/tap.${l}/GatherLayer`, { axis: 0 }));
      x = `/prefrank/tap.${l}/stack_output_0`;
    }
    // [batch, tokens, width] -> [batch * tokens, width] -> rows at the flat last-token indices.
    newNodes.push(node('Flatten', [x], [`/prefrank/tap.${l}/Flatten_output_0`], `/prefrank/tap.${l}/Flatten`, { axis: 2 }));
    newNodes.push(node('Gather', [`/prefrank/tap.${l}/Flatten_output_0`, LAST_INDEX_INPUT], [out], `/prefrank/tap.${l}/Gather`, { axis: 0 }));
  }
  g.node = [...(g.node ?? []), ...newNodes];
  g.initializer = [...(g.initializer ?? []), ...newInits];
  const takesLastIndex = !found.pooled;
  if (takesLastIndex) g.input = [...(g.input ?? []), valueInfo(LAST_INDEX_INPUT, DataType.INT64, ['batch'])];
  g.output = outputNames.map((n) => valueInfo(n, floatType, ['batch', found.declaredWidth ?? 'width']));
  pruneGraph(model);
  return { kind: found.kind, numLayers, layers, outputNames, takesLastIndex, tapped, declaredWidth: found.declaredWidth, model };
}

function int64Scalar(name: string, v: number) {
  const t = int64s(name, [v]);
  t.dims = [];
  return t;
}

/** The float type of the model's outputs (fp16 exports stay fp16; converted when read). */
function outputFloatType(model: ModelProto): number {
  for (const o of model.graph!.output ?? []) {
    const t = elemTypeOf(o as ValueInfoProto);
    if (t === DataType.FLOAT16 || t === DataType.FLOAT) return t;
  }
  return DataType.FLOAT;
}

/** Names a node reads, including the outer-scope names its subgraphs (If, Loop, Scan) read. */
function nodeReads(n: NodeProto, acc: Set<string>): void {
  for (const t of n.input ?? []) if (t) acc.add(t);
  for (const a of n.attribute ?? []) {
    const graphs = [...(a.g ? [a.g] : []), ...(a.graphs ?? [])];
    for (const sg of graphs) for (const sn of sg.node ?? []) nodeReads(sn as NodeProto, acc);
  }
}

/**
 * Drops every node, initializer and input the new outputs do not need (the lm_head, the final norm,
 * layers after the last selected one). Keeps the original order, so the result is deterministic.
 */
export function pruneGraph(model: ModelProto): void {
  const g = model.graph!;
  const nodes = (g.node ?? []) as NodeProto[];
  const needed = new Set((g.output ?? []).map((o) => o.name!));
  const keep: boolean[] = new Array(nodes.length).fill(false);
  for (let i = nodes.length - 1; i >= 0; i--) {
    if (!(nodes[i].output ?? []).some((t) => needed.has(t))) continue;
    keep[i] = true;
    nodeReads(nodes[i], needed);
  }
  g.node = nodes.filter((_, i) => keep[i]);
  g.initializer = (g.initializer ?? []).filter((t) => needed.has(t.name!));
  g.input = (g.input ?? []).filter((v) => needed.has(v.name!));
  // Shape annotations of pruned tensors are harmless but dead weight.
  g.valueInfo = (g.valueInfo ?? []).filter((v) => needed.has(v.name!));
}

export function encodeTapped(plan: TapPlan): Uint8Array {
  return encodeModelProto(plan.model);
}

export { onnx };
