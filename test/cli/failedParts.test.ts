import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { dataPath } from '../../src/runtime/paths.js';
import { readManifest, runCli, tempDir } from '../helpers/badInputs.js';

// An unreadable input is a "failed" completion record, so a manifest accounts for it whichever
// process read it: one process, --workers, or ranks merged later.
test('an unreadable input among good ones: failed in the manifest with one process, with --workers, and after merge', async () => {
  const root = await tempDir('failed-parts');
  const input = join(root, 'in');
  const sample = dataPath('sample', 'hh-rlhf-harmless-test-1k.parquet');
  mkdirSync(input);
  copyFileSync(sample, join(input, 'a.parquet'));
  writeFileSync(join(input, 'b.parquet'), readFileSync(sample).subarray(0, 1000)); // truncated: no footer
  copyFileSync(sample, join(input, 'c.parquet'));

  for (const extra of [[], ['--workers', '2']]) {
    const out = join(root, `out${extra.length}`);
    const r = await runCli(['convert', input, '--out', out, ...extra]);
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, /b\.parquet: not a readable Parquet file/);
    assert.doesNotMatch(r.stderr, /exited with code/, 'a worker with an unreadable input is not a crashed worker');
    const m = readManifest(out);
    assert.deepEqual(m.shards.map((s) => s.status), ['done', 'failed', 'done']);
    assert.equal(m.totals.failedParts, 1);
    assert.equal(m.totals.rowsIn, 2000);

    const merged = await runCli(['merge', out]);
    assert.equal(merged.code, 1, merged.stderr);
    assert.match(merged.stderr, /part 1 failed: .*b\.parquet/);
    assert.equal(readManifest(out).totals.failedParts, 1);
  }
});
