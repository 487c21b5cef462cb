import assert from 'node:assert/strict';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { OutputFolder } from '../../src/runtime/io/OutputFolder.js';
import { tempDir } from '../helpers/badInputs.js';
import type { RunInfo } from '../../schemas/manifest.js';

const info = (configHash: string): RunInfo => ({ configHash, settings: { compression: configHash }, parts: 1, command: 'convert' });

test('a folder with files of its own is refused, with or without --overwrite, and nothing in it is touched', async () => {
  const dir = await tempDir('of-foreign');
  writeFileSync(join(dir, 'README.md'), 'my notes');
  mkdirSync(join(dir, 'data'));
  for (const overwrite of [false, true]) {
    await assert.rejects(new OutputFolder(dir).prepare(info('a'), overwrite), /is not empty and is not a prefrank output folder/);
  }
  assert.ok(existsSync(join(dir, 'README.md')) && existsSync(join(dir, 'data')));
});

test('an empty folder, or one holding only what another rank just made, is taken; other settings are refused until --overwrite', async () => {
  const dir = await tempDir('of-ours');
  mkdirSync(join(dir, 'completions'));
  writeFileSync(join(dir, 'run.json.123.tmp'), '');
  const folder = new OutputFolder(dir);
  await folder.prepare(info('a'), false);
  assert.equal((await folder.runInfo())?.configHash, 'a');
  await folder.prepare(info('a'), false); // same settings: resume
  await assert.rejects(folder.prepare(info('b'), false), /written with other settings \(compression: "a" -> "b"\)/);
  await folder.prepare(info('b'), true);
  assert.equal((await folder.runInfo())?.configHash, 'b');
});
