/**
 * Writes a realistic `rerank` output folder (data/ shards, rejects/, manifest.json, README.md) with
 * deterministic content, for the analysis tests and benches, until (and beside) real runs.
 *
 * Content: rewards drawn per input pair; a pair whose input order disagrees with the reward is
 * swapped (flipped) and its confidence is sigmoid(alpha * |margin|), as the relabel stage does.
 * Shards differ in their pass-through columns (shard 0 has `lang`, later ones `lang` and `turns`),
 * so readers must union by name. With `plant`, row 0 of shard 0 is the most confident flip and its
 * prompt carries a `<script>`, and one row's category carries markup: texts are untrusted.
 */
import { createHash } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Field, Int32, makeData, RecordBatch, Schema, Struct, Table, tableToIPC, Utf8, vectorFromArray, type DataType } from 'apache-arrow';
import { Compression, Table as WasmTable, writeParquet, WriterPropertiesBuilder } from 'parquet-wasm/node';
import { pairOutputSchema, rejectSchema, withPassThrough } from '../../schemas/output.js';
import type { Manifest, PartStats, ShardResult } from '../../schemas/manifest.js';
import { prng } from './random.js';

export interface MakeOutputFolderOptions {
  readonly dir: string;
  readonly shards?: number;
  readonly rowsPerShard?: number;
  readonly rejectsPerShard?: number;
  /** Text length range in characters for prompt/chosen/rejected. */
  readonly textChars?: readonly [number, number];
  readonly seed?: number;
  readonly split?: string;
  /** Plant a `<script>` in a prompt and markup in a category (default true). */
  readonly plant?: boolean;
  /** Rows per Parquet row group (default: the whole shard). */
  readonly rowGroupRows?: number;
}

export interface MadeOutputFolder {
  readonly dir: string;
  readonly pairs: number;
  readonly flipped: number;
  readonly truncated: number;
  readonly rejects: number;
  readonly rejectsByReason: Readonly<Record<string, number>>;
  readonly flippedByCategory: Readonly<Record<string, { pairs: number; flipped: number }>>;
  /** The planted prompt (row 0 of shard 0) when `plant` is on. */
  readonly plantedPrompt: string | null;
  readonly plantedCategory: string | null;
}

export const PLANTED_PROMPT = 'Please summarise: <script>window.__pwned = 1</script><img src=x onerror="window.__pwned = 2"> & thanks';
export const PLANTED_CATEGORY = '</svg><script>window.__pwned=3</script>';

const CATEGORIES = ['violence', 'privacy', 'self-harm', 'fraud', 'hate-speech', null] as const;
const REASONS = ['empty prompt', 'chosen equals rejected', 'missing column: rejected', 'too long: 9120 tokens > 4096'] as const;
const WORDS = (
  'the a an of to and in is that for it as with was on be by this are or from at which but not have has can ' +
  'will would should could may might must you your we our they their he she his her them it its model answer ' +
  'question user assistant request help safe unsafe harmful policy explain how what why when where who please ' +
  'information detail step instructions guide example code data people person account password bank money ' +
  'weapon drug medical advice legal risk law privacy address phone email story write poem history science ' +
  'cannot sorry however instead consider recommend contact professional support resource understand concern ' +
  'important careful avoid share provide describe list summary simple short long first second finally also'
).split(' ');


function gauss(r: () => number): number {
  const u = Math.max(r(), 1e-12);
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * r());
}

function text(r: () => number, [lo, hi]: readonly [number, number], lead: string): string {
  const target = lo + Math.floor(r() * (hi - lo + 1));
  let s = lead;
  while (s.length < target) s += (s.length ? ' ' : '') + WORDS[Math.floor(r() * WORDS.length)];
  return s.slice(0, target);
}

const sigmoid = (x: number) => 1 / (1 + Math.exp(-x));

type MutableStats = { -readonly [K in Exclude<keyof PartStats, 'rejectsByReason'>]: number } & { rejectsByReason: Record<string, number> };

function emptyStats(): MutableStats {
  return { rowsIn: 0, rowsOut: 0, rowsRejected: 0, rowsFlipped: 0, rowsTruncated: 0, rejectsByReason: {} };
}

function toParquet(schema: Schema, columns: Record<string, unknown[]>, length: number, rowGroupRows: number): Uint8Array {
  const children = schema.fields.map((f: Field) => vectorFromArray(columns[f.name] as never[], f.type as DataType).data[0]);
  const batch = new RecordBatch(schema, makeData({ type: new Struct(schema.fields), length, nullCount: 0, children }));
  const table = new Table(schema, [batch]);
  const props = new WriterPropertiesBuilder().setCompression(Compression.ZSTD).setMaxRowGroupSize(rowGroupRows).build();
  return writeParquet(WasmTable.fromIPCStream(tableToIPC(table, 'stream')), props);
}

const sha256 = (b: Uint8Array | string) => createHash('sha256').update(b).digest('hex');

export function makeOutputFolder(options: MakeOutputFolderOptions): MadeOutputFolder {
  const { dir, shards = 3, rowsPerShard = 40, rejectsPerShard = 3, textChars = [40, 160], seed = 7, split = 'train', plant = true } = options;
  const rowGroupRows = options.rowGroupRows ?? Math.max(1, rowsPerShard);
  mkdirSync(join(dir, 'data'), { recursive: true });
  mkdirSync(join(dir, 'rejects'), { recursive: true });
  const r = prng(seed);
  const alpha = 1;
  const results: ShardResult[] = [];
  const totals = emptyStats();
  const rejectsByReason: Record<string, number> = {};
  const flippedByCategory: Record<string, { pairs: number; flipped: number }> = {};
  const pad = (n: number) => String(n).padStart(5, '0');

  for (let s = 0; s < shards; s++) {
    const inputFile = `raw/${split}-part-${Math.floor(s / 2)}.parquet`;
    const rowBase = (s % 2) * (rowsPerShard + rejectsPerShard);
    const passThrough = s === 0 ? [{ name: 'lang', type: new Utf8() }] : [{ name: 'lang', type: new Utf8() }, { name: 'turns', type: new Int32() }];
    const schema = withPassThrough(pairOutputSchema, passThrough);
    const cols: Record<string, unknown[]> = Object.fromEntries(schema.fields.map((f) => [f.name, new Array(rowsPerShard)]));
    const stats = emptyStats();
    const hist = new Array(10).fill(0);
    // Reject rows are interleaved with good rows in the input: every (k+1)-th input row is bad.
    const rejectEvery = rejectsPerShard > 0 ? Math.floor((rowsPerShard + rejectsPerShard) / rejectsPerShard) : Infinity;
    const rej: Record<string, unknown[]> = { source_file: [], source_row: [], reason: [], raw: [] };
    let out = 0;
    for (let inRow = 0; out < rowsPerShard || rej.reason.length < rejectsPerShard; inRow++) {
      const sourceRow = rowBase + inRow;
      const isReject = (rej.reason.length < rejectsPerShard && inRow % rejectEvery === rejectEvery - 1) || out >= rowsPerShard;
      if (isReject) {
        const reason = REASONS[Math.floor(r() * REASONS.length)];
        rej.source_file.push(inputFile);
        rej.source_row.push(BigInt(sourceRow));
        rej.reason.push(reason);
        rej.raw.push(JSON.stringify({ prompt: reason === 'empty prompt' ? '' : 'why is the sky <b>blue</b>?', chosen: 'x', rejected: reason === 'chosen equals rejected' ? 'x' : null }));
        rejectsByReason[reason] = (rejectsByReason[reason] ?? 0) + 1;
        stats.rejectsByReason[reason] = (stats.rejectsByReason[reason] ?? 0) + 1;
        continue;
      }
      const planted = plant && s === 0 && out === 0;
      // Input order: a = chosen, b = rejected. Rewards of the input's chosen/rejected.
      let ra = 0.4 + 1.3 * gauss(r);
      let rb = -0.4 + 1.3 * gauss(r);
      if (planted) [ra, rb] = [-6, 6];
      const promptText = planted ? PLANTED_PROMPT : text(r, textChars, '');
      let chosen = text(r, textChars, 'I cannot help with that, but');
      let rejected = text(r, textChars, 'Sure, here is how');
      const flipped = ra < rb;
      let rc = ra;
      let rr = rb;
      if (flipped) {
        [chosen, rejected] = [rejected, chosen];
        [rc, rr] = [rr, rc];
      }
      const confidence = sigmoid(alpha * (rc - rr));
      let category: string | null = CATEGORIES[Math.floor(r() * CATEGORIES.length)];
      if (plant && s === 0 && out === 1) category = PLANTED_CATEGORY;
      const truncated = r() < 0.05;
      const safeKnown = r() < 0.7;
      cols.prompt[out] = promptText;
      cols.chosen[out] = chosen;
      cols.rejected[out] = rejected;
      cols.confidence[out] = confidence;
      cols.reward_chosen[out] = rc;
      cols.reward_rejected[out] = rr;
      cols.flipped[out] = flipped;
      cols.pair_id[out] = sha256(`${inputFile}:${sourceRow}`).slice(0, 16);
      cols.source_file[out] = inputFile;
      cols.source_row[out] = BigInt(sourceRow);
      cols.chosen_safe[out] = safeKnown ? !flipped : null;
      cols.rejected_safe[out] = safeKnown ? flipped : null;
      cols.category[out] = category;
      cols.truncated[out] = truncated;
      cols.lang[out] = r() < 0.9 ? 'en' : 'de';
      if (cols.turns) cols.turns[out] = 1 + Math.floor(r() * 4);
      stats.rowsOut++;
      if (flipped) stats.rowsFlipped++;
      if (truncated) stats.rowsTruncated++;
      hist[Math.min(9, Math.floor(Math.fround(confidence) * 10))]++;
      const key = category ?? '(none)';
      const fc = (flippedByCategory[key] ??= { pairs: 0, flipped: 0 });
      fc.pairs++;
      if (flipped) fc.flipped++;
      out++;
    }
    stats.rowsRejected = rej.reason.length;
    stats.rowsIn = stats.rowsOut + stats.rowsRejected;

    const output = `data/${split}-${pad(s)}-of-${pad(shards)}.parquet`;
    const rejectsFile = `rejects/rejects-${pad(s)}-of-${pad(shards)}.parquet`;
    const bytes = toParquet(schema, cols, rowsPerShard, rowGroupRows);
    writeFileSync(join(dir, output), bytes);
    writeFileSync(join(dir, rejectsFile), toParquet(rejectSchema, rej, rej.reason.length, Math.max(1, rej.reason.length)));
    results.push({
      index: s,
      count: shards,
      input: { file: inputFile, rowGroups: [s % 2, (s % 2) + 1] },
      status: 'done',
      error: null,
      output,
      rejects: rejectsFile,
      outputSha256: sha256(bytes),
      stats,
      confidenceHistogram: hist,
      device: 'cpu',
      rank: 0,
      worldSize: 1,
      configHash: 'cfg-test-0001',
    });
    for (const k of ['rowsIn', 'rowsOut', 'rowsRejected', 'rowsFlipped', 'rowsTruncated'] as const) totals[k] += stats[k];
  }
  totals.rejectsByReason = rejectsByReason;
  const manifest: Manifest = {
    prefrank: '0.1.0',
    createdBy: 'test/helpers/makeOutputFolder',
    configHash: 'cfg-test-0001',
    config: { alpha, unsafeSlope: 0, labelPrior: 0.5, maxWrongFlips: 0.5, policy: 'swap', template: 'chatml', model: 'test', probe: 'test', device: 'auto' },
    versions: { node: 'test' },
    split,
    totals: { ...totals, parts: shards, failedParts: 0 },
    shards: results,
  };
  writeFileSync(join(dir, 'manifest.json'), JSON.stringify(manifest, null, 2) + '\n');
  writeFileSync(
    join(dir, 'README.md'),
    `# Re-ranked preference pairs (test fixture)\n\n${totals.rowsOut} pairs, ${totals.rowsFlipped} flipped, ${totals.rowsRejected} rejected.\n`,
  );
  return {
    dir,
    pairs: totals.rowsOut,
    flipped: totals.rowsFlipped,
    truncated: totals.rowsTruncated,
    rejects: totals.rowsRejected,
    rejectsByReason,
    flippedByCategory,
    plantedPrompt: plant ? PLANTED_PROMPT : null,
    plantedCategory: plant && rowsPerShard > 1 ? PLANTED_CATEGORY : null,
  };
}
