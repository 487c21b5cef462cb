import assert from 'node:assert/strict';
import { test } from 'node:test';
import yargs from 'yargs';
import { inputConfig, pageStreamPolicy, withInputOptions, type InputArgs } from '../../src/cli/ioOptions.js';
import { UsageError } from '../../src/runtime/errors.js';
import { AUTO_PAGE_STREAM } from '../../src/runtime/io/parquetPageText.js';

const parse = (argv: string[]) => withInputOptions(yargs(argv).command('$0 <inputs..>', '')).strict().exitProcess(false).fail((msg, err) => { throw err ?? new Error(msg); }).parseSync() as unknown as InputArgs;

test('--page-stream-size: auto by default (16 MiB, ZSTD and uncompressed pages); a size takes SNAPPY pages too; off leaves every page to DuckDB', () => {
  assert.deepEqual(inputConfig(parse(['a.parquet']), 512).read.pageStream, AUTO_PAGE_STREAM);
  assert.deepEqual(AUTO_PAGE_STREAM, { bytes: 16 * 2 ** 20, codecs: ['ZSTD', 'UNCOMPRESSED'] });
  assert.deepEqual(pageStreamPolicy('8MiB'), { bytes: 8 * 2 ** 20, codecs: ['UNCOMPRESSED', 'SNAPPY', 'ZSTD'] });
  assert.equal(inputConfig(parse(['a.parquet', '--page-stream-size', 'off']), 512).read.pageStream, undefined);
  assert.throws(() => pageStreamPolicy('big'), (e: Error) => e instanceof UsageError && /--page-stream-size must be auto, off or a size such as 16MiB, got "big"/.test(e.message));
});
