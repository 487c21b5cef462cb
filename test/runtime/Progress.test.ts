import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { gzipSync } from 'node:zlib';
import { estimateJsonlRows } from '../../src/runtime/io/inputs.js';
import { formatDuration, progressLine, progressState } from '../../src/runtime/Progress.js';
import { tempDir } from '../helpers/badInputs.js';

test('progress lines: rows, total, percentage, speed and ETA; an estimated total is stretched, never passed', () => {
  assert.equal(progressLine(progressState(25_000, 10, 100_000)), 'progress: 25,000 / 100,000 rows (25.0%), 2,500 rows/s, ETA 30s');
  assert.equal(progressLine(progressState(1_000, 4, null)), 'progress: 1,000 rows, 250 rows/s');
  assert.equal(progressLine(progressState(0, 0, 10, true), true), 'progress: 0 / ~10 rows (0.0%), 0 rows/s');
  // The estimate was short: the total grows ahead of the count, so the bar reads under 100% until the end.
  const over = progressState(1_200, 10, 1_000, true);
  assert.equal(over.shownTotal, 1_212);
  assert.ok(over.fraction! < 1);
  assert.deepEqual([formatDuration(59.6), formatDuration(187), formatDuration(3 * 3600 + 125)], ['1m 00s', '3m 07s', '3h 02m']);
});

test('estimateJsonlRows: exact for a small plain file, close for a large one and for gzip', async () => {
  const dir = await tempDir('estimate');
  const line = (i: number) => JSON.stringify({ chosen: `a ${'x'.repeat(i % 97)}`, rejected: `b ${i}` });
  writeFileSync(join(dir, 'small.jsonl'), Array.from({ length: 10 }, (_, i) => line(i)).join('\n')); // no final newline
  assert.equal(await estimateJsonlRows(join(dir, 'small.jsonl')), 10);
  const N = 60_000;
  const text = Array.from({ length: N }, (_, i) => line(i)).join('\n') + '\n';
  writeFileSync(join(dir, 'big.jsonl'), text);
  writeFileSync(join(dir, 'big.jsonl.gz'), gzipSync(text));
  for (const f of ['big.jsonl', 'big.jsonl.gz']) {
    const est = await estimateJsonlRows(join(dir, f));
    assert.ok(Math.abs(est - N) / N < 0.1, `${f}: ${est} for ${N}`);
  }
  writeFileSync(join(dir, 'empty.jsonl'), '');
  assert.equal(await estimateJsonlRows(join(dir, 'empty.jsonl')), 0);
});
