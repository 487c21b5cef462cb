/**
 * A Parquet text column read inside its pages, a piece of a page at a time: the Parquet reader
 * (parquetWorker.ts) uses it, beside DuckDB, for the text columns whose pages are at least
 * `--page-stream-size`, so that memory follows the batch and not the page. DuckDB decodes a page
 * whole, and DuckDB's own writer makes pages as large as a column's row group, up to about 100 MB:
 * the reader holds that decompressed per column, and more in its allocator.
 *
 * On by default for ZSTD and uncompressed pages of 16 MiB or more (AUTO_PAGE_STREAM). Measured
 * (2026-12-07, `convert` of 1M HH rows that DuckDB wrote with ZSTD in 100k-row groups, 3 runs each,
 * alternating with DuckDB reading every page): 15.0-17.1 s and 428-468 MiB, against 13.8-16.5 s and
 * 623-693 MiB. zstd runs in WebAssembly (zstddec), about 10x faster than fzstd (JavaScript), which
 * made the same convert 1.5-2x slower. This snappy decoder is JavaScript, and slower than DuckDB's.
 *
 * It reads what such files hold, and nothing else (parquetWorker.ts checks the footer first, and
 * leaves every other column to DuckDB): a flat BYTE_ARRAY column (required, or optional with
 * definition levels), PLAIN values in data pages v1 or v2, compressed with ZSTD (zstddec, streamed),
 * SNAPPY (snappyStream.ts) or not at all. A page of any other kind, or one that does not add up, is
 * an Error that names the column, row group and page; nothing is guessed.
 *
 * Page layout: https://github.com/apache/parquet-format (PageHeader, DataPageHeader(V2), the
 * RLE/bit-packed hybrid encoding of levels, PLAIN: a 4-byte length before each value).
 */
import { readSync } from 'node:fs';
import { Buffer, isUtf8 } from 'node:buffer';
import { ZSTDDecoder } from 'zstddec/stream';
import { CompactReader, ThriftTruncated, int, struct, type ThriftStruct } from './parquetThrift.js';
import { SnappyStream } from './snappyStream.js';
import type { TextColumn, TextSource } from './columnBuffer.js';

/** The codecs read here (parquet_metadata's names). */
export const STREAMED_CODECS: ReadonlySet<string> = new Set(['UNCOMPRESSED', 'SNAPPY', 'ZSTD']);

/** Which text columns the Parquet reader reads here: pages of at least `bytes`, in one of `codecs`. */
export interface PageStreamPolicy {
  readonly bytes: number;
  readonly codecs: readonly string[];
}

/**
 * The default (`--page-stream-size auto`): pages of 16 MiB or more, in ZSTD or uncompressed (ZSTD
 * as fast as DuckDB, measured above). Pages below it DuckDB reads whole, and 16 MiB a page bounds
 * that. SNAPPY only when asked for with a size: this snappy decoder (JavaScript) made a convert of
 * 1M HH rows that DuckDB wrote with SNAPPY in 100k-row groups take 31.1 s against 16.8 s for
 * DuckDB alone (2026-12-07).
 */
export const AUTO_PAGE_STREAM: PageStreamPolicy = { bytes: 16 * 2 ** 20, codecs: ['ZSTD', 'UNCOMPRESSED'] };

/** One row group's chunk of the column, from the footer. */
export interface ColumnChunkRef {
  /** The row group's index in the file, for messages. */
  readonly rowGroup: number;
  /** Where its first page starts, and its bytes, headers included. */
  readonly offset: number;
  readonly bytes: number;
  readonly codec: string;
  /** Rows in the row group (a flat column has one value a row). */
  readonly rows: number;
}

/** Bytes read from the file at a time. */
const READ_BYTES = 1 << 20;
/** A page header is a few hundred bytes, more with statistics (min and max values): read up to this before giving up. */
const MAX_HEADER_BYTES = 16 << 20;

const PAGE = { DATA: 0, INDEX: 1, DICTIONARY: 2, DATA_V2: 3 } as const;
const PLAIN = 0;
const RLE = 3;

/** Decompressed pieces of one page's values, in order. */
interface PieceSource {
  next(): Uint8Array | null;
  /** Called once the page's rows are all read: a source that holds memory outside JS gives it back. */
  finish?(): void;
}

/**
 * The file's bytes [from, from + size), a read at a time, into one buffer: each piece is used up
 * (copied into zstd's memory, or out of PageBytes) before the next is asked for.
 */
function fileSlices(fd: number, from: number, size: number): PieceSource {
  let at = 0;
  const buffer = Buffer.allocUnsafe(Math.min(READ_BYTES, size));
  return {
    next() {
      if (at >= size) return null;
      const piece = buffer.subarray(0, Math.min(READ_BYTES, size - at));
      const got = readSync(fd, piece, 0, piece.length, from + at);
      if (got !== piece.length) throw new Error(`the file ends inside a page (at byte ${from + at + got})`);
      at += got;
      return piece;
    },
  };
}

function readBytes(fd: number, from: number, size: number): Uint8Array {
  const out = new Uint8Array(size);
  const got = readSync(fd, out, 0, size, from);
  if (got !== size) throw new Error(`the file ends inside a page (at byte ${from + got})`);
  return out;
}

/** zstd streams of this thread whose decoder is still alive (zstdPieces), for the tests. */
let zstdStreams = 0;
export const openZstdStreams = (): number => zstdStreams;

/** zstd's decoder (zstddec: zstd 1.5.7 built to WebAssembly), loaded once per thread by `loadZstd`. */
const zstd = new ZSTDDecoder();
let zstdLoaded = false;

/** Loads the zstd decoder; PageText reads ZSTD pages only after it (parquetWorker.ts awaits it when it opens a file). */
export async function loadZstd(): Promise<void> {
  await zstd.init();
  zstdLoaded = true;
}

/**
 * Outputs in a row that are empty while the decoder has input left: zstddec's stream decoder
 * (0.3.4) yields an empty output, again and again, when zstd reports an error, since it does not
 * read zstd's return code. A good stream gives an empty output only when its input is used up, and
 * then it asks for more; so a few in a row mean the data is not zstd.
 */
const STUCK_OUTPUTS = 16;

/**
 * A ZSTD frame, decompressed by zstd's streaming decoder: each piece is one output of at most
 * 128 KiB (ZSTD_DStreamOutSize), a copy of its own. Measured on a 100 MB PLAIN page of HH text
 * (2026-12-07): 37-41 ms, against 380-526 ms for fzstd, the JavaScript decoder used before.
 * zstddec frees its decoder (a few MB of the thread's WebAssembly memory, which never shrinks) only
 * when its generator runs to the end, one step after the last output: `finish` takes that step
 * once the page's rows are read. Without it every page kept its decoder: the reader alone on 1M
 * rows in DuckDB's row groups (9 groups, 2 text columns) crept from 195 to 265 MiB (2026-12-07).
 * A frame left unfinished (a part that ends inside a page, an error) still keeps its decoder until
 * the reader's worker ends with its part (readers.ts).
 */
function zstdPieces(compressed: PieceSource): PieceSource {
  if (!zstdLoaded) throw new Error('the zstd decoder is not loaded (loadZstd)');
  let empty = 0;
  let ended = false;
  zstdStreams++;
  const input: Iterable<Uint8Array> = {
    *[Symbol.iterator]() {
      for (let piece = compressed.next(); piece; piece = compressed.next()) {
        empty = 0;
        yield piece;
      }
    },
  };
  const outputs = zstd.decodeStreaming(input);
  const end = () => {
    if (!ended) zstdStreams--;
    ended = true;
  };
  const next = (): Uint8Array | null => {
    for (;;) {
      let r: IteratorResult<Uint8Array>;
      try {
        r = outputs.next();
      } catch (err) {
        // A generator that throws is over (zstddec frees its decoder before its last check).
        end();
        throw err;
      }
      if (r.done) {
        end();
        return null;
      }
      if (r.value.length) return r.value;
      if (++empty >= STUCK_OUTPUTS) throw new Error('invalid zstd data');
    }
  };
  return {
    next,
    finish() {
      // Runs the generator to its end (done at once when it is); bytes past the page's values
      // are dropped, as PageBytes would never read them.
      while (next() !== null);
    },
  };
}

/** One page's value bytes, read forwards; reading past its stated size is an error. */
class PageBytes {
  private cur: Uint8Array = new Uint8Array(0);
  private at = 0;
  /** Bytes still to come, by the page header. */
  left: number;

  constructor(
    private readonly source: PieceSource,
    size: number,
  ) {
    this.left = size;
  }

  private need(k: number, what: string): void {
    if (k > this.left) throw new Error(`${what} of ${k} bytes runs past the page (${this.left} bytes left)`);
    this.left -= k;
  }

  /** The page's rows are all read: its source may let go of what it holds (zstdPieces). */
  finish(): void {
    this.source.finish?.();
  }

  private piece(): void {
    const p = this.source.next();
    if (!p) throw new Error('the page ends before its stated size');
    this.cur = p;
    this.at = 0;
  }

  into(dst: Uint8Array, to: number, k: number, what: string): void {
    this.need(k, what);
    while (k > 0) {
      if (this.at === this.cur.length) this.piece();
      const n = Math.min(k, this.cur.length - this.at);
      dst.set(this.cur.subarray(this.at, this.at + n), to);
      this.at += n;
      to += n;
      k -= n;
    }
  }

  skip(k: number, what: string): void {
    this.need(k, what);
    while (k > 0) {
      if (this.at === this.cur.length) this.piece();
      const n = Math.min(k, this.cur.length - this.at);
      this.at += n;
      k -= n;
    }
  }

  private readonly word = new Uint8Array(4);

  uint32(what: string): number {
    const { cur, at } = this;
    // Most lengths lie inside the current piece: read them there.
    if (at + 4 <= cur.length && this.left >= 4) {
      this.at += 4;
      this.left -= 4;
      return (cur[at] | (cur[at + 1] << 8) | (cur[at + 2] << 16)) + cur[at + 3] * 2 ** 24;
    }
    this.into(this.word, 0, 4, what);
    return (this.word[0] | (this.word[1] << 8) | (this.word[2] << 16)) + this.word[3] * 2 ** 24;
  }
}

/** The page header at byte `pos` of a column chunk ending at `end`: its struct and its own length in bytes. */
function pageHeader(fd: number, pos: number, end: number): { h: ThriftStruct; length: number } {
  for (let size = 1024; ; size *= 8) {
    const bytes = readBytes(fd, pos, Math.min(size, end - pos));
    const r = new CompactReader(bytes);
    try {
      return { h: r.struct(), length: r.pos };
    } catch (err) {
      if (!(err instanceof ThriftTruncated) || bytes.length >= end - pos || size >= MAX_HEADER_BYTES) throw err;
    }
  }
}

/** Definition levels of bit width 1 (0: null, 1: a value), RLE/bit-packed hybrid, for `n` values. */
export function decodeLevels(bytes: Uint8Array, n: number): Uint8Array {
  const out = new Uint8Array(n);
  let i = 0;
  let p = 0;
  while (i < n) {
    let header = 0;
    for (let shift = 0; ; shift += 7) {
      if (p >= bytes.length || shift > 28) throw new Error(`definition levels end after ${i} of ${n} values`);
      const b = bytes[p++];
      header += (b & 0x7f) * 2 ** shift;
      if (b < 0x80) break;
    }
    const count = Math.floor(header / 2);
    if (count === 0) throw new Error('definition levels: an empty run');
    if (header % 2 === 1) {
      // count groups of 8 values, one bit each.
      if (p + count > bytes.length) throw new Error('definition levels: a bit-packed run past their end');
      for (let j = 0; j < count * 8 && i < n; j++) out[i++] = (bytes[p + (j >> 3)] >> (j & 7)) & 1;
      p += count;
    } else {
      if (p >= bytes.length) throw new Error('definition levels: a run without its value');
      const v = bytes[p++];
      if (v > 1) throw new Error(`definition level ${v} in a column whose levels go to 1`);
      out.fill(v, i, Math.min(n, i + count));
      i = Math.min(n, i + count);
    }
  }
  return out;
}

interface Page {
  bytes: PageBytes;
  /** Values (rows) left in the page. */
  left: number;
  /** Its definition levels, or null for a required column. */
  defs: Uint8Array | null;
  defAt: number;
}

/** A column's values across the row groups of a part, taken `n` rows at a time. */
export class PageText {
  private chunk = -1;
  /** The next page header's byte in the file, and where the chunk ends. */
  private pos = 0;
  private end = 0;
  private pageNo = 0;
  /** Rows of the current chunk whose pages were read so far, to check against the footer. */
  private rowsInChunk = 0;
  private page: Page | null = null;
  /** Text bytes a row, on average, in the rows taken last. */
  private bytesPerRow = 64;
  /** Value buffers of rows already copied out (recycle), to read the next rows into. */
  private readonly spare: Buffer[] = [];

  /**
   * `skip`: rows to pass over before the first taken (a part that starts inside a row group),
   * whole pages without decompressing them. `maxDef`: 1 for an optional column, 0 for a required one.
   */
  constructor(
    private readonly fd: number,
    private readonly name: string,
    private readonly maxDef: 0 | 1,
    private readonly chunks: readonly ColumnChunkRef[],
    private skipRows: number,
  ) {}

  private where(): string {
    return `column ${this.name}, row group ${this.chunks[this.chunk]?.rowGroup ?? '?'}, page ${this.pageNo}`;
  }

  private nextChunk(): void {
    if (this.chunk >= 0 && this.rowsInChunk !== this.chunks[this.chunk].rows)
      throw new Error(`the pages hold ${this.rowsInChunk} rows, the footer says ${this.chunks[this.chunk].rows}`);
    if (this.chunk + 1 >= this.chunks.length) throw new Error(`asked for rows past the part's row groups`);
    this.chunk++;
    const c = this.chunks[this.chunk];
    this.pos = c.offset;
    this.end = c.offset + c.bytes;
    this.pageNo = 0;
    this.rowsInChunk = 0;
  }

  /** Reads page headers up to the next data page with rows to take, passing over those skipped. */
  private nextPage(): Page {
    for (;;) {
      if (this.chunk < 0 || this.pos >= this.end) this.nextChunk();
      const codec = this.chunks[this.chunk].codec;
      const { h, length } = pageHeader(this.fd, this.pos, this.end);
      const type = int(h, 1, 'type');
      const size = int(h, 2, 'uncompressed size');
      const compressed = int(h, 3, 'compressed size');
      const body = this.pos + length;
      if (size < 0 || compressed < 0 || body + compressed > this.end) throw new Error(`a page of ${compressed} bytes past its column chunk's end`);
      this.pos = body + compressed;
      this.pageNo++;
      if (type === PAGE.INDEX) continue;
      if (type !== PAGE.DATA && type !== PAGE.DATA_V2) throw new Error(`page type ${type} (a dictionary page?) where only data pages were expected`);
      const v2 = type === PAGE.DATA_V2;
      const dh = struct(h, v2 ? 8 : 5);
      if (!dh) throw new Error(`a data page without its data page header`);
      const rows = int(dh, 1, 'value count');
      if (rows < 0) throw new Error(`${rows} values`);
      const encoding = int(dh, v2 ? 4 : 2, 'encoding');
      if (encoding !== PLAIN) throw new Error(`value encoding ${encoding}, not PLAIN`);
      this.rowsInChunk += rows;
      if (rows <= this.skipRows) {
        // Skipped whole, never decompressed.
        this.skipRows -= rows;
        continue;
      }
      if (rows === 0) continue;
      return v2 ? this.pageV2(dh, codec, body, size, compressed, rows) : this.pageV1(dh, codec, body, size, compressed, rows);
    }
  }

  private values(codec: string, from: number, compressed: number, size: number): PageBytes {
    const source =
      codec === 'UNCOMPRESSED'
        ? fileSlices(this.fd, from, compressed)
        : codec === 'ZSTD'
          ? zstdPieces(fileSlices(this.fd, from, compressed))
          : codec === 'SNAPPY'
            ? new SnappyStream(readBytes(this.fd, from, compressed))
            : null;
    if (!source) throw new Error(`codec ${codec} is not read inside pages`);
    if (source instanceof SnappyStream && source.length !== size) throw new Error(`snappy says ${source.length} bytes, the page header ${size}`);
    return new PageBytes(source, codec === 'UNCOMPRESSED' ? compressed : size);
  }

  private pageV1(dh: ThriftStruct, codec: string, body: number, size: number, compressed: number, rows: number): Page {
    const bytes = this.values(codec, body, compressed, size);
    let defs: Uint8Array | null = null;
    if (this.maxDef === 1) {
      if (int(dh, 3, 'definition level encoding') !== RLE) throw new Error(`definition levels not RLE`);
      const n = bytes.uint32('the definition levels length');
      const levels = new Uint8Array(n);
      bytes.into(levels, 0, n, 'the definition levels');
      defs = decodeLevels(levels, rows);
    }
    return this.start({ bytes, left: rows, defs, defAt: 0 });
  }

  private pageV2(dh: ThriftStruct, codec: string, body: number, size: number, compressed: number, rows: number): Page {
    const repBytes = int(dh, 6, 'repetition levels length');
    const defBytes = int(dh, 5, 'definition levels length');
    const isCompressed = dh.get(7) !== false;
    if (repBytes !== 0) throw new Error(`repetition levels in a flat column`);
    if (defBytes < 0 || defBytes > compressed || defBytes > size) throw new Error(`definition levels of ${defBytes} bytes`);
    let defs: Uint8Array | null = null;
    if (this.maxDef === 1) defs = decodeLevels(readBytes(this.fd, body, defBytes), rows);
    else if (defBytes !== 0) throw new Error(`definition levels in a required column`);
    const bytes = this.values(isCompressed ? codec : 'UNCOMPRESSED', body + defBytes, compressed - defBytes, size - defBytes);
    return this.start({ bytes, left: rows, defs, defAt: 0 });
  }

  /** The page, past the rows still to skip in it. */
  private start(page: Page): Page {
    for (; this.skipRows > 0; this.skipRows--, page.left--) {
      if (page.defs && page.defs[page.defAt++] === 0) continue;
      page.bytes.skip(page.bytes.uint32('a value length'), 'a value');
    }
    return page;
  }

  /** The next `n` rows, as text with bytes of their own. Every error is prefixed with the column, row group and page. */
  take(n: number): TextSource {
    try {
      return this.read(n);
    } catch (err) {
      const m = err instanceof Error ? err.message : String(err);
      throw new Error(`${this.where()}: ${m}`, { cause: err });
    }
  }

  private read(n: number): TextSource {
    // Sized by the rows read before, so it seldom grows (growing copies it); not zeroed, since
    // only the bytes written are ever read.
    const want = Math.max(1024, Math.ceil(n * this.bytesPerRow * 1.25));
    let data = this.spare.pop() ?? Buffer.allocUnsafe(want);
    if (data.length < want) data = Buffer.allocUnsafe(want);
    const ends = new Float64Array(n + 1);
    const nulls = new Uint8Array(n);
    let at = 0;
    for (let i = 0; i < n; i++) {
      let page = this.page;
      if (!page || page.left === 0) {
        page?.bytes.finish();
        page = this.page = this.nextPage();
      }
      page.left--;
      if (page.defs && page.defs[page.defAt++] === 0) {
        nulls[i] = 1;
        ends[i + 1] = at;
        continue;
      }
      const len = page.bytes.uint32('a value length');
      if (at + len > data.length) {
        // Checked before growing, so a damaged length never allocates its gigabytes (into() checks it too).
        if (len > page.bytes.left) throw new Error(`a value of ${len} bytes runs past the page (${page.bytes.left} bytes left)`);
        const grown = Buffer.allocUnsafe(Math.max(data.length * 2, at + len));
        grown.set(data.subarray(0, at));
        data = grown;
      }
      page.bytes.into(data, at, len, 'a value');
      if (!isUtf8(data.subarray(at, at + len))) throw new Error(`a value that is not valid UTF-8`);
      at += len;
      ends[i + 1] = at;
    }
    // A page whose last row this read took is finished now, not when the next read starts: the
    // part's last page has no next read. (finish can be called again: a source that has ended stays ended.)
    if (this.page?.left === 0) this.page.bytes.finish();
    if (n > 0) this.bytesPerRow = Math.max(1, at / n);
    return textOf(data, ends, nulls);
  }

  /**
   * Gives back the value buffer of rows taken before, once they are copied out (parquetWorker.ts
   * calls it when their chunk is released), to read later rows into. Fewer buffers made means less
   * memory waiting for the garbage collector.
   */
  recycle(source: TextSource): void {
    const data = (source as PageTextSource).data;
    if (data && this.spare.length < SPARE_BUFFERS) this.spare.push(data);
  }
}

/** PageText's rows, with the buffer that holds their bytes. */
interface PageTextSource extends TextSource {
  readonly data: Buffer;
}

/** Value buffers a column keeps for reuse: a chunk's rows are copied out before the next few are read. */
const SPARE_BUFFERS = 2;

/** Rows as TextSource: `data[ends[i], ends[i + 1])`, or null where `nulls[i]` is 1. */
function textOf(data: Buffer, ends: Float64Array, nulls: Uint8Array): PageTextSource {
  return {
    data,
    bytes: (from, to) => ends[to] - ends[from],
    copy(from, to, into: TextColumn, row) {
      const base = into.ends[row];
      into.utf8.set(data.subarray(ends[from], ends[to]), base);
      for (let i = from; i < to; i++, row++) {
        into.nulls[row] = nulls[i];
        into.ends[row + 1] = base + ends[i + 1] - ends[from];
      }
    },
  };
}

/**
 * The uncompressed size of a chunk's first page, from its header (usually one read of 1 KiB), or 0 when the
 * header does not decode: then DuckDB reads the column, and says what is wrong.
 */
export function firstPageBytes(fd: number, chunk: ColumnChunkRef): number {
  try {
    return int(pageHeader(fd, chunk.offset, chunk.offset + chunk.bytes).h, 2, 'uncompressed size');
  } catch {
    return 0;
  }
}
