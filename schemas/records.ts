/**
 * Records that cross a stage. Every stage consumes and produces `RecordBatch`es of tagged items,
 * so a bad row travels beside the good ones as data (a `RejectRecord`) instead of erroring the
 * stream; the writer sends each kind to its own folder.
 */

import type { Utf8Texts } from './utf8Texts.js';

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
  /** Stable id: the input's `id` when present, else a hash of its texts (adapters.ts, contentId). */
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
  /** prompt, chosen and rejected as UTF-8, when the adapter made them (the writer copies them). */
  readonly utf8?: Utf8Texts;
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
}

/*
 * Stages. Each stage adds its fields to the record, and its type says so: an operator that needs
 * embeddings takes an EmbeddedItem, so running it before embedPairs does not compile (the runtime
 * "X must run first" checks these types replaced).
 *
 *   RawRow -> PairRecord | ListRecord -> Embedded* -> Scored* -> (lists to pairs) -> LabelledPair
 */

/** A pair after embedPairs. */
export interface EmbeddedPair extends PairRecord {
  readonly embChosen: Embedding;
  readonly embRejected: Embedding;
}

/** A list after embedPairs: one embedding per response. */
export interface EmbeddedList extends ListRecord {
  readonly embeddings: readonly Embedding[];
}

/** A pair after scorePairs (or made from a scored list by pairsFromLists). */
export interface ScoredPair extends EmbeddedPair {
  readonly rewardChosen: number;
  readonly rewardRejected: number;
}

/** A list after scorePairs: one reward per response. */
export interface ScoredList extends EmbeddedList {
  readonly rewards: readonly number[];
}

/** A pair after relabelPairs: the posterior that its (possibly swapped) order is right. */
export interface LabelledPair extends ScoredPair {
  /** Float32-rounded, the output column's type. */
  readonly confidence: number;
  /** True when chosen and rejected were swapped relative to the input. */
  readonly flipped: boolean;
}

/** The reason of a record with a text that has no tokens at all (embedPairs). */
export const NO_TOKENS = 'no tokens after tokenization';

/** A row that could not be processed, and why. Every input row ends in data/ or rejects/. */
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

/** What each stage emits: its records, and the rejects made so far, in input order. */
export type ReadItem = RawRow | RejectRecord;
export type CanonicalItem = PairRecord | ListRecord | RejectRecord;
export type EmbeddedItem = EmbeddedPair | EmbeddedList | RejectRecord;
export type ScoredItem = ScoredPair | ScoredList | RejectRecord;
/** After pairsFromLists: lists have become pairs. */
export type ScoredPairItem = ScoredPair | RejectRecord;
export type LabelledItem = LabelledPair | RejectRecord;
export type Item = ReadItem | CanonicalItem | EmbeddedItem | ScoredItem | LabelledItem;

/** Longest `raw` of a reject, in characters: enough to see and repair the row, bounded in memory. */
export const RAW_PREVIEW = 2000;

/** A row or record as JSON, each string and the whole cut to RAW_PREVIEW characters. */
export function rawPreview(row: Readonly<Record<string, unknown>>): string {
  let s: string;
  try {
    s = JSON.stringify(row, (_k, v) => (typeof v === 'bigint' ? v.toString() : typeof v === 'string' && v.length > RAW_PREVIEW ? v.slice(0, RAW_PREVIEW) + '…' : v));
  } catch {
    s = String(row);
  }
  return s.length > RAW_PREVIEW ? s.slice(0, RAW_PREVIEW) + '…' : s;
}

/**
 * The one way anything becomes a reject: where it came from, why, and what it was. `raw` is the
 * text as read (cut to RAW_PREVIEW) or an object shown with rawPreview; by default the record
 * itself without its kind, source and embeddings (those are in other columns, or too large).
 */
export function toReject(from: SourceRef, reason: string, raw?: string | Readonly<Record<string, unknown>>): RejectRecord {
  const { sourceFile, sourceRow } = from;
  let shown: string;
  if (typeof raw === 'string') shown = raw.length > RAW_PREVIEW ? raw.slice(0, RAW_PREVIEW) : raw;
  else if (raw) shown = rawPreview(raw);
  else {
    const { kind: _k, sourceFile: _f, sourceRow: _r, embChosen: _c, embRejected: _j, embeddings: _e, ...rest } = from as SourceRef & Record<string, unknown>;
    shown = rawPreview(rest);
  }
  return { kind: 'reject', sourceFile, sourceRow, reason, raw: shown };
}

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
  readonly format: 'parquet' | 'jsonl' | 'arrow';
  /** Row-group range [start, end) for Parquet parts; null for whole files. */
  readonly rowGroups: readonly [number, number] | null;
  /**
   * Rows [start, end) of the file (0-based) for a part cut out of one row group larger than
   * --part-rows; absent when the part is whole row groups.
   */
  readonly rowRange?: readonly [number, number];
  /**
   * Byte range [start, end) of a large plain JSON lines file split into parts (--part-size), each
   * starting at a line start; absent for whole files.
   */
  readonly byteRange?: readonly [number, number];
  /** First source row of the part within its file. */
  readonly firstRow: number;
  /** Rows in the part when the file says (Parquet metadata), else null (JSON lines). For progress only. */
  readonly rows?: number | null;
  /** JSON lines: rows estimated from the file's first MiB (exact for a small plain file). For progress only. */
  readonly approxRows?: number;
}
