import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ColumnBuffer, columnValues, isText, transferList, type TextColumn, type TextSource } from '../../src/runtime/io/columnBuffer.js';

/** A text column of a chunk, from strings (a reader's source is a DuckDB vector: duckDbText.ts). */
function textOf(values: readonly (string | null)[]): TextSource {
  const bytes = values.map((v) => (v === null ? null : Buffer.from(v)));
  return {
    bytes: (from, to) => bytes.slice(from, to).reduce((s, b) => s + (b?.length ?? 0), 0),
    copy(from, to, into: TextColumn, row) {
      let at = into.ends[row];
      for (let i = from; i < to; i++, row++) {
        const b = bytes[i];
        if (b === null) into.nulls[row] = 1;
        else {
          into.utf8.set(b, at);
          at += b.length;
        }
        into.ends[row + 1] = at;
      }
    },
  };
}

test('text columns: batches across chunks keep every value (nulls, empty, non-ASCII) beside plain columns, in a buffer of their own that can be transferred', () => {
  const first = ['a', null, '', 'x'.repeat(20)];
  const second = ['héllo 漢字 🎉', null, 'z'];
  const buf = new ColumnBuffer(['text', 'n']);
  buf.push([textOf(first), [1, 2, 3, 4]], 4);
  buf.push([textOf(second), [5n, 6n, 7n]], 3);
  const a = buf.take(3);
  const b = buf.take(10);
  assert.equal(buf.size, 0);
  assert.deepEqual([a.n, b.n], [3, 4]);
  assert.deepEqual(columnValues(a.columns[0], a.n), ['a', null, '']);
  assert.deepEqual(columnValues(b.columns[0], b.n), ['x'.repeat(20), 'héllo 漢字 🎉', null, 'z']);
  assert.deepEqual(columnValues(b.columns[1], b.n), [4, 5n, 6n, 7n]);
  const text = b.columns[0] as TextColumn;
  assert.ok(isText(text) && !isText(b.columns[1]));
  // Its own buffer from byte 0, not a slice of Node's shared pool: transferring it detaches it alone.
  assert.equal(text.utf8.byteOffset, 0);
  const [moved] = transferList(b);
  const copy = structuredClone(b, { transfer: [moved] });
  assert.equal(moved.byteLength, 0);
  assert.deepEqual(columnValues(copy.columns[0], copy.n), ['x'.repeat(20), 'héllo 漢字 🎉', null, 'z']);
});

test('text buffers handed back are written into again: no new buffer per batch', () => {
  const buf = new ColumnBuffer(['text']);
  const rows = Array.from({ length: 40 }, (_, i) => `row ${i} `.repeat(100 + i));
  buf.push([textOf(rows)], rows.length);
  const first = buf.take(10).columns[0] as TextColumn;
  buf.giveBack([first.utf8.buffer as ArrayBuffer]);
  // The next batch is a little larger; the buffer was made with room to grow.
  const second = buf.take(10).columns[0] as TextColumn;
  assert.equal(second.utf8.buffer, first.utf8.buffer);
  assert.deepEqual(columnValues(second, 10), rows.slice(10, 20));
  // Not handed back: a fresh buffer.
  const third = buf.take(10).columns[0] as TextColumn;
  assert.notEqual(third.utf8.buffer, second.utf8.buffer);
  assert.deepEqual(columnValues(third, 10), rows.slice(20, 30));
});

test('a chunk is released once its last row is taken, not before, and a chunk of no rows at once', () => {
  const released: string[] = [];
  const buf = new ColumnBuffer(['text']);
  buf.push([textOf(['a', 'b', 'c'])], 3, () => released.push('first'));
  buf.push([textOf(['d', 'e'])], 2, () => released.push('second'));
  buf.push([textOf([])], 0, () => released.push('empty'));
  assert.deepEqual(released, ['empty']);
  assert.deepEqual(columnValues(buf.take(2).columns[0], 2), ['a', 'b']);
  assert.deepEqual(released, ['empty']);
  // The batch that takes the first chunk's last row and part of the second releases the first only.
  assert.deepEqual(columnValues(buf.take(2).columns[0], 2), ['c', 'd']);
  assert.deepEqual(released, ['empty', 'first']);
  assert.deepEqual(columnValues(buf.take(5).columns[0], 1), ['e']);
  assert.deepEqual(released, ['empty', 'first', 'second']);
});
