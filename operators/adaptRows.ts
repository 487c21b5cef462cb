import { map, type OperatorFunction } from 'rxjs';
import { adaptRow, formats, type AdaptOptions } from '../schemas/adapters.js';
import type { Item, ListRecord, PairRecord, RecordBatch, RejectRecord } from '../schemas/records.js';
import type { ReadItem } from '../src/runtime/readers.js';
import type { Stats } from '../src/runtime/Stats.js';

export interface AdaptRowsOptions extends AdaptOptions {
  readonly stats: Stats;
}

/**
 * Turns raw rows into canonical pairs or lists (see schemas/adapters.ts); a row that fits no
 * layout becomes a reject with its reason. Rejects from the reader pass through.
 *
 * ```
 * raw:     [r0 r1 r2]     (r1 has no `rejected`)
 * adapted: [P0 X1 P2]     X1 = reject "missing column: rejected"
 * ```
 * @see validatePairs
 */
export function adaptRows(options: AdaptRowsOptions): OperatorFunction<RecordBatch<ReadItem>, RecordBatch<Item>> {
  const { stats, ...adapt } = options;
  if (!formats.includes(adapt.format)) throw new RangeError(`adaptRows: unknown format ${adapt.format}`);
  return map((batch) => {
    const items: (PairRecord | ListRecord | RejectRecord)[] = batch.items.map((it) => (it.kind === 'raw' ? adaptRow(it, adapt) : it));
    for (const it of items) stats.count(`adaptRows.${it.kind}`);
    return { ...batch, items };
  });
}
