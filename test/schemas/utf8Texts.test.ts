import assert from 'node:assert/strict';
import { hash } from 'node:crypto';
import { test } from 'node:test';
import { adaptRow } from '../../schemas/adapters.js';
import { pairOutputRow, pairOutputSchema, tableFromRows } from '../../schemas/output.js';
import type { PairRecord } from '../../schemas/records.js';
import { Utf8Texts } from '../../schemas/utf8Texts.js';

// ASCII, Latin-1, a curly quote (HH's most common non-ASCII), an emoji (a surrogate pair), a lone
// surrogate (UTF-8 has no such thing: U+FFFD, as Node writes it), an embedded NUL and empty text.
const texts = ['plain', 'café', 'don’t', 'ok 👍', 'lone \ud800 half', 'a\u0000b', ''];

test('Utf8Texts: the id hashes the same bytes as the texts joined and ended by NULs', () => {
  for (const a of texts)
    for (const b of texts) {
      const joined = hash('sha256', [a, b, 'x', ''].join('\u0000'), 'hex').slice(0, 24);
      assert.equal(Utf8Texts.encode([a, b, 'x']).id(), joined, JSON.stringify([a, b]));
    }
});

test('Utf8Texts: copies the bytes of its own strings only, across slabs and past a slab', () => {
  // Enough records to fill several 1 MiB slabs, one text longer than a slab, then small ones again.
  const long = 'é’'.repeat(300_000);
  const made = Array.from({ length: 3000 }, (_, i) => [`${i} ${texts[i % texts.length]}`.repeat(40 + (i % 7)), i === 1500 ? long : `r${i}`]);
  const encoded = made.map((t) => Utf8Texts.encode(t));
  const target = Buffer.alloc(long.length * 3 + 16);
  made.forEach((t, i) => {
    for (const s of t) {
      const n = encoded[i].copyInto(s, target, 5);
      assert.equal(n, Buffer.byteLength(s), `record ${i}`);
      assert.ok(target.subarray(5, 5 + n).equals(Buffer.from(s)), `record ${i}`);
    }
    assert.equal(encoded[i].copyInto('not one of them', target, 0), -1);
  });
});

test('the writer takes the bytes of the texts a row has now: swapped chosen and rejected stay right', () => {
  const raw = { kind: 'raw' as const, sourceFile: 'f', sourceRow: 0, row: { prompt: 'Q: café?', chosen: ' don’t 👍', rejected: ' sure \ud800' } };
  const p = adaptRow(raw, { format: 'explicit', pkuChoice: 'safer' }) as PairRecord;
  assert.ok(p.utf8, 'the adapter encodes the texts once');
  // A record rebuilt with the texts swapped keeps the same Utf8Texts (spread), as relabelPairs does.
  const swapped: PairRecord = { ...p, chosen: p.rejected, rejected: p.chosen };
  // Same length as chosen, other text: only the very strings count, not their length.
  const other: PairRecord = { ...p, chosen: ' dont! 👍', rejected: p.chosen };
  const t = tableFromRows(pairOutputSchema, [p, swapped, other].map(pairOutputRow));
  const col = (name: string) => [...t.getChild(name)!];
  assert.deepEqual(col('prompt'), ['Q: café?', 'Q: café?', 'Q: café?']);
  assert.deepEqual(col('chosen'), [' don’t 👍', ' sure \ufffd', ' dont! 👍']);
  assert.deepEqual(col('rejected'), [' sure \ufffd', ' don’t 👍', ' don’t 👍']);
});
