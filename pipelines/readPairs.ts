import { concatMap, from, identity, pipe, type Observable, type OperatorFunction } from 'rxjs';
import type { AdaptOptions } from '../schemas/adapters.js';
import type { CanonicalItem, Item, PartRef, ReadItem, RecordBatch } from '../schemas/records.js';
import type { ValidateOptions } from '../schemas/validate.js';
import { adaptRows } from '../operators/adaptRows.js';
import { streamPart } from './eachPart.js';
import { validatePairs } from '../operators/validatePairs.js';
import type { ReadOptions } from '../src/runtime/io/readers.js';
import type { Stats } from '../src/runtime/Stats.js';

export interface ReadPairsOptions {
  readonly read: ReadOptions;
  readonly adapt: AdaptOptions;
  readonly validate: ValidateOptions;
  /** Batches in flight per part (see streamPart). */
  readonly window: number;
  readonly stats: Stats;
}

/** The front stages every command shares: raw rows -> canonical, validated records (rejects tagged). */
export function canonicalStages(options: ReadPairsOptions): OperatorFunction<RecordBatch<ReadItem>, RecordBatch<CanonicalItem>> {
  return pipe(adaptRows({ ...options.adapt, stats: options.stats }), validatePairs({ ...options.validate, stats: options.stats }));
}

/**
 * Reads parts in order as canonical record batches: read -> adapt -> validate, then `then` (for
 * example embed), all inside the part's flow-control window so memory stays flat. Parts are read
 * one after another (concatMap): a file is opened only when the previous one is done.
 */
export function readPairs(parts: readonly PartRef[], options: ReadPairsOptions): Observable<RecordBatch<CanonicalItem>>;
export function readPairs<T extends Item>(parts: readonly PartRef[], options: ReadPairsOptions, then: OperatorFunction<RecordBatch<CanonicalItem>, RecordBatch<T>>): Observable<RecordBatch<T>>;
export function readPairs(
  parts: readonly PartRef[],
  options: ReadPairsOptions,
  then: OperatorFunction<RecordBatch<CanonicalItem>, RecordBatch<Item>> = identity,
): Observable<RecordBatch<Item>> {
  return from(parts).pipe(
    concatMap((part) => streamPart({ part, read: options.read, window: options.window, stats: options.stats, stages: pipe(canonicalStages(options), then) })),
  );
}
