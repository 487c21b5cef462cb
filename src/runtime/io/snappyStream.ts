/**
 * Snappy's raw block format (what Parquet's SNAPPY codec holds), decompressed a piece at a time,
 * for the page reader that streams inside a page (parquetPageText.ts): a 100 MB page never exists
 * decompressed in memory, only its compressed bytes, HISTORY bytes of output and the piece.
 *
 * A copy refers back at most HISTORY bytes: snappy's own compressor, which the Parquet writers use
 * (DuckDB, Arrow, Spark through snappy-java), compresses 64 KiB blocks independently, so its
 * offsets stay under 64 KiB; a block that refers further back is refused with an error, never
 * decoded wrong. Format: https://github.com/google/snappy/blob/main/format_description.txt
 */

const HISTORY = 1 << 20;
const PIECE = 1 << 20;
/** A copy writes at most 64 bytes past the piece's end. */
const SLACK = 64;

export class SnappyStream {
  private pos = 0;
  private readonly total: number;
  private produced = 0;
  private readonly out = new Uint8Array(HISTORY + PIECE + SLACK);
  private at = 0;
  /** Literal bytes still to copy from the input. */
  private literal = 0;

  constructor(private readonly src: Uint8Array) {
    let total = 0;
    for (let shift = 0; ; shift += 7) {
      if (shift > 28 || this.pos >= src.length) throw new Error('snappy: malformed length preamble');
      const b = src[this.pos++];
      total += (b & 0x7f) * 2 ** shift;
      if (b < 0x80) break;
    }
    this.total = total;
  }

  /** Bytes the block decompresses to, from its preamble. */
  get length(): number {
    return this.total;
  }

  private byte(): number {
    if (this.pos >= this.src.length) throw new Error('snappy: the block ends inside an element');
    return this.src[this.pos++];
  }

  /** The next piece of output (a copy of its own), or null once the block is done. */
  next(): Uint8Array | null {
    if (this.produced === this.total) {
      if (this.pos !== this.src.length || this.literal !== 0) throw new Error('snappy: bytes left after the block');
      return null;
    }
    const { out, src } = this;
    if (this.at > HISTORY) {
      out.copyWithin(0, this.at - HISTORY, this.at);
      this.at = HISTORY;
    }
    const start = this.at;
    const limit = Math.min(start + PIECE, start + (this.total - this.produced));
    while (this.at < limit) {
      if (this.literal > 0) {
        const n = Math.min(this.literal, limit - this.at);
        out.set(src.subarray(this.pos, this.pos + n), this.at);
        this.pos += n;
        this.at += n;
        this.literal -= n;
        continue;
      }
      const tag = this.byte();
      let len: number;
      let offset: number;
      switch (tag & 3) {
        case 0: {
          len = tag >> 2;
          if (len >= 60) {
            const k = len - 59;
            len = 0;
            for (let i = 0; i < k; i++) len += this.byte() * 2 ** (8 * i);
          }
          len += 1;
          if (this.pos + len > src.length) throw new Error('snappy: a literal runs past the block');
          this.literal = len;
          continue;
        }
        case 1:
          len = ((tag >> 2) & 7) + 4;
          offset = ((tag >> 5) << 8) | this.byte();
          break;
        case 2:
          len = (tag >> 2) + 1;
          offset = this.byte() | (this.byte() << 8);
          break;
        default:
          len = (tag >> 2) + 1;
          offset = (this.byte() | (this.byte() << 8) | (this.byte() << 16)) + this.byte() * 2 ** 24;
      }
      if (offset === 0 || offset > this.at) throw new Error(`snappy: a copy ${offset} bytes back, beyond the ${Math.min(this.at, HISTORY)} bytes kept`);
      if (this.at + len > start + (this.total - this.produced)) throw new Error('snappy: the block decompresses past its stated length');
      if (offset >= len) out.copyWithin(this.at, this.at - offset, this.at - offset + len);
      else for (let i = 0; i < len; i++) out[this.at + i] = out[this.at + i - offset];
      this.at += len;
    }
    const piece = out.slice(start, this.at);
    this.produced += piece.length;
    return piece;
  }
}
