/**
 * The argument plumbing of --workers (the processes themselves are tested end to end in
 * test/resume/scaleOut.test.ts): flags stripped in every spelling, the rank mapping that keeps a
 * machine's parts the union of its workers', the threads split, and log-line prefixes.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { partsForRank } from '../../src/runtime/io/inputs.js';
import { prefixLine, stripFlags, workerArgv, workerRank } from '../../src/exec/workers.js';
import type { PartRef } from '../../schemas/records.js';

describe('workers', () => {
  it('strips --flag v, --flag=v and the camelCase spelling, and nothing else', () => {
    const argv = ['convert', 'in', '--out', 'o', '--workers', '3', '--rank=1', '--worldSize', '4', '--world-size=4', '--split', 'test', 'more'];
    assert.deepEqual(stripFlags(argv, ['workers', 'rank', 'world-size']), ['convert', 'in', '--out', 'o', '--split', 'test', 'more']);
    // A value that is not a number is not swallowed (yargs reports the bad flag in the worker).
    assert.deepEqual(stripFlags(['--workers', 'in.jsonl'], ['workers']), ['in.jsonl']);
  });

  it('gives worker i of k on machine r of n the rank r + i*n of n*k; the workers split the machine\'s parts', () => {
    const plan = { workers: 2, rank: 1, worldSize: 3 };
    assert.deepEqual(workerArgv(['convert', 'in', '--rank', '1', '--world-size', '3', '--workers', '2'], plan, 0, 8), ['convert', 'in', '--rank', '1', '--world-size', '6']);
    assert.deepEqual(workerArgv(['convert', 'in'], plan, 1, 8), ['convert', 'in', '--rank', '4', '--world-size', '6']);
    const parts = Array.from({ length: 23 }, (_, index) => ({ index }) as PartRef);
    for (const n of [1, 2, 3]) {
      for (const k of [1, 2, 4]) {
        for (let r = 0; r < n; r++) {
          const machine = partsForRank(parts, r, n).map((p) => p.index);
          const workers = Array.from({ length: k }, (_, i) => partsForRank(parts, workerRank({ rank: r, worldSize: n }, i), n * k).map((p) => p.index));
          assert.deepEqual(workers.flat().sort((a, b) => a - b), machine, `machine ${r}/${n}, ${k} workers`);
          assert.equal(new Set(workers.flat()).size, workers.flat().length, 'disjoint');
        }
      }
    }
  });

  it('splits the threads flag between workers (at least one each), replacing the user\'s value', () => {
    const plan = { workers: 3, rank: 0, worldSize: 1, threadsFlag: 'threads' };
    assert.deepEqual(workerArgv(['rerank', 'in', '--threads', '8'], { ...plan, threads: 8 }, 2, 16).slice(-2), ['--threads', '2']);
    assert.deepEqual(workerArgv(['rerank', 'in'], plan, 0, 16).slice(-2), ['--threads', '5']);
    assert.deepEqual(workerArgv(['rerank', 'in'], plan, 0, 2).slice(-2), ['--threads', '1']);
    assert.equal(workerArgv(['rerank', 'in', '--threads=8'], plan, 0, 16).filter((a) => a.startsWith('--threads')).length, 1);
  });

  it('prefixes text log lines and adds a worker field to JSON ones', () => {
    assert.equal(prefixLine('shard data/x.parquet in=3', 1), '[worker 1] shard data/x.parquet in=3');
    assert.deepEqual(JSON.parse(prefixLine('{"level":"info","msg":"m"}', 2)), { worker: 2, level: 'info', msg: 'm' });
  });
});
