/**
 * Records that cross a stage. Every stage consumes and produces `RecordBatch`es of tagged items,
 * so a bad row travels beside the good ones as data (a `RejectRecord`) instead of erroring the
 * stream; the writer sends each kind to its own folder.
 */

/** Where a row came from: the file and its 0-based row number in that file. */
export interface SourceRef {
  readonly sourceFile: string;
  readonly sourceRow: number;
}

/** Features of one text: the last real token's hidden state at each selected layer. */
export interface Embedding {
  /** Row-major [layers x width] float32. */
  readonly features: Float32Array;
  readonly layers: number;
  readonly width: number;
  /** Tokens fed to the model (after truncation). */
  readonly tokens: number;
  /** True when the text was cut to fit the token limit. */
  readonly truncated: boolean;
}

/** A canonical preference pair (after an adapter). */
export interface PairRecord extends SourceRef {
  readonly kind: 'pair';
  /** Stable id: the input's `id` when present, else a hash of source file, row and texts. */
  readonly pairId: string;
  /** True when pairId is the input's own `id` (checked for duplicates), false when derived. */
  readonly idFromInput?: boolean;
  readonly prompt: string;
  readonly chosen: string;
  readonly rejected: string;
  /** Per-response safety labels when the input has them (true = safe). */
  readonly chosenSafe: boolean | null;
  readonly rejectedSafe: boolean | null;
  /** Optional grouping for analysis (harm category, source subset). */
  readonly category: string | null;
  /** Input columns the adapter did not consume, passed through untouched. */
  readonly passThrough: Readonly<Record<string, unknown>>;
  /** Set by the embed stage. */
  readonly embChosen?: Embedding;
  readonly embRejected?: Embedding;
  /** Set by the score stage. */
  readonly rewardChosen?: number;
  readonly rewardRejected?: number;
  /** Set by the relabel stage. */
  readonly confidence?: number;
  readonly flipped?: boolean;
}

/** A listwise record: N candidate responses to one prompt. */
export interface ListRecord extends SourceRef {
  readonly kind: 'list';
  readonly listId: string;
  readonly idFromInput?: boolean;
  readonly prompt: string;
  readonly responses: readonly string[];
  readonly labels: readonly (boolean | null)[] | null;
  readonly category: string | null;
  readonly passThrough: Readonly<Record<string, unknown>>;
  /** Set by the embed stage, one per response. */
  readonly embeddings?: readonly Embedding[];
  /** Set by the score stage, one per response. */
  readonly rewards?: readonly number[];
}

/** A row that could not be processed, and why. Every input row ends in data/ or rejects/. */
/** The reason of a record with a text that has no tokens at all (embedPairs). */
export const NO_TOKENS = 'no tokens after tokenization';

export interface RejectRecord extends SourceRef {
  readonly kind: 'reject';
  /** Short machine-groupable reason, e.g. "missing column: chosen". */
  readonly reason: string;
  /** The raw row (JSON), truncated, so the reject can be inspected or repaired. */
  readonly raw: string;
}

/** A raw input row, before an adapter. */
export interface RawRow extends SourceRef {
  readonly kind: 'raw';
  readonly row: Readonly<Record<string, unknown>>;
}

export type Item = RawRow | PairRecord | ListRecord | RejectRecord;

/**
 * One unit of work inside the pipeline: a bounded slice of one input part.
 * `part` ties it to the output shard it belongs to (see `PartRef`).
 */
export interface RecordBatch<T extends Item = Item> {
  readonly part: PartRef;
  /** 0-based index of this batch within its part; batches of a part arrive in order. */
  readonly index: number;
  readonly items: readonly T[];
}

/**
 * A unit of input assigned to one output shard: a whole file, or a range of row groups of a large
 * Parquet file. Parts are numbered over the sorted input so that rank r of n takes r, r+n, ...
 */
export interface PartRef {
  /** 0-based part number (= output shard number). */
  readonly index: number;
  /** Total number of parts in the whole input (= n in `-of-{n}`). */
  readonly count: number;
  /** Absolute path of the input file. */
  readonly file: string;
  /**
   * The file as outputs name it (source_file, manifest, the plan in the config hash): relative to the
   * folder that holds all input files, with '/' separators. It does not depend on the working folder
   * or on where the inputs are mounted, so a run resumes from anywhere and ranks agree.
   */
  readonly source: string;
  readonly format: 'parquet' | 'jsonl';
  /** Row-group range [start, end) for Parquet parts; null for whole files. */
  readonly rowGroups: readonly [number, number] | null;
  /** First source row of the part within its file. */
  readonly firstRow: number;
  /** Rows in the part when the file says (Parquet metadata), else null (JSON lines). For progress only. */
  readonly rows?: number | null;
}
