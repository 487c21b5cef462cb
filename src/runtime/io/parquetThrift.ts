/**
 * Thrift's compact protocol, read only as far as a Parquet page header needs (parquetPageText.ts):
 * a struct decodes to a Map from field id to value (numbers, booleans, bytes, lists, nested
 * structs). 64-bit integers become numbers; the page header's are sizes and counts, exact as
 * doubles. Bytes that end inside the struct throw ThriftTruncated, so the caller can read more of the
 * file and try again; anything else malformed throws an Error that says where.
 *
 * The format: https://github.com/apache/thrift/blob/master/doc/specs/thrift-compact-protocol.md
 */

export type ThriftValue = number | boolean | Uint8Array | ThriftStruct | ThriftValue[];
export type ThriftStruct = Map<number, ThriftValue>;

/** The bytes ended before the struct did. */
export class ThriftTruncated extends Error {}

/** Nesting deeper than a page header has is malformed, and must not run the stack out. */
const MAX_DEPTH = 16;

export class CompactReader {
  pos = 0;

  constructor(private readonly bytes: Uint8Array) {}

  private byte(): number {
    if (this.pos >= this.bytes.length) throw new ThriftTruncated('thrift: the bytes end inside the struct');
    return this.bytes[this.pos++];
  }

  /** An unsigned varint, up to 2^53. */
  private varint(): number {
    let value = 0;
    for (let shift = 0; shift < 64; shift += 7) {
      const b = this.byte();
      value += (b & 0x7f) * 2 ** shift;
      if (b < 0x80) {
        if (value > Number.MAX_SAFE_INTEGER) throw new Error(`thrift: varint over 2^53 at byte ${this.pos}`);
        return value;
      }
    }
    throw new Error(`thrift: varint longer than 10 bytes at byte ${this.pos}`);
  }

  private zigzag(): number {
    const n = this.varint();
    return n % 2 === 0 ? n / 2 : -(n + 1) / 2;
  }

  private value(type: number, depth: number): ThriftValue {
    switch (type) {
      case 1:
        return true;
      case 2:
        return false;
      case 3: {
        const b = this.byte();
        return b > 127 ? b - 256 : b;
      }
      case 4:
      case 5:
      case 6:
        return this.zigzag();
      case 7: {
        if (this.pos + 8 > this.bytes.length) throw new ThriftTruncated('thrift: the bytes end inside a double');
        const v = new DataView(this.bytes.buffer, this.bytes.byteOffset + this.pos, 8).getFloat64(0, true);
        this.pos += 8;
        return v;
      }
      case 8: {
        const n = this.varint();
        if (this.pos + n > this.bytes.length) throw new ThriftTruncated('thrift: the bytes end inside a binary field');
        const v = this.bytes.subarray(this.pos, this.pos + n);
        this.pos += n;
        return v;
      }
      case 9:
      case 10: {
        const head = this.byte();
        const size = head >> 4 === 15 ? this.varint() : head >> 4;
        const elem = head & 0x0f;
        const out: ThriftValue[] = [];
        // In a list, a boolean is one byte (1 true, 2 false), not a type of its own.
        for (let i = 0; i < size; i++) out.push(elem === 1 || elem === 2 ? this.byte() === 1 : this.value(elem, depth + 1));
        return out;
      }
      case 11: {
        const size = this.varint();
        if (size === 0) return [];
        const types = this.byte();
        const out: ThriftValue[] = [];
        for (let i = 0; i < size; i++) out.push([this.value(types >> 4, depth + 1), this.value(types & 0x0f, depth + 1)]);
        return out;
      }
      case 12:
        return this.struct(depth + 1);
      default:
        throw new Error(`thrift: unknown field type ${type} at byte ${this.pos - 1}`);
    }
  }

  /** The struct starting here, up to and including its stop byte. */
  struct(depth = 0): ThriftStruct {
    if (depth > MAX_DEPTH) throw new Error(`thrift: structs nested deeper than ${MAX_DEPTH}`);
    const out: ThriftStruct = new Map();
    let id = 0;
    for (;;) {
      const head = this.byte();
      if (head === 0) return out;
      const delta = head >> 4;
      id = delta === 0 ? this.zigzag() : id + delta;
      out.set(id, this.value(head & 0x0f, depth));
    }
  }
}

/** Field `id` of `s` as a number, or `fallback` when absent; an error names `what` if it is not a number. */
export function int(s: ThriftStruct, id: number, what: string, fallback?: number): number {
  const v = s.get(id);
  if (v === undefined && fallback !== undefined) return fallback;
  if (typeof v !== 'number') throw new Error(`page header: ${what} is missing or not a number`);
  return v;
}

/** Field `id` of `s` as a struct, or null when absent. */
export function struct(s: ThriftStruct, id: number): ThriftStruct | null {
  const v = s.get(id);
  return v instanceof Map ? v : null;
}
