/**
 * Validity bitmaps, one definition for the readers and the encoder: Arrow's (validity and booleans)
 * and DuckDB's (64-bit little-endian words, so the same bytes) are LSB-first.
 */
import type { Data } from 'apache-arrow';

/** Bit `i` of an LSB-first bitmap. */
export const bitAt = (bits: Uint8Array, i: number): number => (bits[i >> 3] >> (i & 7)) & 1;

/**
 * Whether row `row` of an Arrow Data is null. Its bitmap is indexed from the Data's own offset; a
 * Data decoded from IPC starts at 0, while its values and offsets are already relative to it.
 */
export const arrowIsNull = (data: Data, row: number): boolean =>
  data.nullCount !== 0 && data.nullBitmap !== undefined && data.nullBitmap.length > 0 && bitAt(data.nullBitmap, data.offset + row) === 0;
