/** The output folder's manifest.json and the per-part completion records it is built from. */

/** Counts of one part (one output shard). rowsIn = rowsOut + rowsRejected for a readable part. */
export interface PartStats {
  readonly rowsIn: number;
  readonly rowsOut: number;
  readonly rowsRejected: number;
  readonly rowsFlipped: number;
  readonly rowsTruncated: number;
  readonly rejectsByReason: Readonly<Record<string, number>>;
}

/**
 * Expected label errors of a scored part, sums of posteriors (src/probe/posterior.ts): each output
 * pair's label is wrong with probability 1 - confidence when the confidence is calibrated.
 */
export interface ExpectedErrors {
  /** Sum over swapped pairs of P(the swap broke a correct pair). */
  expectedWrongFlips: number;
  /** Sum over output pairs of P(its label is wrong), after the run. */
  expectedWrongAfter: number;
  /** The same for the input's labels, before the run. */
  expectedWrongBefore: number;
  /** Pairs whose label is more likely wrong (confidence < 0.5) but kept: no swap within the budget. */
  heldBack: number;
}

/** Written as completions/{index:05d}.json once the part's shard is in place. */
export interface ShardResult {
  readonly index: number;
  readonly count: number;
  /** The part's input: the file, and its row groups (Parquet) or byte range (a split JSON lines file). */
  readonly input: { readonly file: string; readonly rowGroups: readonly [number, number] | null; readonly rowRange?: readonly [number, number]; readonly byteRange?: readonly [number, number] };
  /** "done", or "failed" when the input could not be read at all (the run exits non-zero). */
  readonly status: 'done' | 'failed';
  readonly error: string | null;
  /** Relative to the output folder; null when failed. */
  readonly output: string | null;
  readonly rejects: string | null;
  /** Listwise rows kept as lists (`convert` only). */
  readonly lists?: string;
  /** sha256 of the data shard's bytes. */
  readonly outputSha256: string | null;
  readonly stats: PartStats;
  /** Confidence histogram, 10 bins over [0, 1] (bin i holds [i/10, (i+1)/10)). */
  readonly confidenceHistogram: readonly number[];
  /** The execution provider that embedded the part (cpu, cuda, webgpu): what ran, not what was asked. */
  readonly device?: string;
  /** Present when the part's pairs carry a confidence (rerank). */
  readonly expectedErrors?: ExpectedErrors;
  /** Which rank wrote it and the config hash it was written under (for resume and merge). */
  readonly rank: number;
  readonly worldSize: number;
  readonly configHash: string;
}

/** manifest.json: what produced the folder, and every shard. */
export interface Manifest {
  readonly prefrank: string;
  readonly createdBy: string;
  /** The inputs' licence (a Hub id) when their folder says, else null. */
  readonly license?: string | null;
  readonly configHash: string;
  /** The settings that decide the output bytes (model/tokenizer/probe hashes, template, alpha, ...). */
  readonly config: Readonly<Record<string, unknown>>;
  readonly versions: Readonly<Record<string, string>>;
  readonly split: string;
  readonly totals: PartStats & { readonly parts: number; readonly failedParts: number; readonly expectedErrors?: ExpectedErrors };
  readonly shards: readonly ShardResult[];
}

export function emptyExpectedErrors(): ExpectedErrors {
  return { expectedWrongFlips: 0, expectedWrongAfter: 0, expectedWrongBefore: 0, heldBack: 0 };
}

/**
 * Adds one output pair to the running sums. `confidence` is P(the output order is right): a swapped
 * pair broke a correct one with probability 1 - confidence; any pair is still wrong with
 * 1 - confidence; before the run a kept pair was wrong with 1 - confidence, a swapped one with
 * its confidence.
 */
export function addExpectedErrors(e: ExpectedErrors, confidence: number, flipped: boolean): void {
  const wrong = 1 - confidence;
  e.expectedWrongAfter += wrong;
  if (flipped) {
    e.expectedWrongFlips += wrong;
    e.expectedWrongBefore += confidence;
  } else {
    e.expectedWrongBefore += wrong;
    if (confidence < 0.5) e.heldBack++;
  }
}

/** Sums of several parts' expected errors (manifest totals), rounded like each part's. */
export function sumExpectedErrors(parts: readonly (ExpectedErrors | undefined)[]): ExpectedErrors | undefined {
  const present = parts.filter((p): p is ExpectedErrors => p !== undefined);
  if (present.length === 0) return undefined;
  const e = emptyExpectedErrors();
  for (const p of present) {
    e.expectedWrongFlips += p.expectedWrongFlips;
    e.expectedWrongAfter += p.expectedWrongAfter;
    e.expectedWrongBefore += p.expectedWrongBefore;
    e.heldBack += p.heldBack;
  }
  return roundExpectedErrors(e);
}

/** Six decimals: enough for counts of pairs, and stable JSON for the manifest. */
export function roundExpectedErrors(e: ExpectedErrors): ExpectedErrors {
  const r = (x: number) => Number(x.toFixed(6));
  return { expectedWrongFlips: r(e.expectedWrongFlips), expectedWrongAfter: r(e.expectedWrongAfter), expectedWrongBefore: r(e.expectedWrongBefore), heldBack: e.heldBack };
}

/** run.json: what a run was asked to do; a rerun with other settings is refused (OutputFolder). */
export interface RunInfo {
  readonly configHash: string;
  readonly settings: Readonly<Record<string, unknown>>;
  readonly parts: number;
  readonly command: string;
  /** The inputs' licence when their folder says (a Hub id such as mit), for the dataset card. */
  readonly license?: string | null;
}
