/**
 * DuckDB VARCHAR vectors as UTF-8 bytes (columnBuffer.ts, TextSource), for the Parquet reader
 * (parquetWorker.ts): the bytes go from DuckDB's memory straight into the batch that crosses to the
 * main thread, and the strings are made there, where they are used.
 *
 * Why not @duckdb/node-api's converter: it makes a string per value in the worker (an ArrayBuffer
 * and a TextDecoder call each), which structured clone then copies out and in again. Measured on
 * 1M HH rows (1.39 GB of text, one thread, 2026-12-07): DuckDB's own decoding took 5.0 s, the
 * converter 8.5 s more, copying out the bytes 2.3 s more.
 *
 * A vector's rows are 16-byte string headers (duckdb_string_t): a uint32 length, then the bytes
 * inline when they fit in 12, else a 4-byte prefix and a pointer into DuckDB's memory, which only
 * the binding can read (get_data_from_pointer).
 *
 * Rows whose strings lie back to back in DuckDB's memory (each starts where the one before ends)
 * are copied as one run, with one call: only their own bytes are read. A Parquet page's strings come
 * out that way (on the bench's 1M-row input, 99.5% of the long strings follow the one before); a
 * dictionary's repeats do not, and are copied one by one. Each call makes an ArrayBuffer, so one per
 * run rather than per string took the reader alone on that input from 8.1-9.7 s to 4.5-6.7 s, and
 * 11.0-13.4 s of CPU to 5.9-8.7 (2026-12-07, alternating, 3 runs each).
 */
import duckdb from '@duckdb/node-bindings';
import type { DuckDBDataChunk } from '@duckdb/node-api';
import { bitAt } from './bitmaps.js';
import type { TextColumn, TextSource } from './columnBuffer.js';

const HEADER = 16;
const INLINE = 12;

/**
 * Column `column` of a result chunk, a flat VARCHAR vector (as a query result's are). The source
 * holds the chunk: the headers and the strings they point to are DuckDB's until it is freed.
 */
export function textSource(chunk: DuckDBDataChunk, column: number): TextSource {
  const n = chunk.rowCount;
  const vector = duckdb.data_chunk_get_vector(chunk.chunk, column);
  const headers = duckdb.vector_get_data(vector, HEADER * n);
  const view = new DataView(headers.buffer, headers.byteOffset, headers.byteLength);
  // Validity: one bit per row in 64-bit words, or nothing when every row is valid.
  const validity = duckdb.vector_get_validity(vector, Math.ceil(n / 64) * 8);
  const isNull = (i: number) => validity !== null && validity !== undefined && bitAt(validity, i) === 0;
  return {
    bytes(from, to) {
      let total = 0;
      for (let i = from; i < to; i++) if (!isNull(i)) total += view.getUint32(HEADER * i, true);
      return total;
    },
    copy(from, to, into: TextColumn, row) {
      void chunk; // the chunk must outlive this source (see above)
      const { utf8, ends, nulls } = into;
      let at = ends[row];
      // The open run: the header of its first string, its bytes, where it goes, where it would go on.
      let runHeader = -1;
      let runBytes = 0;
      let runAt = 0;
      let runNext = 0;
      const flush = () => {
        if (runHeader >= 0) utf8.set(duckdb.get_data_from_pointer(headers.buffer as ArrayBuffer, headers.byteOffset + runHeader + 8, runBytes), runAt);
        runHeader = -1;
      };
      for (let i = from; i < to; i++, row++) {
        if (isNull(i)) nulls[row] = 1;
        else {
          const h = HEADER * i;
          const len = view.getUint32(h, true);
          if (len <= INLINE) for (let j = 0; j < len; j++) utf8[at + j] = headers[h + 4 + j];
          else {
            // A user-space address is under 2^48, so it is exact as a double.
            const pointer = view.getUint32(h + 12, true) * 2 ** 32 + view.getUint32(h + 8, true);
            // The run goes on while the string follows it in DuckDB's memory and in the batch
            // (a short string, inline, may have come between).
            if (runHeader < 0 || pointer !== runNext || at !== runAt + runBytes) {
              flush();
              runHeader = h;
              runBytes = 0;
              runAt = at;
              runNext = pointer;
            }
            runBytes += len;
            runNext += len;
          }
          at += len;
        }
        ends[row + 1] = at;
      }
      flush();
    },
  };
}
