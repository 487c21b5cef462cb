/**
 * The attention rewrite: finds the unfused scaled-dot-product attention that torch.onnx writes for
 * Hugging Face models and replaces each one with onnxruntime's `com.microsoft.MultiHeadAttention`,
 * the contrib op its CPU, CUDA and WebGPU providers run as one kernel (flash-style on the GPU
 * ones), so the [batch, heads, tokens, tokens] scores never exist as separate tensors between
 * MatMul, Div, Add and Softmax.
 *
 * The pattern, per layer (BERT, RoBERTa, MiniLM, and decoders whose heads are already rotated and
 * repeated):
 *
 * ```
 * q3 -> Reshape [B,S,H,d] -> Transpose(0,2,1,3) ----------------------.
 * k3 -> Reshape -> Transpose(0,2,3,1)  (or (0,2,1,3) then (0,1,3,2)) --MatMul -> Div c | Mul c -> [Add mask] -> Softmax(-1) --.
 * v3 -> Reshape -> Transpose(0,2,1,3) --------------------------------------------------------------------------------------MatMul -> Transpose(0,2,1,3) -> Reshape [B,S,H*d]
 * ```
 *
 * becomes `MultiHeadAttention(q3, k3, v3, attention_bias = mask expanded to [B,1,S,T])` with
 * num_heads H and scale 1/c (or c). The head count is read from the query Reshape's shape (a
 * constant, or the Concat torch.onnx builds with H and d as constants); an attention whose heads
 * cannot be read, or whose tensors are also used elsewhere, is left as it is. The additive mask is
 * passed as it is (broadcast to [B,1,S,T] once per mask), so a padding mask and a causal one fuse
 * alike. Off by default (`--fuse-attention`): the outputs agree within float rounding, and whether
 * it pays depends on the provider (`npm run bench`, the GPU check).
 */
import { pruneGraph } from './layerTap.js';
import { DataType, int64s, node, onnx, type ModelProto, type NodeProto, type TensorProto } from './onnxBuild.js';

export interface FuseResult {
  /** Attentions replaced. */
  readonly fused: number;
  /** Softmax nodes that looked like attention but did not match the whole pattern. */
  readonly skipped: number;
}

type Graph = NonNullable<ModelProto['graph']>;

function ints(n: NodeProto, name: string): number[] | null {
  const a = (n.attribute ?? []).find((x) => x.name === name);
  return a?.ints ? a.ints.map(Number) : null;
}

function intAttr(n: NodeProto, name: string, fallback: number): number {
  const a = (n.attribute ?? []).find((x) => x.name === name);
  return a && a.i !== undefined && a.i !== null ? Number(a.i) : fallback;
}

function tensorValues(t: TensorProto): number[] | null {
  const raw = t.rawData && t.rawData.length ? t.rawData : null;
  if (t.dataType === DataType.INT64) {
    if (raw) return Array.from(new BigInt64Array(raw.buffer.slice(raw.byteOffset, raw.byteOffset + raw.byteLength)), Number);
    return (t.int64Data ?? []).map(Number);
  }
  if (t.dataType === DataType.FLOAT) {
    if (raw) return Array.from(new Float32Array(raw.buffer.slice(raw.byteOffset, raw.byteOffset + raw.byteLength)));
    return (t.floatData ?? []).map(Number);
  }
  if (t.dataType === DataType.DOUBLE && !raw) return (t.doubleData ?? []).map(Number);
  return null;
}

const samePerm = (p: number[] | null, want: number[]) => p !== null && p.length === want.length && p.every((v, i) => v === want[i]);

export function fuseAttention(model: ModelProto): FuseResult {
  const g = model.graph as Graph;
  const nodes = (g.node ?? []) as NodeProto[];
  const producer = new Map<string, NodeProto>();
  const consumers = new Map<string, NodeProto[]>();
  for (const n of nodes) {
    for (const o of n.output ?? []) producer.set(o, n);
    for (const i of n.input ?? []) if (i) (consumers.get(i) ?? consumers.set(i, []).get(i)!).push(n);
  }
  const outputs = new Set((g.output ?? []).map((o) => o.name!));
  const inits = new Map((g.initializer ?? []).map((t) => [t.name!, t as TensorProto]));
  const constant = (name: string): number[] | null => {
    const t = inits.get(name);
    if (t) return tensorValues(t);
    const p = producer.get(name);
    if (p?.opType === 'Constant') {
      const v = (p.attribute ?? []).find((a) => a.name === 'value');
      return v?.t ? tensorValues(v.t as TensorProto) : null;
    }
    return null;
  };
  const by = (name: string, op: string): NodeProto | null => {
    const p = producer.get(name);
    return p && p.opType === op ? p : null;
  };
  // A tensor the pattern removes may feed only the next node of the pattern.
  const only = (name: string, next: NodeProto) => !outputs.has(name) && (consumers.get(name) ?? []).every((c) => c === next);
  // [B,S,H,d] from a Reshape's shape input: a constant, or a Concat of four parts whose last two are constants.
  const headsOf = (shapeName: string): { H: number; d: number } | null => {
    const c = constant(shapeName);
    if (c && c.length === 4 && c[2] > 0 && c[3] > 0) return { H: c[2], d: c[3] };
    const cat = by(shapeName, 'Concat');
    if (!cat || (cat.input ?? []).length !== 4) return null;
    const [h, d] = [constant(cat.input![2]), constant(cat.input![3])];
    return h?.length === 1 && d?.length === 1 && h[0] > 0 && d[0] > 0 ? { H: h[0], d: d[0] } : null;
  };
  const scaleOf = (name: string) => by(name, 'Div') ?? by(name, 'Mul');
  // The [B,S,*] input of a head split: Reshape(x3, shape) -> Transpose(perm).
  const split = (name: string, perm: number[]): { x3: string; reshape: NodeProto; transpose: NodeProto } | null => {
    const t = by(name, 'Transpose');
    if (!t || !samePerm(ints(t, 'perm'), perm)) return null;
    const r = by(t.input![0], 'Reshape');
    if (!r || !only(t.input![0], t)) return null;
    return { x3: r.input![0], reshape: r, transpose: t };
  };

  const remove = new Set<NodeProto>();
  const added: { at: NodeProto; nodes: NodeProto[] }[] = [];
  const expanded = new Map<string, string>();
  let fused = 0;
  let skipped = 0;
  for (const sm of nodes) {
    const axis = intAttr(sm, 'axis', -1);
    if (sm.opType !== 'Softmax' || (axis !== -1 && axis !== 3)) continue;
    const hit = (() => {
      let x = sm.input![0];
      let mask: string | null = null;
      const add = by(x, 'Add');
      const pieces: NodeProto[] = [sm];
      if (add) {
        // Which side is the scaled scores: the one made by Div or Mul from a MatMul.
        const [a, b] = add.input!;
        const scaled = (n: string) => {
          const o = scaleOf(n);
          return o !== null && (by(o.input![0], 'MatMul') !== null || by(o.input![1], 'MatMul') !== null);
        };
        const [s, m] = scaled(a) ? [a, b] : scaled(b) ? [b, a] : [null, null];
        if (!s || !only(x, sm)) return null;
        pieces.push(add);
        mask = m;
        x = s;
      }
      const op = scaleOf(x);
      if (!op || !only(x, add ?? sm)) return null;
      pieces.push(op);
      const qkName = op.opType === 'Div' || by(op.input![0], 'MatMul') ? op.input![0] : op.input![1];
      const c = constant(op.input![qkName === op.input![0] ? 1 : 0]);
      if (!c || c.length !== 1 || !(c[0] > 0)) return null;
      const scale = op.opType === 'Div' ? 1 / c[0] : c[0];
      const qk = by(qkName, 'MatMul');
      if (!qk || !only(qkName, op)) return null;
      pieces.push(qk);
      const q = split(qk.input![0], [0, 2, 1, 3]);
      if (!q || !only(qk.input![0], qk)) return null;
      // Keys transposed for the product in one Transpose, or as heads and then (0,1,3,2).
      let k = split(qk.input![1], [0, 2, 3, 1]);
      if (k && !only(qk.input![1], qk)) return null;
      if (!k) {
        const t2 = by(qk.input![1], 'Transpose');
        if (!t2 || !samePerm(ints(t2, 'perm'), [0, 1, 3, 2]) || !only(qk.input![1], qk)) return null;
        k = split(t2.input![0], [0, 2, 1, 3]);
        if (!k || !only(t2.input![0], t2)) return null;
        pieces.push(t2);
      }
      const smOut = sm.output![0];
      const pv = (consumers.get(smOut) ?? []).length === 1 ? consumers.get(smOut)![0] : null;
      if (!pv || pv.opType !== 'MatMul' || pv.input![0] !== smOut || outputs.has(smOut)) return null;
      const v = split(pv.input![1], [0, 2, 1, 3]);
      if (!v || !only(pv.input![1], pv)) return null;
      const tOut = (consumers.get(pv.output![0]) ?? [])[0];
      if (!tOut || tOut.opType !== 'Transpose' || !samePerm(ints(tOut, 'perm'), [0, 2, 1, 3]) || !only(pv.output![0], tOut)) return null;
      const rOut = (consumers.get(tOut.output![0]) ?? [])[0];
      if (!rOut || rOut.opType !== 'Reshape' || !only(tOut.output![0], rOut)) return null;
      // The merge must give [B, S, H*d], the op's output shape (not, say, [B*S, H*d]).
      const merged = rOut.input![1];
      if ((constant(merged)?.length ?? (by(merged, 'Concat')?.input ?? []).length) !== 3) return null;
      const heads = headsOf(q.reshape.input![1]);
      if (!heads) return null;
      pieces.push(q.reshape, q.transpose, k.reshape, k.transpose, v.reshape, v.transpose, pv, tOut, rOut);
      return { pieces, q3: q.x3, k3: k.x3, v3: v.x3, mask, scale, H: heads.H, out: rOut.output![0] };
    })();
    if (!hit) {
      // Only a Softmax fed by scaled scores counts as a missed attention.
      if (by(sm.input![0], 'Add') || scaleOf(sm.input![0])) skipped++;
      continue;
    }
    const prefix = (sm.name || `attention_${fused}`).replace(/\/[^/]*$/, '');
    const made: NodeProto[] = [];
    let bias = '';
    if (hit.mask) {
      // One broadcast per mask tensor: [B|1, 1, 1|S, T] -> [B|1, 1, S, T], as the op wants.
      bias = expanded.get(hit.mask) ?? '';
      if (!bias) {
        const base = `/prefrank_fused_attention/mask_${expanded.size}`;
        const sLen = `${base}/seq`;
        g.initializer!.push(int64s(`${base}/one`, [1]), int64s(`${base}/axis1`, [1]));
        made.push(
          node('Shape', [hit.q3], [`${base}/shape`], `${base}/Shape`),
          node('Gather', [`${base}/shape`, `${base}/axis1`], [sLen], `${base}/Gather`, { axis: 0 }),
          node('Concat', [`${base}/one`, `${base}/one`, sLen, `${base}/one`], [`${base}/target`], `${base}/Concat`, { axis: 0 }),
          node('Expand', [hit.mask, `${base}/target`], [`${base}/bias`], `${base}/Expand`),
        );
        bias = `${base}/bias`;
        expanded.set(hit.mask, bias);
      }
    }
    const mha = node('MultiHeadAttention', [hit.q3, hit.k3, hit.v3, '', '', bias], [hit.out], `${prefix}/MultiHeadAttention`, { num_heads: hit.H, scale: { float: hit.scale } });
    mha.domain = 'com.microsoft';
    made.push(mha);
    for (const p of hit.pieces) remove.add(p);
    added.push({ at: sm, nodes: made });
    fused++;
  }
  if (fused === 0) return { fused, skipped };
  // The new nodes take the place of each Softmax, so the order stays topological: everything they
  // read (q3, k3, v3, the mask) was made before the scores they replace.
  const at = new Map(added.map((a) => [a.at, a.nodes]));
  g.node = nodes.flatMap((n) => (at.has(n) ? at.get(n)! : remove.has(n) ? [] : [n]));
  if (!(model.opsetImport ?? []).some((o) => o.domain === 'com.microsoft')) model.opsetImport = [...(model.opsetImport ?? []), onnx.OperatorSetIdProto.create({ domain: 'com.microsoft', version: 1 })];
  // The head-shape arithmetic and scale constants that only the old nodes read.
  pruneGraph(model);
  return { fused, skipped };
}
