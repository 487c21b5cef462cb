/**
 * Arrow schemas of everything prefrank writes. Writers build columns from these schemas and never
 * infer one; pass-through columns are appended explicitly by `withPassThrough`.
 */
import { Bool, Field, Float32, Int64, Schema, Utf8, type DataType } from 'apache-arrow';

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
