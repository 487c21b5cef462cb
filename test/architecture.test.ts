/**
 * The house's rules, read from the source's own imports: which room may import which, and no file
 * cycles. A forbidden import fails here with its file and line, before review has to find it.
 *
 * Rooms, from the ground up (a room may import those it lists, and itself):
 *   schemas/       record and file shapes, the output layout: nothing else
 *   src/runtime/   model (session, tokenizer, layer tap) and io (readers, writers, folders, DuckDB)
 *   src/probe/     the reward probe and the confidence: no pipeline, no operator
 *   operators/     one RxJS operator a file: no pipeline, executor or CLI
 *   src/analysis/  SQL over output folders: no operator or pipeline
 *   src/exec/      executors (plan, resume, local run, workers, merge): know no domain stage
 *   pipelines/     compose operators: no executor, CLI or analysis
 *   src/cli/       parses flags and prints: anything below it
 *   src/index.ts   the library's face: anything but the CLI
 * Nothing of the product imports test/, bench/ or scripts/.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, normalize, relative } from 'node:path';
import { test } from 'node:test';
import { projectRoot } from '../src/runtime/paths.js';

const ROOMS = ['schemas', 'src/runtime', 'src/probe', 'operators', 'src/analysis', 'src/exec', 'pipelines', 'src/cli', 'src/index.ts'] as const;
type Room = (typeof ROOMS)[number];

const MAY_IMPORT: Readonly<Record<Room, readonly Room[]>> = {
  schemas: [],
  'src/runtime': ['schemas'],
  'src/probe': ['schemas', 'src/runtime'],
  operators: ['schemas', 'src/runtime', 'src/probe'],
  'src/analysis': ['schemas', 'src/runtime', 'src/probe'],
  'src/exec': ['schemas', 'src/runtime'],
  pipelines: ['schemas', 'src/runtime', 'src/probe', 'operators'],
  'src/cli': ['schemas', 'src/runtime', 'src/probe', 'operators', 'src/analysis', 'src/exec', 'pipelines'],
  'src/index.ts': ['schemas', 'src/runtime', 'src/probe', 'operators', 'src/analysis', 'src/exec', 'pipelines'],
};

/** The room of a repository path, or null for what is not the product (test/, bench/, scripts/, ...). */
export function roomOf(path: string): Room | null {
  if (path === 'src/index.ts') return path;
  return ROOMS.find((r) => r !== 'src/index.ts' && path.startsWith(r + '/')) ?? null;
}

/** Relative imports of a source text, with their lines: static, type-only, re-exports and dynamic. */
export function importsOf(text: string): { spec: string; line: number }[] {
  const out: { spec: string; line: number }[] = [];
  const re = /(?:\bfrom\s*|\bimport\s*\(\s*|^\s*import\s+)'(\.{1,2}\/[^']+)'/gm;
  for (const m of text.matchAll(re)) out.push({ spec: m[1], line: text.slice(0, m.index).split('\n').length });
  return out;
}

/** Every forbidden import of `files` (repository path -> text), one line each. */
export function forbiddenImports(files: ReadonlyMap<string, string>): string[] {
  const problems: string[] = [];
  for (const [path, text] of files) {
    const from = roomOf(path);
    if (!from) continue;
    for (const { spec, line } of importsOf(text)) {
      const target = normalize(join(dirname(path), spec)).replace(/\.js$/, '.ts');
      const to = roomOf(target);
      if (to === from) continue;
      if (to === null) problems.push(`${path}:${line}: imports ${target}, which is not part of the product`);
      else if (!MAY_IMPORT[from].includes(to)) problems.push(`${path}:${line}: ${from} may not import ${to} (${target})`);
    }
  }
  return problems;
}

/** File cycles among `files`, each as its chain of paths. */
export function importCycles(files: ReadonlyMap<string, string>): string[][] {
  const edges = new Map<string, string[]>();
  for (const [path, text] of files) {
    edges.set(
      path,
      importsOf(text)
        .map(({ spec }) => normalize(join(dirname(path), spec)).replace(/\.js$/, '.ts'))
        .filter((t) => files.has(t)),
    );
  }
  const cycles: string[][] = [];
  const state = new Map<string, 'open' | 'done'>();
  const stack: string[] = [];
  const visit = (f: string) => {
    state.set(f, 'open');
    stack.push(f);
    for (const t of edges.get(f) ?? []) {
      if (state.get(t) === 'open') cycles.push([...stack.slice(stack.indexOf(t)), t]);
      else if (!state.has(t)) visit(t);
    }
    stack.pop();
    state.set(f, 'done');
  };
  for (const f of [...files.keys()].sort()) if (!state.has(f)) visit(f);
  return cycles;
}

function productSources(root: string): Map<string, string> {
  const files = new Map<string, string>();
  for (const top of ['schemas', 'src', 'operators', 'pipelines']) {
    for (const entry of readdirSync(join(root, top), { recursive: true, encoding: 'utf8' })) {
      if (!entry.endsWith('.ts') || entry.endsWith('.d.ts')) continue;
      const path = relative(root, join(root, top, entry)).split('\\').join('/');
      files.set(path, readFileSync(join(root, path), 'utf8'));
    }
  }
  return files;
}

test('no room imports a room above it, and no file imports itself round a loop', () => {
  const files = productSources(projectRoot());
  assert.ok(files.size > 50, `read ${files.size} source files`);
  for (const path of files.keys()) assert.notEqual(roomOf(path), null, `${path} is in no room: add it to the rules`);
  assert.deepEqual(forbiddenImports(files), []);
  assert.deepEqual(importCycles(files), []);
});

test('the checks see a forbidden arrow and a cycle', () => {
  const files = new Map([
    ['src/probe/a.ts', "import { x } from '../../pipelines/readPairs.js';\nimport type { Y } from './b.js';"],
    ['src/probe/b.ts', "export { z } from './a.js';"],
    ['schemas/c.ts', "const m = await import('../src/runtime/paths.js');"],
    ['operators/d.ts', "import { h } from '../test/helpers/random.js';"],
  ]);
  assert.deepEqual(forbiddenImports(files), [
    'src/probe/a.ts:1: src/probe may not import pipelines (pipelines/readPairs.ts)',
    'schemas/c.ts:1: schemas may not import src/runtime (src/runtime/paths.ts)',
    'operators/d.ts:1: imports test/helpers/random.ts, which is not part of the product',
  ]);
  assert.deepEqual(importCycles(files), [['src/probe/a.ts', 'src/probe/b.ts', 'src/probe/a.ts']]);
});
