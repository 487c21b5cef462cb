import { defer, map, type OperatorFunction } from 'rxjs';
import { adaptRow, detectFormat, formats, type AdaptOptions, type Format } from '../schemas/adapters.js';
import type { CanonicalItem, RawRow, ReadItem, RecordBatch } from '../schemas/records.js';
import type { Stats } from '../src/runtime/Stats.js';

export interface AdaptRowsOptions extends AdaptOptions {
  readonly stats: Stats;
}

/**
 * Turns raw rows into canonical pairs or lists (see schemas/adapters.ts); a row that fits no
 * layout becomes a reject with its reason. Rejects from the reader pass through.
 *
 * With `format: 'auto'` each row's layout is detected from its columns. A row that fits none is
 * read in the layout of the part's first row that did fit, so that its reason names the missing
 * column ("missing column: rejected") rather than "unknown format"; that memory is per
 * subscription (one part).
 *
 * ```
 * raw:     [r0 r1 r2]     (r1 has no `rejected`)
 * adapted: [P0 X1 P2]     X1 = reject "missing column: rejected"
 * ```
 * @see validatePairs
 */
export function adaptRows(options: AdaptRowsOptions): OperatorFunction<RecordBatch<ReadItem>, RecordBatch<CanonicalItem>> {
  const { stats, ...adapt } = options;
  if (!formats.includes(adapt.format)) throw new RangeError(`adaptRows: unknown format ${adapt.format}`);
  return (source) =>
    defer(() => {
      let partFormat: Format | null = null;
      // One options object per detected format, not one per row.
      const asFormat = Object.fromEntries(formats.map((format) => [format, { ...adapt, format }])) as Record<Format, AdaptOptions>;
      const adaptOne = (it: RawRow) => {
        if (adapt.format !== 'auto') return adaptRow(it, adapt);
        const own = detectFormat(it.row);
        partFormat ??= own;
        return adaptRow(it, asFormat[own ?? partFormat ?? 'auto']);
      };
      return source.pipe(
        map((batch) => {
          const items: CanonicalItem[] = batch.items.map((it) => (it.kind === 'raw' ? adaptOne(it) : it));
          for (const it of items) stats.count(`adaptRows.${it.kind}`);
          return { ...batch, items };
        }),
      );
    });
}
