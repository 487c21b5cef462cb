/**
 * The benchmark harness: each bench/*.bench.ts module exports `benches`, a list of named async
 * functions returning result rows. `npm run bench` runs them all (or those named on the command
 * line), prints one table per bench and writes bench/results/{name}.json.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { projectRoot } from '../src/runtime/paths.js';

export type Row = Record<string, string | number | boolean | null>;

export interface Bench {
  readonly name: string;
  readonly description: string;
  run(): Promise<Row[]>;
}

/** Median of a list of numbers (the harness reports medians of repeated runs). */
export function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/** Runs fn `repeats` times and returns the median wall time in seconds and the last result. */
export async function timeMedian<T>(repeats: number, fn: () => Promise<T>): Promise<{ seconds: number; runs: number[]; result: T }> {
  const runs: number[] = [];
  let result!: T;
  for (let i = 0; i < repeats; i++) {
    const t0 = process.hrtime.bigint();
    result = await fn();
    runs.push(Number(process.hrtime.bigint() - t0) / 1e9);
  }
  return { seconds: median(runs), runs, result };
}

export function formatTable(rows: readonly Row[]): string {
  if (rows.length === 0) return '(no rows)';
  const cols = [...new Set(rows.flatMap((r) => Object.keys(r)))];
  const fmt = (v: Row[string] | undefined) =>
    v === null || v === undefined ? '' : typeof v === 'number' ? (Number.isInteger(v) ? String(v) : v.toPrecision(4)) : String(v);
  const cells = rows.map((r) => cols.map((c) => fmt(r[c])));
  const widths = cols.map((c, i) => Math.max(c.length, ...cells.map((row) => row[i].length)));
  const line = (vals: string[]) => vals.map((v, i) => v.padEnd(widths[i])).join('  ');
  return [line(cols), line(widths.map((w) => '-'.repeat(w))), ...cells.map(line)].join('\n');
}

export function writeResults(name: string, rows: readonly Row[], extra: Record<string, unknown> = {}): string {
  const dir = join(projectRoot(), 'bench', 'results');
  mkdirSync(dir, { recursive: true });
  const file = join(dir, `${name}.json`);
  writeFileSync(file, JSON.stringify({ name, date: new Date().toISOString(), node: process.version, ...extra, rows }, null, 2) + '\n');
  return file;
}
