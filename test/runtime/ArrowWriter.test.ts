import assert from 'node:assert/strict';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { Table, tableFromArrays, tableFromIPC, Utf8, vectorFromArray } from 'apache-arrow';
import { ArrowWriter } from '../../src/runtime/io/ArrowWriter.js';
import { tmpName } from '../../schemas/layout.js';
import { tempDir } from '../helpers/badInputs.js';

test('ArrowWriter: batches out as they come under one schema with the metadata, renamed into place on close; abort after writing removes the file and rejects nothing', async () => {
  const dir = await tempDir('arrow-writer');
  const t = tableFromArrays({ a: ['x', 'y'], b: Float32Array.of(1, 2) });
  const w = new ArrowWriter(join(dir, 'a.arrow'), t.schema, { prefrank: '{"k":1}' });
  await w.write(t);
  await w.write(t);
  assert.ok(!existsSync(join(dir, 'a.arrow')), 'not in place before close');
  await w.close();
  const back = tableFromIPC(readFileSync(join(dir, 'a.arrow')));
  assert.equal(back.numRows, 4);
  assert.equal(back.schema.metadata.get('prefrank'), '{"k":1}');
  assert.deepEqual(back.getChild('a')!.toArray(), ['x', 'y', 'x', 'y']);

  // An abort mid-file (a failed part, a stop) used to leave apache-arrow's own rejected promise
  // unhandled, which ends a Node process.
  const rejections: unknown[] = [];
  const onRejection = (e: unknown) => rejections.push(e);
  process.on('unhandledRejection', onRejection);
  const v = new ArrowWriter(join(dir, 'b.arrow'), t.schema);
  await v.write(t);
  await v.abort();
  await new Promise((r) => setTimeout(r, 50));
  process.off('unhandledRejection', onRejection);
  assert.deepEqual(rejections, []);
  assert.ok(!existsSync(join(dir, 'b.arrow.tmp')) && !existsSync(join(dir, 'b.arrow')));
  await assert.rejects(v.write(t), /write after close/);
});

test('ArrowWriter: write() waits for the disk, so what is not yet in the file stays within a bound however much is written', async () => {
  const dir = await tempDir('arrow-writer-backpressure');
  // About 1 MiB of IPC per table; 48 of them is several times the writer's 8 MiB mark.
  const t = new Table({ text: vectorFromArray(Array.from({ length: 1024 }, (_, i) => `${i} `.padEnd(1024, 'x')), new Utf8()) });
  const path = join(dir, 'big.arrow');
  const w = new ArrowWriter(path, t.schema);
  const tables = 48;
  const onDisk: number[] = [];
  for (let k = 0; k < tables; k++) {
    await w.write(t);
    // The file opens asynchronously: not there yet is nothing written yet.
    onDisk.push(existsSync(tmpName(path)) ? statSync(tmpName(path)).size : 0);
  }
  await w.close();
  const perTable = statSync(path).size / tables;
  // Before, write() looked only at the file stream's own buffer, which the pipe keeps small, while
  // apache-arrow's queue held the rest: nothing reached the file until close, and memory grew with it.
  for (const [k, size] of onDisk.entries()) assert.ok(size >= (k + 1) * perTable - 8 * 2 ** 20 - 2 * perTable, `after table ${k + 1}: ${size} bytes in the file of ${Math.round((k + 1) * perTable)}`);
  assert.equal(tableFromIPC(readFileSync(path)).numRows, tables * 1024);
});
