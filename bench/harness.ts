/**
 * The benchmark harness: each bench/*.bench.ts module exports `benches`, a list of named async
 * functions returning result rows. `npm run bench` runs them all (or those named on the command
 * line), prints one table per bench and writes bench/results/{name}.json.
 */
import { recordTable } from '../src/analysis/table.js';
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

/** A results table: numbers to 4 significant digits (src/analysis/table.ts lays it out). */
export function formatTable(rows: readonly Row[]): string {
  return recordTable(rows, (v) => (typeof v === 'number' && !Number.isInteger(v) ? v.toPrecision(4) : v));
}

export function writeResults(name: string, rows: readonly Row[], extra: Record<string, unknown> = {}): string {
  const dir = join(projectRoot(), 'bench', 'results');
  mkdirSync(dir, { recursive: true });
  const file = join(dir, `${name}.json`);
  writeFileSync(file, JSON.stringify({ name, date: new Date().toISOString(), node: process.version, ...extra, rows }, null, 2) + '\n');
  return file;
}
