/**
 * The hybrid reward probe of arXiv 2503.10093 (DESIGN.md, Method 2): one linear score per layer,
 * `s_l = w_l . h_l + b_l`, a gate `g = sigmoid(V s)` with V of shape L x L, and the reward
 * `r = sum_l g_l * s_l`. With one layer the gate is dropped and the probe is plain linear, `r = s_0`
 * (a one-element gate would only squash the score through `s * sigmoid(v s)`).
 *
 * Features may be standardised first, `h' = (h - mean) / std`, with mean/std from the training data
 * stored beside the weights. Parameters are float32; arithmetic runs in float64 and the reward is
 * rounded to float32, so scores are deterministic and identical across batch sizes.
 */
import type { Embedding } from '../../schemas/records.js';
import type { F32Tensor } from './safetensors.js';

export interface HybridProbeParams {
  readonly layers: number;
  readonly width: number;
  /** [layers x width] per-layer weights. */
  readonly w: Float32Array;
  /** [layers] per-layer biases. */
  readonly b: Float32Array;
  /** [layers x layers] gate matrix (row k gives gate k); unused with one layer. */
  readonly v: Float32Array;
  /** [layers x width] standardisation, or null when features are used raw. */
  readonly mean: Float32Array | null;
  readonly std: Float32Array | null;
}

/**
 * Forward pass on already-standardised features x[off .. off + L*D). Writes the per-layer scores
 * and gates into `s` and `g` when given (training reuses them for the backward pass).
 * Shared by HybridProbe and trainProbe so the trained function is exactly the deployed one.
 */
export function hybridForward(
  L: number,
  D: number,
  w: ArrayLike<number>,
  b: ArrayLike<number>,
  v: ArrayLike<number>,
  x: ArrayLike<number>,
  off: number,
  s: Float64Array = new Float64Array(L),
  g: Float64Array = new Float64Array(L),
): number {
  for (let l = 0; l < L; l++) {
    let acc = b[l];
    const wo = l * D;
    const xo = off + l * D;
    for (let d = 0; d < D; d++) acc += w[wo + d] * x[xo + d];
    s[l] = acc;
  }
  if (L === 1) {
    g[0] = 1;
    return s[0];
  }
  let r = 0;
  for (let k = 0; k < L; k++) {
    let z = 0;
    for (let j = 0; j < L; j++) z += v[k * L + j] * s[j];
    g[k] = sigmoid(z);
    r += g[k] * s[k];
  }
  return r;
}

export function sigmoid(z: number): number {
  // Two branches so that exp never overflows.
  if (z >= 0) return 1 / (1 + Math.exp(-z));
  const e = Math.exp(z);
  return e / (1 + e);
}

/** log(sigmoid(z)), stable for large |z|. */
export function logSigmoid(z: number): number {
  return z >= 0 ? -Math.log1p(Math.exp(-z)) : z - Math.log1p(Math.exp(z));
}

export class HybridProbe implements HybridProbeParams {
  readonly layers: number;
  readonly width: number;
  readonly w: Float32Array;
  readonly b: Float32Array;
  readonly v: Float32Array;
  readonly mean: Float32Array | null;
  readonly std: Float32Array | null;

  constructor(p: HybridProbeParams) {
    const { layers: L, width: D } = p;
    if (!(Number.isInteger(L) && L >= 1 && Number.isInteger(D) && D >= 1)) throw new RangeError(`HybridProbe: bad shape ${L} x ${D}`);
    const want = (name: string, a: Float32Array | null, n: number) => {
      if (a && a.length !== n) throw new RangeError(`HybridProbe: ${name} has ${a.length} values, expected ${n}`);
    };
    want('w', p.w, L * D);
    want('b', p.b, L);
    want('v', p.v, L * L);
    want('mean', p.mean, L * D);
    want('std', p.std, L * D);
    if ((p.mean === null) !== (p.std === null)) throw new RangeError('HybridProbe: mean and std come together');
    this.layers = L;
    this.width = D;
    this.w = p.w;
    this.b = p.b;
    this.v = p.v;
    this.mean = p.mean;
    this.std = p.std;
  }

  /** Reward of one response from its [layers x width] features starting at `off`. */
  score(features: ArrayLike<number>, off = 0): number {
    const n = this.layers * this.width;
    if (features.length - off < n) throw new RangeError(`HybridProbe: features have ${features.length - off} values, expected ${n}`);
    let x: ArrayLike<number> = features;
    let xo = off;
    if (this.mean && this.std) {
      const z = new Float64Array(n);
      for (let i = 0; i < n; i++) z[i] = (features[off + i] - this.mean[i]) / this.std[i];
      x = z;
      xo = 0;
    }
    return Math.fround(hybridForward(this.layers, this.width, this.w, this.b, this.v, x, xo));
  }

  /** Rewards of n responses stored row-major in one [n x layers x width] matrix. */
  scoreMatrix(x: Float32Array, n: number): Float32Array {
    const stride = this.layers * this.width;
    if (x.length !== n * stride) throw new RangeError(`HybridProbe: matrix has ${x.length} values, expected ${n} x ${stride}`);
    const out = new Float32Array(n);
    for (let i = 0; i < n; i++) out[i] = this.score(x, i * stride);
    return out;
  }

  /** Rewards of a batch of embeddings; throws when an embedding's shape differs from the probe's. */
  scoreEmbeddings(embs: readonly Embedding[]): Float32Array {
    const out = new Float32Array(embs.length);
    for (let i = 0; i < embs.length; i++) {
      const e = embs[i];
      if (e.layers !== this.layers || e.width !== this.width)
        throw new RangeError(`HybridProbe: embedding is ${e.layers} x ${e.width}, the probe expects ${this.layers} x ${this.width}`);
      out[i] = this.score(e.features);
    }
    return out;
  }

  /** The weights as named float32 tensors (safetensors names: w, b, v, and mean/std when present). */
  toTensors(): Record<string, F32Tensor> {
    const L = this.layers;
    const D = this.width;
    const t: Record<string, F32Tensor> = {
      w: { shape: [L, D], data: this.w },
      b: { shape: [L], data: this.b },
      v: { shape: [L, L], data: this.v },
    };
    if (this.mean && this.std) {
      t.mean = { shape: [L, D], data: this.mean };
      t.std = { shape: [L, D], data: this.std };
    }
    return t;
  }

  static fromTensors(t: Readonly<Record<string, F32Tensor>>): HybridProbe {
    for (const k of ['w', 'b', 'v']) if (!t[k]) throw new Error(`probe weights lack tensor "${k}"`);
    const [L, D] = t.w.shape;
    if (t.w.shape.length !== 2) throw new Error(`probe tensor w has shape [${t.w.shape.join(', ')}], expected [layers, width]`);
    return new HybridProbe({ layers: L, width: D, w: t.w.data, b: t.b.data, v: t.v.data, mean: t.mean?.data ?? null, std: t.std?.data ?? null });
  }
}
