/**
 * Training of the hybrid probe (DESIGN.md, Method 2): the margin loss
 * `-log sigmoid(r_chosen - r_rejected - m)` on preference pairs and/or the logistic loss
 * `-[y log sigmoid(r) + (1 - y) log(1 - sigmoid(r))]` on per-response safety labels (y = 1: safe),
 * minimised with Adam and decoupled weight decay (AdamW) on minibatches, with hand-written exact
 * gradients (see `probeGradients`, checked against finite differences in the tests).
 *
 * A seeded held-out split drives early stopping: the epoch with the best held-out pairwise accuracy
 * is kept (ties go to the lower held-out loss, then the earlier epoch). Everything random comes from
 * one seeded Prng, and the loop is sequential, so the same data and options give the same bytes.
 */
import { HybridProbe, hybridForward, logSigmoid, sigmoid } from './HybridProbe.js';
import { checkAlpha, fitCalibration } from './posterior.js';
import { accuracyByGroup, auroc, fitAlpha, pairLogLikelihood, pairReliability, pairwiseAccuracy } from './metrics.js';
import { Prng } from './Prng.js';
import type { CalibrationFit, ProbeMetrics } from '../../schemas/probe.js';
import type { TrainingLabel, TrainingPair } from '../../schemas/features.js';

export interface TrainProbeOptions {
  readonly layers: number;
  readonly width: number;
  /** Margin m of the pair loss (paper: 1). */
  readonly margin?: number;
  readonly lr?: number;
  readonly weightDecay?: number;
  /** Maximum number of passes over the training split. */
  readonly epochs?: number;
  /** Stop after this many epochs without a better held-out score. */
  readonly patience?: number;
  readonly batchSize?: number;
  readonly seed?: number;
  /** Fraction of pairs (and of labels) held out for early stopping and alpha, in [0, 1). */
  readonly holdout?: number;
  /** Standardise features with the training split's mean/std (stored in the probe). */
  readonly standardize?: boolean;
  /** Weight of the label loss relative to the pair loss. */
  readonly labelWeight?: number;
  /** 'auto': maximum likelihood on the held-out pairs; or a fixed number. */
  readonly alpha?: 'auto' | number;
  /** Called after each epoch (progress for the CLI). */
  readonly onEpoch?: (e: EpochReport) => void;
}

export interface EpochReport {
  readonly epoch: number;
  readonly trainLoss: number;
  readonly heldOutAccuracy: number;
  readonly heldOutLoss: number;
}

export interface TrainProbeResult {
  readonly probe: HybridProbe;
  readonly alpha: number;
  readonly alphaSource: 'auto' | 'fixed';
  /** The confidence's calibration on the held-out pairs and labels (null without held-out pairs). */
  readonly calibration: CalibrationFit | null;
  readonly metrics: ProbeMetrics;
  /** Indices of the held-out pairs and labels in the input arrays. */
  readonly heldOut: { readonly pairs: readonly number[]; readonly labels: readonly number[] };
  readonly options: Required<Omit<TrainProbeOptions, 'onEpoch' | 'alpha'>> & { readonly alpha: 'auto' | number };
}

/** Most clean pairs the calibration uses (every safe x unsafe held-out pair, strided down to this). */
export const CLEAN_PAIRS_MAX = 4000;

/**
 * Pairs of known order from held-out per-response labels: each safe response against each unsafe
 * one (safe first), taken with a fixed stride when there are more than CLEAN_PAIRS_MAX.
 */
export function cleanPairs(scores: readonly number[], safe: readonly boolean[]): { rc: number[]; rr: number[] } {
  const s = scores.filter((_, i) => safe[i]);
  const u = scores.filter((_, i) => !safe[i]);
  const total = s.length * u.length;
  const stride = Math.max(1, Math.ceil(total / CLEAN_PAIRS_MAX));
  const rc: number[] = [];
  const rr: number[] = [];
  for (let k = 0; k < total; k += stride) {
    rc.push(s[Math.floor(k / u.length)]);
    rr.push(u[k % u.length]);
  }
  return { rc, rr };
}

/** Splits 0..n-1 into [train, heldOut] with a seeded permutation; both sorted ascending. */
export function splitIndices(n: number, fraction: number, seed: number): [number[], number[]] {
  const perm = new Prng(seed).permutation(n);
  const k = Math.round(n * fraction);
  const held = perm.slice(0, k).sort((a, b) => a - b);
  const train = perm.slice(k).sort((a, b) => a - b);
  return [train, held];
}

/** Trainable parameters in float64 (the probe is rounded to float32 when materialised). */
export interface ProbeParams {
  readonly L: number;
  readonly D: number;
  readonly w: Float64Array;
  readonly b: Float64Array;
  readonly v: Float64Array;
}

/**
 * Adds coef * d r(x) / d theta into the gradient buffers, given the forward cache (s, g).
 * With u_k = s_k g_k (1 - g_k):  dr/dV_kj = u_k s_j;  dr/ds_j = g_j + sum_k u_k V_kj;
 * dr/db_l = dr/ds_l;  dr/dw_l = dr/ds_l * x_l.  With one layer r = s_0, so dr/ds_0 = 1.
 */
export function accumulateRewardGradient(p: ProbeParams, x: ArrayLike<number>, off: number, s: Float64Array, g: Float64Array, coef: number, grad: ProbeParams): void {
  const { L, D } = p;
  const ds = new Float64Array(L);
  if (L === 1) ds[0] = 1;
  else {
    for (let j = 0; j < L; j++) ds[j] = g[j];
    for (let k = 0; k < L; k++) {
      const u = s[k] * g[k] * (1 - g[k]);
      for (let j = 0; j < L; j++) {
        ds[j] += u * p.v[k * L + j];
        grad.v[k * L + j] += coef * u * s[j];
      }
    }
  }
  for (let l = 0; l < L; l++) {
    const c = coef * ds[l];
    grad.b[l] += c;
    const xo = off + l * D;
    const wo = l * D;
    for (let d = 0; d < D; d++) grad.w[wo + d] += c * x[xo + d];
  }
}

/** Loss of one pair and its gradient contribution (scaled by `scale`). Returns the loss. */
export function pairLossAndGradient(p: ProbeParams, xc: ArrayLike<number>, xr: ArrayLike<number>, margin: number, scale: number, grad: ProbeParams | null): number {
  const sc = new Float64Array(p.L), gc = new Float64Array(p.L), sr = new Float64Array(p.L), gr = new Float64Array(p.L);
  const rc = hybridForward(p.L, p.D, p.w, p.b, p.v, xc, 0, sc, gc);
  const rr = hybridForward(p.L, p.D, p.w, p.b, p.v, xr, 0, sr, gr);
  const z = rc - rr - margin;
  if (grad) {
    const dz = sigmoid(z) - 1; // d/dz of -log sigmoid(z)
    accumulateRewardGradient(p, xc, 0, sc, gc, scale * dz, grad);
    accumulateRewardGradient(p, xr, 0, sr, gr, -scale * dz, grad);
  }
  return -logSigmoid(z);
}

/** Logistic loss of one labelled response (safe = 1) and its gradient contribution. */
export function labelLossAndGradient(p: ProbeParams, x: ArrayLike<number>, safe: boolean, scale: number, grad: ProbeParams | null): number {
  const s = new Float64Array(p.L), g = new Float64Array(p.L);
  const r = hybridForward(p.L, p.D, p.w, p.b, p.v, x, 0, s, g);
  const y = safe ? 1 : 0;
  if (grad) accumulateRewardGradient(p, x, 0, s, g, scale * (sigmoid(r) - y), grad);
  return safe ? -logSigmoid(r) : -logSigmoid(-r);
}

function zerosLike(p: ProbeParams): ProbeParams {
  return { L: p.L, D: p.D, w: new Float64Array(p.w.length), b: new Float64Array(p.b.length), v: new Float64Array(p.v.length) };
}

function toProbe(p: ProbeParams, mean: Float32Array | null, std: Float32Array | null): HybridProbe {
  return new HybridProbe({ layers: p.L, width: p.D, w: Float32Array.from(p.w), b: Float32Array.from(p.b), v: Float32Array.from(p.v), mean, std });
}

function checkNumber(name: string, v: number, ok: (v: number) => boolean, what: string): void {
  if (typeof v !== 'number' || !Number.isFinite(v) || !ok(v)) throw new RangeError(`trainProbe: ${name} must be ${what}, got ${v}`);
}

/**
 * Trains a hybrid probe on pairs and/or labelled responses. Throws RangeError on bad options or
 * feature shapes (the CLI turns them into UserErrors).
 */
/** Fills the defaults of TrainProbeOptions and checks them; throws a RangeError naming the option. */
export function resolveTrainOptions(options: TrainProbeOptions): TrainProbeResult['options'] {
  const o = {
    layers: options.layers,
    width: options.width,
    margin: options.margin ?? 1,
    lr: options.lr ?? 1e-3,
    weightDecay: options.weightDecay ?? 0.01,
    epochs: options.epochs ?? 100,
    patience: options.patience ?? 10,
    batchSize: options.batchSize ?? 64,
    seed: options.seed ?? 0,
    holdout: options.holdout ?? 0.2,
    standardize: options.standardize ?? true,
    labelWeight: options.labelWeight ?? 1,
    alpha: options.alpha ?? ('auto' as const),
  };
  checkNumber('layers', o.layers, (v) => Number.isInteger(v) && v >= 1, 'a positive integer');
  checkNumber('width', o.width, (v) => Number.isInteger(v) && v >= 1, 'a positive integer');
  checkNumber('margin', o.margin, (v) => v >= 0, '>= 0');
  checkNumber('lr', o.lr, (v) => v > 0, '> 0');
  checkNumber('weightDecay', o.weightDecay, (v) => v >= 0, '>= 0');
  checkNumber('epochs', o.epochs, (v) => Number.isInteger(v) && v >= 1, 'a positive integer');
  checkNumber('patience', o.patience, (v) => Number.isInteger(v) && v >= 1, 'a positive integer');
  checkNumber('batchSize', o.batchSize, (v) => Number.isInteger(v) && v >= 1, 'a positive integer');
  checkNumber('seed', o.seed, (v) => Number.isInteger(v), 'an integer');
  checkNumber('holdout', o.holdout, (v) => v >= 0 && v < 1, 'in [0, 1)');
  checkNumber('labelWeight', o.labelWeight, (v) => v >= 0, '>= 0');
  if (o.alpha !== 'auto') checkAlpha(o.alpha, 'trainProbe: alpha');
  return o;
}

export function trainProbe(pairs: readonly TrainingPair[], labels: readonly TrainingLabel[], options: TrainProbeOptions): TrainProbeResult {
  const o = resolveTrainOptions(options);
  if (pairs.length === 0 && labels.length === 0) throw new RangeError('trainProbe: no training data (no pairs and no labelled responses)');
  const F = o.layers * o.width;
  pairs.forEach((p, i) => {
    if (p.chosen.length !== F || p.rejected.length !== F) throw new RangeError(`trainProbe: pair ${i} has ${p.chosen.length}/${p.rejected.length} features, expected ${o.layers} x ${o.width}`);
  });
  labels.forEach((l, i) => {
    if (l.features.length !== F) throw new RangeError(`trainProbe: label ${i} has ${l.features.length} features, expected ${o.layers} x ${o.width}`);
  });

  // Splits first, from the seed alone, so that they do not depend on other options.
  const [trainP, heldP] = splitIndices(pairs.length, o.holdout, o.seed);
  const [trainL, heldL] = splitIndices(labels.length, o.holdout, o.seed + 1);
  const rng = new Prng(o.seed + 2);

  // Standardisation from the training split only (held-out data must not leak into it).
  let mean: Float32Array | null = null;
  let std: Float32Array | null = null;
  if (o.standardize) {
    const sum = new Float64Array(F), sq = new Float64Array(F);
    let n = 0;
    const add = (x: Float32Array) => {
      for (let i = 0; i < F; i++) sum[i] += x[i];
      n++;
    };
    for (const i of trainP) add(pairs[i].chosen), add(pairs[i].rejected);
    for (const i of trainL) add(labels[i].features);
    const mu = n ? sum.map((s) => s / n) : sum;
    const addSq = (x: Float32Array) => {
      for (let i = 0; i < F; i++) sq[i] += (x[i] - mu[i]) ** 2;
    };
    for (const i of trainP) addSq(pairs[i].chosen), addSq(pairs[i].rejected);
    for (const i of trainL) addSq(labels[i].features);
    mean = Float32Array.from(mu);
    // A constant feature gets std 1 so it neither divides by zero nor matters.
    std = Float32Array.from(sq, (s) => {
      const sd = n > 1 ? Math.sqrt(s / (n - 1)) : 0;
      return sd > 1e-6 ? sd : 1;
    });
  }
  const prep = (x: Float32Array): Float32Array => {
    if (!mean || !std) return x;
    const z = new Float32Array(F);
    for (let i = 0; i < F; i++) z[i] = (x[i] - mean[i]) / std[i];
    return z;
  };
  const xc = trainP.map((i) => prep(pairs[i].chosen));
  const xr = trainP.map((i) => prep(pairs[i].rejected));
  const xl = trainL.map((i) => prep(labels[i].features));
  const yl = trainL.map((i) => labels[i].safe);

  // Small random w (so that layers differ from the start), zero biases, zero gate (g = 1/2).
  const params: ProbeParams = { L: o.layers, D: o.width, w: new Float64Array(F), b: new Float64Array(o.layers), v: new Float64Array(o.layers * o.layers) };
  const initScale = 0.1 / Math.sqrt(o.width);
  for (let i = 0; i < F; i++) params.w[i] = initScale * rng.normal();

  const m1 = zerosLike(params), m2 = zerosLike(params);
  const beta1 = 0.9, beta2 = 0.999, eps = 1e-8;
  let step = 0;
  const adam = (grad: ProbeParams) => {
    step++;
    const bc1 = 1 - beta1 ** step, bc2 = 1 - beta2 ** step;
    const update = (key: 'w' | 'b' | 'v', decay: boolean) => {
      const p = params[key], g = grad[key], a = m1[key], c = m2[key];
      for (let i = 0; i < p.length; i++) {
        a[i] = beta1 * a[i] + (1 - beta1) * g[i];
        c[i] = beta2 * c[i] + (1 - beta2) * g[i] * g[i];
        // Decoupled decay (AdamW) on weights, not on biases.
        p[i] -= o.lr * (a[i] / bc1 / (Math.sqrt(c[i] / bc2) + eps) + (decay ? o.weightDecay * p[i] : 0));
      }
    };
    update('w', true);
    update('b', false);
    update('v', true);
  };

  const heldRc = new Float32Array(heldP.length), heldRr = new Float32Array(heldP.length);
  const evalHeld = (probe: HybridProbe) => {
    let loss = 0;
    for (let k = 0; k < heldP.length; k++) {
      heldRc[k] = probe.score(pairs[heldP[k]].chosen);
      heldRr[k] = probe.score(pairs[heldP[k]].rejected);
      loss += -logSigmoid(heldRc[k] - heldRr[k] - o.margin);
    }
    if (heldP.length) return { acc: pairwiseAccuracy(heldRc, heldRr), loss: loss / heldP.length };
    // No held-out pairs: early stopping on the held-out labels' AUROC (or none at all).
    if (heldL.length) {
      const sc = heldL.map((i) => probe.score(labels[i].features));
      return { acc: auroc(sc, heldL.map((i) => labels[i].safe)) ?? NaN, loss: NaN };
    }
    return { acc: NaN, loss: NaN };
  };

  // Examples: index >= 0 is a training pair, index < 0 is training label ~index.
  const examples = [...xc.keys(), ...xl.keys()].map((k, j) => (j < xc.length ? k : ~k));
  let best = { probe: toProbe(params, mean, std), acc: -Infinity, loss: Infinity, epoch: 0 };
  let epochsRun = 0;
  let sinceBest = 0;
  for (let epoch = 1; epoch <= o.epochs; epoch++) {
    rng.shuffle(examples);
    let trainLoss = 0;
    for (let start = 0; start < examples.length; start += o.batchSize) {
      const end = Math.min(examples.length, start + o.batchSize);
      const grad = zerosLike(params);
      const scale = 1 / (end - start);
      for (let j = start; j < end; j++) {
        const e = examples[j];
        trainLoss += e >= 0 ? pairLossAndGradient(params, xc[e], xr[e], o.margin, scale, grad) : o.labelWeight * labelLossAndGradient(params, xl[~e], yl[~e], o.labelWeight * scale, grad);
      }
      adam(grad);
    }
    epochsRun = epoch;
    const probe = toProbe(params, mean, std);
    const h = evalHeld(probe);
    options.onEpoch?.({ epoch, trainLoss: trainLoss / Math.max(1, examples.length), heldOutAccuracy: h.acc, heldOutLoss: h.loss });
    const better = Number.isNaN(h.acc) || h.acc > best.acc || (h.acc === best.acc && h.loss < best.loss);
    if (better) {
      best = { probe, acc: h.acc, loss: h.loss, epoch };
      sinceBest = 0;
    } else if (++sinceBest >= o.patience) break;
  }

  const probe = best.probe;
  evalHeld(probe);
  const d = Float64Array.from(heldRc, (c, k) => c - heldRr[k]);
  const hl = heldL.map((i) => probe.score(labels[i].features));
  const calibration = fitCalibration({ rc: heldRc, rr: heldRr }, cleanPairs(hl, heldL.map((i) => labels[i].safe)), o.alpha === 'auto' ? undefined : o.alpha);
  const alpha = o.alpha !== 'auto' ? o.alpha : (calibration?.alpha ?? fitAlpha(d));
  const trainRc = trainP.map((i) => probe.score(pairs[i].chosen));
  const trainRr = trainP.map((i) => probe.score(pairs[i].rejected));
  const has = heldP.length > 0;
  const metrics: ProbeMetrics = {
    trainPairs: trainP.length,
    heldOutPairs: heldP.length,
    trainLabels: trainL.length,
    heldOutLabels: heldL.length,
    trainAccuracy: trainP.length ? pairwiseAccuracy(trainRc, trainRr) : null,
    heldOutAccuracy: has ? pairwiseAccuracy(heldRc, heldRr) : null,
    heldOutLoss: has ? best.loss : null,
    heldOutAuroc: heldL.length ? auroc(hl, heldL.map((i) => labels[i].safe)) : null,
    heldOutEce: has ? pairReliability(heldRc, heldRr, alpha).ece : null,
    heldOutLogLikelihood: has ? pairLogLikelihood(heldRc, heldRr, alpha) : null,
    heldOutByGroup: has ? accuracyByGroup(heldP.map((i) => pairs[i].group ?? ''), heldRc, heldRr) : [],
    bestEpoch: best.epoch,
    epochsRun,
  };
  return { probe, alpha, alphaSource: o.alpha === 'auto' ? 'auto' : 'fixed', calibration, metrics, heldOut: { pairs: heldP, labels: heldL }, options: o };
}
