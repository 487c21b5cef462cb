import { shardPath } from '../schemas/layout.js';
import { mkdir } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { OperatorFunction } from 'rxjs';
import { Utf8, type Field, type Schema } from 'apache-arrow';
import {
  isLabelled,
  listOutputRow,
  listOutputSchema,
  pairOutputRow,
  pairOutputSchema,
  passThroughColumn,
  tableFromRows,
  withPassThrough,
} from '../schemas/output.js';
import type { ShardResult } from '../schemas/manifest.js';
import type { CanonicalItem, LabelledItem, LabelledPair, ListRecord, PairRecord, RecordBatch } from '../schemas/records.js';
import { openShardWriter, type ShardWriter, type ShardWriterOptions } from '../src/runtime/io/shardWriter.js';
import { sinkPart, type PartSink, type PartTally, type ShardTarget } from '../src/runtime/io/partSink.js';


export interface WriteShardOptions extends ShardTarget, ShardWriterOptions {}

const EXTRA = 'extra_columns';

/**
 * Writes one part's records: pairs to `data/`, lists (from `convert`) to `lists/`, rejects to
 * `rejects/`, each under a temporary name renamed into place on completion; emits one ShardResult
 * with the part's counts and the data shard's sha256 (the life cycle is sinkPart's).
 *
 * Pass-through columns are fixed by the first record (stored as text, see passThroughValue). For
 * JSON lines, where a later row may bring new keys, those go to `extra_columns` as JSON: nothing
 * is dropped. A part whose rows were all rejected still gets its (empty) data shard: n shards,
 * always.
 *
 * ```
 * in:  [P X P] [P P] |
 * out: ------------- R|     R = { status: "done", stats: { rowsIn: 5, rowsOut: 4, rowsRejected: 1 } }
 * ```
 * @see streamPart, sinkPart, markComplete
 */
export function writeShard(options: WriteShardOptions): OperatorFunction<RecordBatch<CanonicalItem | LabelledItem>, ShardResult> {
  const { part, outDir } = options;
  if (!(options.rowGroupRows > 0)) throw new RangeError(`writeShard: rowGroupRows must be positive, got ${options.rowGroupRows}`);
  const dataPath = shardPath('data', options.split, part.index, part.count, options.format);
  const listsPath = shardPath('lists', options.split, part.index, part.count, options.format);
  const write: ShardWriterOptions = { compression: options.compression, rowGroupRows: options.rowGroupRows, metadata: options.metadata, format: options.format };
  const schemaFor = (base: Schema, cols: string[]) =>
    withPassThrough(base, [...cols, ...(part.format === 'jsonl' ? [EXTRA] : [])].map((n) => ({ name: n, type: new Utf8() })));
  const columnsOf = (rec: PairRecord | ListRecord) => Object.keys(rec.passThrough).map(passThroughColumn);
  // A shard's column names, made once per schema rather than once per row.
  const names = new WeakMap<Schema, ReadonlySet<string>>();
  const fit = (row: Record<string, unknown>, schema: Schema) => {
    // Keys the shard's schema does not have go to extra_columns (JSON lines only).
    let known = names.get(schema);
    if (!known) names.set(schema, (known = new Set(schema.fields.map((f: Field) => f.name))));
    const extra = Object.keys(row).filter((k) => !known.has(k));
    if (extra.length) {
      row[EXTRA] = JSON.stringify(Object.fromEntries(extra.map((k) => [k, row[k]])));
      for (const k of extra) delete row[k];
    }
    return row;
  };

  const open = (): PartSink<PairRecord | LabelledPair | ListRecord> => {
    let pairs: ShardWriter | null = null;
    let lists: ShardWriter | null = null;
    return {
      async write(records: readonly (PairRecord | LabelledPair | ListRecord)[], tally: PartTally) {
        const pairRows: (PairRecord | LabelledPair)[] = [];
        const listRows: ListRecord[] = [];
        for (const it of records) {
          tally.rowsOut++;
          if (it.kind === 'list') listRows.push(it);
          else {
            pairRows.push(it);
            if (!isLabelled(it)) continue;
            if (it.flipped) tally.rowsFlipped++;
            if (it.embChosen.truncated || it.embRejected.truncated) tally.rowsTruncated++;
            tally.confidence(it.confidence, it.flipped);
          }
        }
        if (pairRows.length) {
          if (!pairs) {
            await mkdir(dirname(join(outDir, dataPath)), { recursive: true });
            pairs = openShardWriter(join(outDir, dataPath), schemaFor(pairOutputSchema, columnsOf(pairRows[0])), write);
          }
          const schema = pairs.schema;
          await pairs.write(tableFromRows(schema, pairRows.map((p) => fit(pairOutputRow(p), schema))));
        }
        if (listRows.length) {
          if (!lists) {
            // Made on the first list only: most outputs have none, and get no empty lists/ folder.
            await mkdir(dirname(join(outDir, listsPath)), { recursive: true });
            lists = openShardWriter(join(outDir, listsPath), schemaFor(listOutputSchema, columnsOf(listRows[0])), write);
          }
          const schema = lists.schema;
          await lists.write(tableFromRows(schema, listRows.map((l) => fit(listOutputRow(l), schema))));
        }
      },
      async close() {
        if (!pairs) {
          await mkdir(dirname(join(outDir, dataPath)), { recursive: true });
          pairs = openShardWriter(join(outDir, dataPath), schemaFor(pairOutputSchema, []), write);
        }
        await Promise.all([pairs.close(), lists?.close()]);
        return { output: dataPath, extra: lists ? { lists: listsPath } : {} };
      },
      async abort() {
        await Promise.all([pairs?.abort(), lists?.abort()]);
      },
    };
  };
  return sinkPart({ ...options, write, name: 'writeShard', open });
}
