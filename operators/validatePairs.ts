import { defer, map, type OperatorFunction } from 'rxjs';
import { toReject, type CanonicalItem, type RecordBatch } from '../schemas/records.js';
import { validateList, validatePair, type ValidateOptions } from '../schemas/validate.js';
import type { Stats } from '../src/runtime/Stats.js';

export interface ValidatePairsOptions extends ValidateOptions {
  readonly stats: Stats;
}

/**
 * Checks canonical records (chosen equal to rejected, over-long text, a repeated input id) and
 * turns the bad ones into rejects, counted by reason. Ids are checked within a subscription (one
 * part): a global check would need memory that grows with the dataset.
 *
 * ```
 * in:  [P0 P1 P2]    P1.chosen === P1.rejected
 * out: [P0 X1 P2]    X1 = reject "chosen equals rejected"
 * ```
 * @see adaptRows, writeShard
 */
export function validatePairs(options: ValidatePairsOptions): OperatorFunction<RecordBatch<CanonicalItem>, RecordBatch<CanonicalItem>> {
  const { stats, ...check } = options;
  if (!(check.maxTextChars > 0)) throw new RangeError(`validatePairs: maxTextChars must be positive, got ${check.maxTextChars}`);
  return (source) =>
    defer(() => {
      // Per subscription, never per module: two parts never share it.
      const seenIds = new Set<string>();
      return source.pipe(
        map((batch) => {
          const items = batch.items.map((it): CanonicalItem => {
            if (it.kind !== 'pair' && it.kind !== 'list') return it;
            let reason = it.kind === 'pair' ? validatePair(it, check) : validateList(it, check);
            const inputId = !it.idFromInput ? null : it.kind === 'pair' ? it.pairId : it.listId;
            if (!reason && inputId !== null && seenIds.has(inputId)) reason = `duplicate id: ${inputId}`;
            if (!reason) {
              if (inputId !== null) seenIds.add(inputId);
              return it;
            }
            stats.count(`validatePairs.rejected`);
            return toReject(it, reason);
          });
          return { ...batch, items };
        }),
      );
    });
}
