import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { projectRoot } from './paths.js';

/** Versions recorded in manifests: prefrank and the libraries that shape the output bytes. */
export function versions(): Record<string, string> {
  const own = JSON.parse(readFileSync(join(projectRoot(), 'package.json'), 'utf8')) as { version: string };
  const require = createRequire(join(projectRoot(), 'package.json'));
  const v: Record<string, string> = { prefrank: own.version, node: process.version };
  for (const pkg of ['apache-arrow', 'parquet-wasm', 'onnxruntime-node', '@huggingface/tokenizers', '@duckdb/node-api']) {
    try {
      v[pkg] = (JSON.parse(readFileSync(require.resolve(`${pkg}/package.json`), 'utf8')) as { version: string }).version;
    } catch {
      // Packages that hide package.json from `exports`: fall back to the folder.
      try {
        v[pkg] = (JSON.parse(readFileSync(join(projectRoot(), 'node_modules', pkg, 'package.json'), 'utf8')) as { version: string }).version;
      } catch {
        v[pkg] = 'unknown';
      }
    }
  }
  return v;
}
