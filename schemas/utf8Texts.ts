/**
 * A record's texts UTF-8 encoded once, each followed by a NUL. The content id hashes exactly these
 * bytes (the same bytes as hashing the texts joined and ended by NULs), and the writer copies them
 * into its text columns instead of encoding the same strings a second time.
 *
 * Why: V8 makes UTF-8 from a string at about 0.5 GB/s, and a pair's texts were encoded twice, once
 * inside `hash()` and once by the writer. On a profiled 1M-row HH convert that was 2.7 s (content
 * ids) and 2.1 s (writer) of the main thread, the busiest of a convert's threads (2026-12-07).
 *
 * The bytes answer only for the very strings they were made from (`===`): a record rebuilt with
 * other texts, or with chosen and rejected swapped, still gets the right bytes or none, never stale
 * ones.
 */
import { hash } from 'node:crypto';

/** Records share slabs of this size, so a record's bytes are a view, not an allocation of its own. */
const SLAB_BYTES = 1 << 20;
/** UTF-8 takes at most 3 bytes per UTF-16 unit (a surrogate pair: 4 bytes for 2 units). */
const MAX_BYTES_PER_UNIT = 3;

const encoder = new TextEncoder();
// Plain Uint8Arrays, not Buffers: Buffer's subarray and copy are JS wrappers over these builtins,
// and encodeInto takes a Buffer more slowly (measured: 171 against 87 ns a call on short text).
let slab = new Uint8Array(SLAB_BYTES);
let used = 0;

export class Utf8Texts {
  private constructor(
    readonly texts: readonly string[],
    /** The texts' bytes, each text followed by a NUL. */
    readonly bytes: Uint8Array,
    /** Where each text's bytes end in `bytes` (its NUL follows). */
    private readonly ends: readonly number[],
  ) {}

  static encode(texts: readonly string[]): Utf8Texts {
    let bound = texts.length;
    for (const t of texts) bound += t.length * MAX_BYTES_PER_UNIT;
    if (used + bound > slab.length) {
      // A new slab; records still holding views keep the old one alive until they go.
      slab = new Uint8Array(Math.max(SLAB_BYTES, bound));
      used = 0;
    }
    const start = used;
    const ends: number[] = [];
    for (const t of texts) {
      used += encoder.encodeInto(t, slab.subarray(used)).written;
      ends.push(used - start);
      slab[used++] = 0;
    }
    return new Utf8Texts(texts, slab.subarray(start, used), ends);
  }

  /** The content id: sha256 of the texts, each followed by a NUL, as hex, cut to 24 digits. */
  id(): string {
    return hash('sha256', this.bytes, 'hex').slice(0, 24);
  }

  /**
   * Copies the bytes of `text` into `target` at `at` when `text` is one of these texts, and
   * returns how many; -1 when it is not (the caller encodes it).
   */
  copyInto(text: string, target: Uint8Array, at: number): number {
    for (let i = 0; i < this.texts.length; i++) {
      if (this.texts[i] !== text) continue;
      const from = i === 0 ? 0 : this.ends[i - 1] + 1;
      target.set(this.bytes.subarray(from, this.ends[i]), at);
      return this.ends[i] - from;
    }
    return -1;
  }
}
