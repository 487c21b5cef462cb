import assert from 'node:assert/strict';
import { closeSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { test } from 'node:test';
import { tableToIPC } from 'apache-arrow';
import * as pw from 'parquet-wasm/node';
import type { PartRef, ReadItem } from '../../schemas/records.js';
import { InputFileError } from '../../src/runtime/errors.js';
import { DuckDb } from '../../src/runtime/io/DuckDb.js';
import { AUTO_PAGE_STREAM, decodeLevels, loadZstd, openZstdStreams, PageText, STREAMED_CODECS, type ColumnChunkRef, type PageStreamPolicy } from '../../src/runtime/io/parquetPageText.js';
import { ParquetDecoder, readPartRows } from '../../src/runtime/io/readers.js';
import { SnappyStream } from '../../src/runtime/io/snappyStream.js';
import { hhParquetTable, hhRows, tempDir } from '../helpers/badInputs.js';

const ROWS = 7000;

const part = (file: string, rowGroups: [number, number] | null = null, rowRange?: [number, number]): PartRef => ({
  index: 0,
  count: 1,
  file,
  source: basename(file),
  format: 'parquet',
  rowGroups,
  firstRow: rowRange?.[0] ?? 0,
  ...(rowRange ? { rowRange } : {}),
});

/** Pages of at least `bytes` (0: any page; Infinity: none, DuckDB reads all), in every codec read inside pages. */
const pagesOf = (bytes: number): PageStreamPolicy => ({ bytes, codecs: [...STREAMED_CODECS] });

/** Every row, read with text columns inside their pages (pageStreamBytes 0: any page) or by DuckDB alone (Infinity). */
async function rows(p: PartRef, pageStreamBytes: number): Promise<ReadItem[]> {
  const out: ReadItem[] = [];
  for await (const b of readPartRows(p, { batchRows: 700, maxRowBytes: 1 << 24, pageStream: pagesOf(pageStreamBytes) })) out.push(...b);
  return out;
}

/** The columns the reader takes inside their pages, from the worker's reply to open. */
async function pagedColumns(file: string, pageStream: number | PageStreamPolicy): Promise<unknown> {
  const d = new ParquetDecoder();
  try {
    const policy = typeof pageStream === 'number' ? pagesOf(pageStream) : pageStream;
    return (await d.request({ op: 'open', file, rowGroups: null, rowRange: null, batchRows: 100, pageStream: policy })).pagedColumns;
  } finally {
    await d.close();
  }
}

/**
 * DuckDB-written files with what PageText reads: nullable text with empty strings, NUL and
 * multi-byte characters (s), unique text (u), an integer between them, and repeated text (d) that
 * DuckDB dictionary-encodes, which stays with DuckDB; row groups of 3,000 rows.
 */
async function duckFiles(dir: string): Promise<string[]> {
  const files: string[] = [];
  await using db = await DuckDb.open({ threads: 1 });
  for (const codec of ['zstd', 'snappy', 'uncompressed']) {
    const file = join(dir, `${codec}.parquet`);
    await db.exec(
      `COPY (SELECT CASE WHEN r % 11 = 0 THEN NULL WHEN r % 13 = 0 THEN '' ELSE 'ü' || r || chr(0) || repeat('€', (r % 5)::INT) END AS s, r,
              'row ' || r || ': ' || repeat('x', (r * 37 % 400)::INT) AS u, 'repeated ' || (r % 3) AS d
            FROM range(${ROWS}) t(r)) TO '${file}' (FORMAT parquet, ROW_GROUP_SIZE 3000, COMPRESSION ${codec})`,
    );
    files.push(file);
  }
  return files;
}

test('Parquet text read inside its pages: the same rows as DuckDB gives, for each codec, page version and part', async () => {
  const dir = await tempDir('page-text');
  const files = await duckFiles(dir);
  // arrow-rs (parquet-wasm) with PLAIN values (its v2 default is DELTA_BYTE_ARRAY, left to DuckDB): data pages v1 and v2.
  for (const version of [pw.WriterVersion.V1, pw.WriterVersion.V2]) {
    const file = join(dir, `arrow-rs-v${version + 1}.parquet`);
    const props = new pw.WriterPropertiesBuilder().setCompression(pw.Compression.ZSTD).setDictionaryEnabled(false).setEncoding(pw.Encoding.PLAIN).setWriterVersion(version).setMaxRowGroupSize(300).setDataPageSizeLimit(4096).build();
    writeFileSync(file, pw.writeParquet(pw.Table.fromIPCStream(tableToIPC(hhParquetTable(hhRows().slice(0, 997)), 'stream')), props));
    files.push(file);
  }
  for (const file of files) {
    const name = basename(file);
    const streamed = (await pagedColumns(file, 0)) as string[];
    assert.deepEqual(streamed, name.startsWith('arrow-rs') ? ['chosen', 'rejected', 'subset'] : ['s', 'u'], name);
    assert.deepEqual(await pagedColumns(file, Infinity), [], name);
    // By default (auto), any size here, SNAPPY stays with DuckDB: its decoder here is slower than DuckDB's.
    assert.deepEqual(await pagedColumns(file, { ...AUTO_PAGE_STREAM, bytes: 0 }), name.startsWith('snappy') ? [] : streamed, `${name}, auto codecs`);
    const byDuckDb = await rows(part(file), Infinity);
    assert.equal(byDuckDb.length, name.startsWith('arrow-rs') ? 997 : ROWS);
    assert.deepEqual(await rows(part(file), 0), byDuckDb, name);
    // Parts: whole row groups after the first, and a row range that starts and ends inside row
    // groups (DuckDB's: 2 row groups of about 3,000 rows; arrow-rs's: 4 of 300 or fewer).
    const [groups, range]: [[number, number], [number, number]] = name.startsWith('arrow-rs') ? [[1, 3], [250, 610]] : [[1, 2], [250, 4610]];
    assert.deepEqual(await rows(part(file, groups), 0), await rows(part(file, groups), Infinity), `${name}, row groups ${groups}`);
    const within = part(file, [0, groups[1]], range);
    const cut = await rows(within, 0);
    assert.equal(cut.length, range[1] - range[0], `${name}, rows ${range}`);
    assert.deepEqual(cut, await rows(within, Infinity), `${name}, rows ${range}`);
  }
});

/** A column's chunks, one per row group, from the footer (as parquetWorker.ts finds them). */
async function columnChunks(file: string, column: string): Promise<ColumnChunkRef[]> {
  await using db = await DuckDb.open({ threads: 1 });
  const meta = await db.all(
    `SELECT row_group_id AS g, data_page_offset AS o, total_compressed_size AS n, compression AS c, row_group_num_rows AS r FROM parquet_metadata('${file}') WHERE path_in_schema = '${column}' ORDER BY g`,
  );
  return meta.map((m) => ({ rowGroup: Number(m.g), offset: Number(m.o), bytes: Number(m.n), codec: String(m.c), rows: Number(m.r) }));
}

// The timeout is for a read that never ends: a damaged ZSTD page once made the zstd decoder
// (zstddec) yield empty output forever. The test takes about 15 s.
test('Parquet text read inside its pages, damaged: each read gives every row or fails with one line naming the file', { timeout: 240_000 }, async () => {
  const dir = await tempDir('page-text-damaged');
  for (const good of await duckFiles(dir)) {
    const chunk = (await columnChunks(good, 'u'))[1];
    const bytes = readFileSync(good);
    const outcomes = new Map<string, number>();
    // Page header, levels, lengths and values alike: 12 offsets through the chunk.
    for (let k = 0; k < 12; k++) {
      const at = chunk.offset + Math.floor((k * chunk.bytes) / 12) + (k % 3);
      const file = join(dir, `flip-${k}-${basename(good)}`);
      const damaged = Buffer.from(bytes);
      damaged[at] ^= k % 2 ? 0xff : 0x41;
      writeFileSync(file, damaged);
      try {
        const got = await rows(part(file), 0);
        assert.equal(got.length, ROWS, `${basename(file)}: a read that ends must give every row`);
        outcomes.set('rows', (outcomes.get('rows') ?? 0) + 1);
      } catch (err) {
        assert.ok(err instanceof InputFileError, `${basename(file)}: ${String(err)}`);
        assert.match(err.message, new RegExp(`^flip-${k}-`));
        assert.doesNotMatch(err.message, /\n/);
        outcomes.set('error', (outcomes.get('error') ?? 0) + 1);
      }
    }
    assert.ok((outcomes.get('error') ?? 0) > 0, `${basename(good)}: no flip was noticed (${JSON.stringify([...outcomes])})`);
  }
});

test('Parquet text read inside its pages: each ZSTD page gives its decoder back once its rows are read', async () => {
  // zstddec frees a decoder's WebAssembly memory (a few MB, never returned to the system) only when
  // its stream runs to the end; a page whose rows were all read used to keep it, so a reader's
  // memory grew with every page of its part.
  const dir = await tempDir('page-text-zstd-free');
  const [file] = await duckFiles(dir);
  const chunks = await columnChunks(file, 'u');
  assert.ok(chunks.length >= 2 && chunks.every((c) => c.codec === 'ZSTD'), JSON.stringify(chunks));
  await loadZstd();
  const fd = openSync(file, 'r');
  try {
    const before = openZstdStreams();
    const text = new PageText(fd, 'u', 1, chunks, 0);
    // Takes that end inside a page and one that ends with the part's last page.
    let taken = 0;
    for (const n of [1000, 2500, 2000, ROWS - 5500]) {
      text.take(n);
      taken += n;
      assert.ok(openZstdStreams() - before <= 1, `after ${taken} rows: ${openZstdStreams() - before} decoders alive, at most the page being read`);
    }
    assert.equal(openZstdStreams(), before, 'every page read to its end has given its decoder back');
  } finally {
    closeSync(fd);
  }
});

test('definition levels: RLE runs and bit-packed groups; a malformed run is an error, never a loop', () => {
  // RLE run of 3 ones (header 3 << 1), then one bit-packed group of 8 (header 1 << 1 | 1): 0b10100101.
  assert.deepEqual([...decodeLevels(Uint8Array.from([6, 1, 3, 0b10100101]), 11)], [1, 1, 1, 1, 0, 1, 0, 0, 1, 0, 1]);
  assert.throws(() => decodeLevels(Uint8Array.from([0, 1]), 4), /empty run/);
  assert.throws(() => decodeLevels(Uint8Array.from([6, 1]), 4), /end after 3 of 4/);
  assert.throws(() => decodeLevels(Uint8Array.from([6, 2]), 3), /level 2/);
});

test('snappy, a piece at a time: literals and copies (overlapping too) as the format says; bad blocks are errors', () => {
  // 'abcd' then a copy of 8 bytes from 4 back (overlapping): 'abcdabcdabcd'; preamble 12.
  const block = Uint8Array.from([12, (4 - 1) << 2, 97, 98, 99, 100, ((8 - 4) << 2) | 1, 4]);
  const s = new SnappyStream(block);
  assert.equal(Buffer.from(s.next()!).toString(), 'abcdabcdabcd');
  assert.equal(s.next(), null);
  assert.throws(() => new SnappyStream(Uint8Array.from([12, 3 << 2, 97, 98, 99, 100, (4 << 2) | 1, 9])).next(), /9 bytes back/);
  assert.throws(() => new SnappyStream(Uint8Array.from([5, 3 << 2, 97, 98, 99, 100])).next(), /past its stated length|ends inside/);
  // A copy with a 4-byte offset, cut after 3 of them.
  assert.throws(() => new SnappyStream(Uint8Array.from([8, 3 << 2, 97, 98, 99, 100, (3 << 2) | 3, 4, 0, 0])).next(), /ends inside an element/);
});
