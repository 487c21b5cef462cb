/**
 * Arrow schemas of everything prefrank writes. Writers build columns from these schemas and never
 * infer one; pass-through columns are appended explicitly by `withPassThrough`.
 */
import { Bool, Field, Float32, Int64, List, makeBuilder, makeData, RecordBatch, Schema, Struct, Table, Utf8, type Data, type DataType } from 'apache-arrow';
import type { LabelledPair, ListRecord, PairRecord, RejectRecord } from './records.js';
import type { Utf8Texts } from './utf8Texts.js';

/** Columns of a re-ranked data shard, in order. A TRL DPOTrainer reads prompt/chosen/rejected as is. */
export const pairOutputFields = [
  new Field('prompt', new Utf8(), false),
  new Field('chosen', new Utf8(), false),
  new Field('rejected', new Utf8(), false),
  /** sigmoid(alpha * (r_chosen - r_rejected)) after re-ordering: in [0.5, 1] under the swap policy. */
  new Field('confidence', new Float32(), true),
  new Field('reward_chosen', new Float32(), true),
  new Field('reward_rejected', new Float32(), true),
  /** True when chosen and rejected were swapped relative to the input. */
  new Field('flipped', new Bool(), false),
  new Field('pair_id', new Utf8(), false),
  new Field('source_file', new Utf8(), false),
  new Field('source_row', new Int64(), false),
  /** Per-response safety labels (after re-ordering), when the input had them. */
  new Field('chosen_safe', new Bool(), true),
  new Field('rejected_safe', new Bool(), true),
  new Field('category', new Utf8(), true),
  /** True when either text was cut to the token limit before embedding. */
  new Field('truncated', new Bool(), true),
] as const;

export const pairOutputSchema = new Schema([...pairOutputFields]);

/** Columns of a rejects shard. */
export const rejectFields = [
  new Field('source_file', new Utf8(), false),
  new Field('source_row', new Int64(), false),
  new Field('reason', new Utf8(), false),
  /** The raw row as JSON, cut to a bounded length. */
  new Field('raw', new Utf8(), true),
] as const;

export const rejectSchema = new Schema([...rejectFields]);

/** Names the canonical columns own; an input column of the same name is not passed through. */
export const reservedColumns: ReadonlySet<string> = new Set(pairOutputFields.map((f) => f.name));

/** Appends declared pass-through columns (all nullable) to a base schema. */
export function withPassThrough(base: Schema, passThrough: readonly { name: string; type: DataType }[]): Schema {
  return new Schema([...base.fields, ...passThrough.map((c) => new Field(c.name, c.type, true))]);
}

/** Columns of a listwise shard (`convert` keeps lists as lists; `rerank` turns them into pairs). */
export const listOutputSchema = new Schema([
  new Field('prompt', new Utf8(), false),
  new Field('responses', new List(new Field('item', new Utf8(), false)), false),
  new Field('labels', new List(new Field('item', new Bool(), true)), true),
  new Field('list_id', new Utf8(), false),
  new Field('source_file', new Utf8(), false),
  new Field('source_row', new Int64(), false),
  new Field('category', new Utf8(), true),
]);

/**
 * Pass-through values are stored as text: strings as they are, anything else as its JSON. One type
 * per column whatever the input mixes, and nothing is lost (`CAST(col AS ...)` or json functions
 * in DuckDB read them back). Names the canonical columns own get an `input_` prefix.
 */
export function passThroughColumn(name: string): string {
  return reservedColumns.has(name) || name === 'responses' || name === 'labels' || name === 'list_id' || name === 'reason' || name === 'raw' ? `input_${name}` : name;
}

export function passThroughValue(v: unknown): string | null {
  if (v === null || v === undefined) return null;
  if (typeof v === 'string') return v;
  // A top-level int64 is written as its digits, as JSON would write a number (not the quoted
  // string the replacer below makes), so CAST(col AS BIGINT) reads it back.
  if (typeof v === 'bigint') return v.toString();
  // A timestamp as ISO 8601 text (UTC), which CAST(col AS TIMESTAMP) reads back.
  if (v instanceof Date) return v.toISOString();
  return JSON.stringify(v, (_k, x) => (typeof x === 'bigint' ? x.toString() : x));
}

/** True for a pair that went through relabelPairs (rerank); convert's pairs are canonical only. */
export function isLabelled(p: PairRecord | LabelledPair): p is LabelledPair {
  return 'confidence' in p;
}

/**
 * An output row carries its record's UTF-8 texts under this key, beside its columns: a symbol, so
 * no column loop (Object.keys, for-in) sees it, and tableFromRows copies those bytes instead of
 * encoding the strings again.
 */
export const TEXT_BYTES = Symbol('utf8 texts');

/** Output row of a pair, keyed by column name: a canonical pair (convert) leaves the model's columns null. */
export function pairOutputRow(p: PairRecord | LabelledPair): Record<string, unknown> {
  const l = isLabelled(p) ? p : null;
  const row: Record<string, unknown> = {
    prompt: p.prompt,
    chosen: p.chosen,
    rejected: p.rejected,
    confidence: l?.confidence ?? null,
    reward_chosen: l?.rewardChosen ?? null,
    reward_rejected: l?.rewardRejected ?? null,
    flipped: l?.flipped ?? false,
    pair_id: p.pairId,
    source_file: p.sourceFile,
    source_row: BigInt(p.sourceRow),
    chosen_safe: p.chosenSafe,
    rejected_safe: p.rejectedSafe,
    category: p.category,
    truncated: l ? l.embChosen.truncated || l.embRejected.truncated : null,
  };
  for (const [k, v] of Object.entries(p.passThrough)) row[passThroughColumn(k)] = passThroughValue(v);
  if (p.utf8) (row as { [TEXT_BYTES]?: Utf8Texts })[TEXT_BYTES] = p.utf8;
  return row;
}

export function listOutputRow(l: ListRecord): Record<string, unknown> {
  const row: Record<string, unknown> = {
    prompt: l.prompt,
    responses: [...l.responses],
    labels: l.labels ? [...l.labels] : null,
    list_id: l.listId,
    source_file: l.sourceFile,
    source_row: BigInt(l.sourceRow),
    category: l.category,
  };
  for (const [k, v] of Object.entries(l.passThrough)) row[passThroughColumn(k)] = passThroughValue(v);
  return row;
}

export function rejectOutputRow(r: RejectRecord): Record<string, unknown> {
  return { source_file: r.sourceFile, source_row: BigInt(r.sourceRow), reason: r.reason, raw: r.raw };
}

/** Builds an Arrow table of `rows` with exactly `schema` (builders made from the type, never inferred). */
export function tableFromRows(schema: Schema, rows: readonly Record<string, unknown>[]): Table {
  const children = schema.fields.map((f) => {
    if (f.type instanceof Utf8) return utf8Data(rows, f.name);
    const b = makeBuilder({ type: f.type, nullValues: [null, undefined] });
    for (const r of rows) b.append(r[f.name] as never);
    return b.finish().flush();
  });
  const data = makeData({ type: new Struct(schema.fields), length: rows.length, nullCount: 0, children });
  return new Table([new RecordBatch(schema, data)]);
}

/** One encoder for every text column (encodeInto keeps no state between calls). */
const utf8 = new TextEncoder();

/**
 * A text column in one pass: every string UTF-8 encoded once, straight into one buffer, then
 * copied out at its exact size. Arrow's Utf8 builder encodes and grows per value, which made it
 * the writer's largest cost (about 4x slower on HH-sized texts); the resulting column is the same.
 *
 * The buffer is sized by the bound of 3 bytes per UTF-16 unit, so no string is measured first
 * (Buffer.byteLength then Buffer.write was two passes over every text). Measured 2026-12-07: two
 * text columns of 50k HH rows, 2.2-4.1 -> 1.5 us a row (CPU, min to median of 7); in a profiled
 * 1M-row JSONL convert, 2.59 -> 2.34 s of the main thread. encodeInto writes a lone surrogate as
 * U+FFFD, as Buffer.write did: the bytes are the same. A row's own UTF-8 texts (TEXT_BYTES), made
 * once by the adapter, are copied rather than encoded again.
 */
function utf8Data(rows: readonly Record<string, unknown>[], name: string): Data<Utf8> {
  const n = rows.length;
  const offsets = new Int32Array(n + 1);
  const validity = new Uint8Array((n + 7) >> 3);
  let bound = 0;
  for (let i = 0; i < n; i++) {
    const v = rows[i][name];
    if (v !== null && v !== undefined) bound += (v as string).length * 3;
  }
  // Uninitialised memory (every byte kept is written), seen as a plain Uint8Array (see Utf8Texts).
  const raw = Buffer.allocUnsafe(bound);
  const buf = new Uint8Array(raw.buffer, raw.byteOffset, bound);
  let bytes = 0;
  let nulls = 0;
  for (let i = 0; i < n; i++) {
    const row = rows[i] as { [TEXT_BYTES]?: Utf8Texts } & Record<string, unknown>;
    const v = row[name];
    if (v === null || v === undefined) nulls++;
    else {
      const copied = row[TEXT_BYTES]?.copyInto(v as string, buf, bytes) ?? -1;
      bytes += copied >= 0 ? copied : utf8.encodeInto(v as string, buf.subarray(bytes)).written;
      validity[i >> 3] |= 1 << (i & 7);
    }
    offsets[i + 1] = bytes;
  }
  const values = buf.slice(0, bytes);
  return makeData({ type: new Utf8(), length: n, nullCount: nulls, nullBitmap: nulls ? validity : null, valueOffsets: offsets, data: values });
}
