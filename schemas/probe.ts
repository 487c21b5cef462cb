/**
 * The probe artifact's shapes: a folder with `model.safetensors` (the weights, loadable from
 * Python) and `probe.json` (ProbeMetadata: what the weights are valid for and how they were made).
 * src/probe/artifact.ts reads and writes it.
 */

export const PROBE_WEIGHTS_FILE = 'model.safetensors';
export const PROBE_META_FILE = 'probe.json';
export const PROBE_FORMAT = 'prefrank-probe';
export const PROBE_FORMAT_VERSION = 1;

/**
 * What a probe's features come from. The probe is only valid for features made exactly this way:
 * the same model bytes, tokenizer, layers, pooling and template.
 */
export interface FeatureSource {
  /** sha256 (hex) of the ONNX model file's bytes. */
  readonly modelSha256: string;
  /** sha256 (hex) of the tokenizer file, or null when the model has none of its own. */
  readonly tokenizerSha256: string | null;
  /** A readable model name (folder name); informative only, not checked. */
  readonly modelName: string;
  /** Indices of the model layers the features were taken from, in feature order. */
  readonly layers: readonly number[];
  /** Width of each layer's hidden state. */
  readonly width: number;
  /** How a text's hidden states become one vector per layer, e.g. "last-token". */
  readonly pooling: string;
  /** The prompt/response template the texts were rendered with. */
  readonly template: string;
}

/** The calibrated reward evidence: f(rc, rr), antisymmetric (f(rr, rc) = -f(rc, rr)). */
export interface Evidence {
  /** Slope of f at u = 0. */
  readonly alpha: number;
  /** How the slope grows with u = -min(rc, rr); 0 gives the plain form alpha * (rc - rr). */
  readonly unsafeSlope: number;
}

export interface CalibrationFit extends Evidence {
  /** Estimated share of labels that are right, p0, on the noisy held-out pairs. */
  readonly labelPrior: number;
  /** The probe's estimated accuracy against the true order on the noisy pairs: mean sigmoid(|f|). */
  readonly probeAccuracy: number;
  /** Share of the noisy pairs on which the reward agrees with the label. */
  readonly agreement: number;
  /** Noisy (label-order) and clean (true-order) pairs the fit used. */
  readonly pairs: number;
  readonly cleanPairs: number;
  /** How alpha and unsafeSlope were set: fitted with clean pairs, the agreement slope, or given. */
  readonly slopeSource: 'clean pairs' | 'agreement' | 'fixed';
}

export interface GroupAccuracy {
  readonly group: string;
  readonly n: number;
  readonly accuracy: number;
}

export interface ProbeMetrics {
  readonly trainPairs: number;
  readonly heldOutPairs: number;
  readonly trainLabels: number;
  readonly heldOutLabels: number;
  readonly trainAccuracy: number | null;
  readonly heldOutAccuracy: number | null;
  /** Mean held-out pair margin loss of the kept epoch. */
  readonly heldOutLoss: number | null;
  /** AUROC of the reward for the held-out safety labels, when there are both classes. */
  readonly heldOutAuroc: number | null;
  /** Expected calibration error of the pair confidence at the fitted alpha (10 bins over [0.5, 1]). */
  readonly heldOutEce: number | null;
  /** Mean held-out log-likelihood of the human labels at alpha. */
  readonly heldOutLogLikelihood: number | null;
  readonly heldOutByGroup: readonly GroupAccuracy[];
  readonly bestEpoch: number;
  readonly epochsRun: number;
}

export interface TrainingSummary {
  /** Input files (base names, sorted) and how many pairs / labelled responses each gave. */
  readonly inputs: readonly { readonly file: string; readonly pairs: number; readonly labels: number }[];
  readonly pairs: number;
  readonly labels: number;
  /** The training options actually used (margin, lr, weightDecay, epochs, seed, holdout, ...). */
  readonly options: Readonly<Record<string, unknown>>;
  /** Measured comparisons behind choices in the training recipe (e.g. with or without extra data). */
  readonly experiments?: Readonly<Record<string, unknown>>;
}

export interface ProbeMetadata {
  readonly format: typeof PROBE_FORMAT;
  readonly formatVersion: number;
  /** prefrank version that wrote it. */
  readonly prefrank: string;
  /** 'linear' for one layer, 'hybrid' for several (DESIGN.md, Method 2). */
  readonly kind: 'linear' | 'hybrid';
  readonly features: FeatureSource;
  readonly standardized: boolean;
  /** Temperature of the confidence c = sigmoid(alpha * (r_chosen - r_rejected)). */
  readonly alpha: number;
  /** 'auto': maximum likelihood on the held-out pairs; 'fixed': given by the user. */
  readonly alphaSource: 'auto' | 'fixed';
  /**
   * The confidence's calibration on held-out pairs (src/probe/posterior.ts): the training labels'
   * reliability p0 (`--label-prior auto`) and the slope's growth with unsafety (`--alpha auto`).
   * Absent in probes written before the posterior confidence.
   */
  readonly calibration?: CalibrationFit | null;
  readonly training: TrainingSummary;
  readonly metrics: ProbeMetrics;
  /** sha256 of model.safetensors, so a swapped weights file is detected. */
  readonly weightsSha256: string;
}
