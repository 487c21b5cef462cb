import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { tableFromArrays, tableFromIPC } from 'apache-arrow';
import { ArrowWriter } from '../../src/runtime/io/ArrowWriter.js';
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
