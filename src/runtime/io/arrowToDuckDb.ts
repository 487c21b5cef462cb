/**
 * Arrow columns into DuckDB vectors, for the Parquet encoder (parquetEncoderWorker.ts), which hands
 * DuckDB's Parquet writer the rows of Arrow record batches through a table function.
 *
 * Only the types prefrank's shard schemas use (schemas/output.ts, schemas/features.ts) are mapped:
 * Utf8, Int32, Int64, Float32, Float64, Bool and lists of them. Pass-through columns are stored as
 * text, so no other type reaches a shard; anything else is refused by name when the file opens.
 *
 * Fixed-width values and validity go across in one copy per vector; a string is one call each
 * (DuckDB owns its string heap, so there is no bulk path for text).
 */
import duckdb from '@duckdb/node-bindings';
import { BIGINT, BOOLEAN, DOUBLE, FLOAT, INTEGER, LIST, VARCHAR, type DuckDBType } from '@duckdb/node-api';
import { DataType, Precision, type Data, type Field } from 'apache-arrow';
import { arrowIsNull, bitAt } from './bitmaps.js';

/** A run of `count` rows of one Arrow column, from row `from` of `data`. */
export interface Segment {
  readonly data: Data;
  readonly from: number;
  readonly count: number;
}

/** The DuckDB type a column is written as; refuses a type no shard schema uses. */
export function duckDbType(field: Field): DuckDBType {
  const t = field.type as DataType;
  if (DataType.isUtf8(t)) return VARCHAR;
  if (DataType.isBool(t)) return BOOLEAN;
  if (DataType.isInt(t) && t.isSigned && t.bitWidth === 32) return INTEGER;
  if (DataType.isInt(t) && t.isSigned && t.bitWidth === 64) return BIGINT;
  if (DataType.isFloat(t) && t.precision === Precision.SINGLE) return FLOAT;
  if (DataType.isFloat(t) && t.precision === Precision.DOUBLE) return DOUBLE;
  if (DataType.isList(t)) return LIST(duckDbType(t.children[0]));
  throw new Error(`column ${field.name}: the Parquet writer does not write Arrow type ${t}`);
}

/** Bytes per value of a fixed-width column, or 0. */
function widthOf(t: DataType): number {
  if (DataType.isInt(t)) return t.bitWidth / 8;
  if (DataType.isFloat(t)) return t.precision === Precision.SINGLE ? 4 : t.precision === Precision.DOUBLE ? 8 : 2;
  return 0;
}

/**
 * Writes `rows` rows, the segments one after another, into a vector of `type` starting at row 0.
 * A vector is written whole, once: DuckDB hands a fresh output chunk for every call.
 */
export function fillVector(vector: duckdb.Vector, type: DataType, segments: readonly Segment[], rows: number): void {
  // DuckDB's validity: one bit per row in 64-bit words, all valid unless a null turns up.
  let validity: Uint8Array | null = null;
  const setNull = (k: number) => {
    validity ??= new Uint8Array(Math.ceil(rows / 64) * 8).fill(0xff);
    validity[k >> 3] &= ~(1 << (k & 7));
  };
  let k = 0;
  if (DataType.isUtf8(type)) {
    for (const { data, from, count } of segments) {
      const offsets = data.valueOffsets as Int32Array;
      const values = data.values as Uint8Array;
      for (let i = from; i < from + count; i++, k++)
        if (arrowIsNull(data, i)) setNull(k);
        else duckdb.vector_assign_string_element_len(vector, k, values.subarray(offsets[i], offsets[i + 1]));
    }
  } else if (DataType.isBool(type)) {
    // DuckDB stores a boolean in a byte; Arrow's value bit is indexed like its validity bit, from
    // the Data's own offset (bitmaps.ts).
    const bytes = new Uint8Array(rows);
    for (const { data, from, count } of segments)
      for (let i = from; i < from + count; i++, k++) {
        if (arrowIsNull(data, i)) setNull(k);
        else bytes[k] = bitAt(data.values as Uint8Array, data.offset + i);
      }
    if (rows) duckdb.copy_data_to_vector(vector, 0, bytes.buffer, 0, rows);
  } else if (DataType.isList(type)) {
    // A list_entry_t per row (offset, length: two uint64), and all the rows' items in the child vector.
    const entries = new BigUint64Array(rows * 2);
    const children: Segment[] = [];
    let total = 0;
    for (const { data, from, count } of segments) {
      const offsets = data.valueOffsets as Int32Array;
      for (let i = from; i < from + count; i++, k++) {
        if (arrowIsNull(data, i)) setNull(k);
        const n = offsets[i + 1] - offsets[i];
        entries[2 * k] = BigInt(total + offsets[i] - offsets[from]);
        entries[2 * k + 1] = BigInt(n);
      }
      const items = offsets[from + count] - offsets[from];
      if (items) children.push({ data: data.children[0], from: offsets[from], count: items });
      total += items;
    }
    duckdb.list_vector_reserve(vector, total);
    duckdb.list_vector_set_size(vector, total);
    fillVector(duckdb.list_vector_get_child(vector), type.children[0].type, children, total);
    if (rows) duckdb.copy_data_to_vector(vector, 0, entries.buffer, 0, entries.byteLength);
  } else {
    const width = widthOf(type);
    if (!width) throw new Error(`the Parquet writer does not write Arrow type ${type}`);
    for (const { data, from, count } of segments) {
      const values = data.values as ArrayBufferView;
      if (count) duckdb.copy_data_to_vector(vector, k * width, values.buffer as ArrayBuffer, values.byteOffset + from * width, count * width);
      for (let i = from; i < from + count; i++, k++) if (arrowIsNull(data, i)) setNull(k);
    }
  }
  if (validity) {
    duckdb.vector_ensure_validity_writable(vector);
    duckdb.copy_data_to_vector_validity(vector, 0, (validity as Uint8Array).buffer as ArrayBuffer, 0, (validity as Uint8Array).byteLength);
  }
}

/**
 * Adds each row's size in DuckDB's memory, about (string and list bytes, fixed widths), to
 * `into[row]`: the encoder cuts chunks by bytes as well as rows, so that long rows (a feature row
 * of a 7B model is 512 KiB) never gather 2,048 at a time.
 */
export function addRowBytes(data: Data, type: DataType, into: Float64Array): void {
  const n = data.length;
  if (DataType.isUtf8(type)) {
    const offsets = data.valueOffsets as Int32Array;
    for (let i = 0; i < n; i++) into[i] += 16 + offsets[i + 1] - offsets[i];
  } else if (DataType.isList(type)) {
    const offsets = data.valueOffsets as Int32Array;
    const items = new Float64Array(offsets[n] - offsets[0]);
    addRowBytes(data.children[0], type.children[0].type, items);
    for (let i = 0; i < n; i++) {
      let sum = 16;
      for (let j = offsets[i] - offsets[0]; j < offsets[i + 1] - offsets[0]; j++) sum += items[j];
      into[i] += sum;
    }
  } else {
    const width = DataType.isBool(type) ? 1 : widthOf(type);
    for (let i = 0; i < n; i++) into[i] += width;
  }
}
