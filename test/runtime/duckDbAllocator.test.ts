import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { test } from 'node:test';
import { projectRoot } from '../../src/runtime/paths.js';
import { configureDuckDbAllocator, DUCKDB_MALLOC_CONF, DUCKDB_MALLOC_CONF_VAR } from '../../src/runtime/io/duckDbAllocator.js';

test("DuckDB's allocator options: set for the streaming commands when the user set none, the user's kept as they are, none for analysis", () => {
  for (const command of ['convert', 'rerank', 'embed', 'merge', 'probe', undefined]) {
    const unset: NodeJS.ProcessEnv = {};
    configureDuckDbAllocator(command, unset);
    assert.equal(unset[DUCKDB_MALLOC_CONF_VAR], DUCKDB_MALLOC_CONF, String(command));
  }
  const own: NodeJS.ProcessEnv = { [DUCKDB_MALLOC_CONF_VAR]: 'narenas:4' };
  configureDuckDbAllocator('convert', own);
  assert.equal(own[DUCKDB_MALLOC_CONF_VAR], 'narenas:4');
  for (const command of ['sql', 'stats', 'report']) {
    const env: NodeJS.ProcessEnv = {};
    configureDuckDbAllocator(command, env);
    assert.equal(env[DUCKDB_MALLOC_CONF_VAR], undefined, command);
  }
});

test("the options reach libduckdb's jemalloc when set before DuckDB loads, and only then", () => {
  // jemalloc prints its options at exit with stats_print; they show which conf it read.
  const script = (setFirst: boolean) => `
    const set = () => { process.env.${DUCKDB_MALLOC_CONF_VAR} = 'narenas:1,stats_print:true'; };
    ${setFirst ? 'set();' : ''}
    const { DuckDBInstance } = await import('@duckdb/node-api');
    ${setFirst ? '' : 'set();'}
    const db = await DuckDBInstance.create(':memory:');
    (await db.connect()).closeSync();
    db.closeSync();`;
  const run = (setFirst: boolean) => {
    const env = { ...process.env };
    delete env[DUCKDB_MALLOC_CONF_VAR];
    return spawnSync(process.execPath, ['--input-type=module', '-e', script(setFirst)], { encoding: 'utf8', env });
  };
  const before = run(true);
  assert.equal(before.status, 0, before.stderr);
  assert.match(before.stderr, /opt\.narenas: 1\b/);
  // Set once the library is loaded, jemalloc never reads them.
  const after = run(false);
  assert.equal(after.status, 0, after.stderr);
  assert.doesNotMatch(after.stderr, /opt\.narenas/);
});

test('the command line sets them before anything loads DuckDB: its static imports never reach @duckdb', () => {
  const root = projectRoot();
  // Static imports only (`import ... from '...'`, `import '...'`): commands load by dynamic import, after.
  const staticImports = (text: string) => [...text.matchAll(/^\s*(?:import|export)\s+(?:[^'"]*?\sfrom\s+)?'([^']+)'/gm)].map((m) => m[1]);
  const seen = new Set<string>();
  const bare = new Set<string>();
  const visit = (file: string) => {
    if (seen.has(file)) return;
    seen.add(file);
    for (const spec of staticImports(readFileSync(file, 'utf8'))) {
      if (spec.startsWith('.')) visit(join(dirname(file), spec).replace(/\.js$/, '.ts'));
      else bare.add(spec);
    }
  };
  const main = join(root, 'src', 'cli', 'main.ts');
  visit(main);
  assert.ok(seen.has(join(root, 'src', 'runtime', 'io', 'duckDbAllocator.ts')));
  assert.deepEqual([...bare].filter((s) => s.startsWith('@duckdb')), []);
  const text = readFileSync(main, 'utf8');
  const at = text.indexOf('configureDuckDbAllocator(');
  assert.ok(at >= 0 && at < text.indexOf('main(argv)'), 'main.ts configures the allocator before it runs a command');
});
