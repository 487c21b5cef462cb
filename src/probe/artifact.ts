/**
 * The probe artifact, a folder: `model.safetensors` (the weights, loadable from Python) and
 * `probe.json` (what the weights are valid for and how they were made). Writing is deterministic:
 * no timestamps, fixed key order, sorted tensors.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { UsageError, UserError } from '../runtime/errors.js';
import { projectRoot } from '../runtime/paths.js';
import { HybridProbe } from './HybridProbe.js';
import { decodeSafetensors, encodeSafetensors } from './safetensors.js';
import { PROBE_FORMAT, PROBE_FORMAT_VERSION, PROBE_META_FILE, PROBE_WEIGHTS_FILE, type FeatureSource, type ProbeMetadata } from '../../schemas/probe.js';

export interface LoadedProbe {
  readonly probe: HybridProbe;
  readonly meta: ProbeMetadata;
  /** sha256 over the weights and metadata bytes: the probe's identity for manifests. */
  readonly sha256: string;
  readonly dir: string;
}

export function sha256Hex(bytes: Uint8Array | string): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/** prefrank's version from package.json. */
export function prefrankVersion(): string {
  return (JSON.parse(readFileSync(join(projectRoot(), 'package.json'), 'utf8')) as { version: string }).version;
}

/** Writes the probe folder (created if missing). Each file goes to a temporary name, then is renamed. */
export function saveProbe(dir: string, probe: HybridProbe, meta: Omit<ProbeMetadata, 'format' | 'formatVersion' | 'kind' | 'weightsSha256' | 'standardized'>): ProbeMetadata {
  if (meta.features.width !== probe.width || meta.features.layers.length !== probe.layers)
    throw new Error(`saveProbe: metadata says ${meta.features.layers.length} x ${meta.features.width}, the probe is ${probe.layers} x ${probe.width}`);
  mkdirSync(dir, { recursive: true });
  const weights = encodeSafetensors(probe.toTensors(), { format: 'pt' });
  const full: ProbeMetadata = {
    format: PROBE_FORMAT,
    formatVersion: PROBE_FORMAT_VERSION,
    prefrank: meta.prefrank,
    kind: probe.layers === 1 ? 'linear' : 'hybrid',
    features: meta.features,
    standardized: probe.mean !== null,
    alpha: meta.alpha,
    alphaSource: meta.alphaSource,
    calibration: meta.calibration ?? null,
    training: meta.training,
    metrics: meta.metrics,
    weightsSha256: sha256Hex(weights),
  };
  const write = (name: string, bytes: Uint8Array | string) => {
    const tmp = join(dir, `.${name}.tmp`);
    writeFileSync(tmp, bytes);
    renameSync(tmp, join(dir, name));
  };
  write(PROBE_WEIGHTS_FILE, weights);
  write(PROBE_META_FILE, JSON.stringify(full, null, 2) + '\n');
  return full;
}

/** Reads a probe folder; a missing or damaged file is a UserError naming it. */
export function loadProbe(dir: string): LoadedProbe {
  const metaFile = join(dir, PROBE_META_FILE);
  const weightsFile = join(dir, PROBE_WEIGHTS_FILE);
  for (const f of [metaFile, weightsFile]) if (!existsSync(f)) throw new UserError(`probe ${dir}: missing ${f}`);
  const metaBytes = readFileSync(metaFile);
  const weights = readFileSync(weightsFile);
  let meta: ProbeMetadata;
  try {
    meta = JSON.parse(metaBytes.toString('utf8')) as ProbeMetadata;
  } catch (err) {
    throw new UserError(`probe ${metaFile}: not valid JSON`, { cause: err });
  }
  if (meta.format !== PROBE_FORMAT) throw new UserError(`probe ${metaFile}: not a prefrank probe (format ${JSON.stringify(meta.format)})`);
  if (meta.formatVersion !== PROBE_FORMAT_VERSION) throw new UserError(`probe ${metaFile}: format version ${meta.formatVersion}, this prefrank reads ${PROBE_FORMAT_VERSION}`);
  if (sha256Hex(weights) !== meta.weightsSha256) throw new UserError(`probe ${weightsFile}: sha256 differs from weightsSha256 in ${PROBE_META_FILE} (file replaced or damaged)`);
  let probe: HybridProbe;
  try {
    probe = HybridProbe.fromTensors(decodeSafetensors(weights).tensors);
  } catch (err) {
    throw new UserError(`probe ${weightsFile}: ${(err as Error).message}`, { cause: err });
  }
  if (probe.layers !== meta.features.layers.length || probe.width !== meta.features.width)
    throw new UserError(`probe ${dir}: weights are ${probe.layers} x ${probe.width} but ${PROBE_META_FILE} says ${meta.features.layers.length} x ${meta.features.width}`);
  if (!(typeof meta.alpha === 'number' && Number.isFinite(meta.alpha) && meta.alpha >= 0)) throw new UserError(`probe ${metaFile}: alpha ${meta.alpha} is not a number >= 0`);
  const sha256 = createHash('sha256').update(weights).update(metaBytes).digest('hex');
  return { probe, meta, sha256, dir };
}

/**
 * Checks that a probe fits the features an embedder produces: model hash, tokenizer hash, layers,
 * width, pooling, template. Returns the differences (one readable line each). When there are any
 * and `force` is false, throws a UserError listing them; with `force` the caller warns and goes on
 * (unless the shapes differ, which no flag can fix: that always throws).
 */
export function checkProbeCompatibility(meta: ProbeMetadata, source: FeatureSource, opts: { readonly force?: boolean; readonly probeDir?: string } = {}): string[] {
  const p = meta.features;
  const diffs: string[] = [];
  const short = (h: string | null) => (h === null ? 'none' : h.slice(0, 12));
  if (p.modelSha256 !== source.modelSha256) diffs.push(`model sha256 ${short(source.modelSha256)} (${source.modelName}) but the probe was trained on ${short(p.modelSha256)} (${p.modelName})`);
  if (p.tokenizerSha256 !== source.tokenizerSha256) diffs.push(`tokenizer sha256 ${short(source.tokenizerSha256)} but the probe expects ${short(p.tokenizerSha256)}`);
  const shapeDiffers = p.width !== source.width || p.layers.length !== source.layers.length;
  if (p.width !== source.width) diffs.push(`width ${source.width} but the probe expects ${p.width}`);
  if (p.layers.join(',') !== source.layers.join(',')) diffs.push(`layers [${source.layers.join(', ')}] but the probe expects [${p.layers.join(', ')}]`);
  if (p.pooling !== source.pooling) diffs.push(`pooling ${source.pooling} but the probe expects ${p.pooling}`);
  if (p.template !== source.template) diffs.push(`template ${JSON.stringify(source.template)} but the probe expects ${JSON.stringify(p.template)}`);
  const where = opts.probeDir ? `probe ${opts.probeDir}` : 'probe';
  if (diffs.length && (shapeDiffers || !opts.force)) {
    const hint = shapeDiffers ? ' (the shapes differ, so --force cannot help: train a probe for this model with `prefrank probe train`)' : ' (retrain with `prefrank probe train`, or pass --force to use it anyway)';
    throw new UserError(`${where} does not match the model: ${diffs.join('; ')}${hint}`);
  }
  return diffs;
}

/** `--alpha auto` reads the probe's fitted alpha; a number overrides it (checked with the rule, checkRelabelRule). */
export function resolveAlpha(alpha: 'auto' | number | undefined, meta: ProbeMetadata): number {
  return alpha === undefined || alpha === 'auto' ? meta.alpha : alpha;
}

/**
 * `--label-prior auto` reads the prior fitted when the probe was trained; a number in (0, 1)
 * overrides it. A probe without one (an older prefrank, or no held-out pairs) needs the number.
 */
export function resolveLabelPrior(prior: 'auto' | number, meta: ProbeMetadata, probeDir: string): number {
  if (prior !== 'auto') {
    if (!(prior > 0 && prior < 1)) throw new UsageError(`--label-prior must be 'auto' or a number in (0, 1), got ${prior}`);
    return prior;
  }
  const fitted = meta.calibration?.labelPrior;
  if (fitted === undefined) throw new UserError(`probe ${probeDir} has no fitted label prior (trained without held-out pairs, or by an older prefrank): pass --label-prior P (the share of labels you believe right, e.g. 0.75) or retrain it`);
  return fitted;
}

/** The fields of an open Embedder (src/runtime/Embedder.ts) that decide its features. */
export interface EmbedderIdentity {
  readonly modelSha256: string;
  readonly tokenizerSha256: string | null;
  readonly layers: readonly number[];
  readonly width: number;
  readonly template: string;
}

/**
 * The FeatureSource of an open Embedder. Pooling is the embed stage's only one, the last real
 * token's hidden state (DESIGN.md, Method 1). `modelName` is for messages only (e.g. the model folder).
 */
export function featureSourceOf(embedder: EmbedderIdentity, modelName: string): FeatureSource {
  return {
    modelSha256: embedder.modelSha256,
    tokenizerSha256: embedder.tokenizerSha256,
    modelName,
    layers: [...embedder.layers],
    width: embedder.width,
    pooling: 'last-token',
    template: embedder.template,
  };
}
