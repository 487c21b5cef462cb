/**
 * The dataset card (README.md) of an output folder, in the form the Hugging Face Hub renders: YAML
 * front matter (license, task_categories, tags, size_categories, configs, dataset_info with the
 * shards' features and split size), then what the folder is, how it was made, counts, expected
 * errors, the confidence histogram, column meanings and provenance. The folder uploads as it is.
 */
import type { Manifest } from '../../../schemas/manifest.js';
import { dataFolderOf, DEFAULT_OUTPUT_FORMAT, shardExtension, shardFormatOf } from '../../../schemas/layout.js';

const pct = (a: number, b: number) => (b > 0 ? ((100 * a) / b).toFixed(1) + '%' : '-');

/** Column meanings; columns not listed here are the input's pass-through columns. */
const MEANINGS: Record<string, string> = {
  prompt: 'the prompt (for HH-RLHF-style input, the shared dialogue up to the last Assistant turn)',
  chosen: 'the preferred response: a TRL DPOTrainer reads prompt, chosen, rejected as they are',
  rejected: 'the other response',
  confidence:
    "P(this order is right): sigmoid(logit(label prior) + f(rewards)), calibrated on held-out pairs; 1 - that for swapped pairs; below 0.5 when the label is doubtful but no swap fit the damage budget; use 1 - confidence as per-example label smoothing (conservative DPO)",
  reward_chosen: "the probe's reward of the chosen response",
  reward_rejected: "the probe's reward of the rejected response",
  flipped: 'true when chosen and rejected were swapped relative to the input',
  pair_id: "stable id (the input's id, else a hash of the texts)",
  source_file: 'the input file, relative to the folder that held all inputs',
  source_row: 'the row in that file (0-based)',
  chosen_safe: 'per-response safety label of chosen, when the input had one',
  rejected_safe: 'per-response safety label of rejected, when the input had one',
  category: "the input's category, when it had one",
  truncated: "true when a text was cut to the model's token limit",
  extra_columns: 'keys of a JSON-lines row that its file\'s first row did not have, as one JSON object (null when there were none)',
};

/** DuckDB column types as Hub (datasets) dtypes. */
function hubDtype(duck: string): string {
  const t = duck.toUpperCase();
  if (t === 'VARCHAR') return 'string';
  if (t === 'FLOAT') return 'float32';
  if (t === 'DOUBLE') return 'float64';
  if (t === 'BOOLEAN') return 'bool';
  if (t === 'BIGINT') return 'int64';
  if (t === 'INTEGER') return 'int32';
  return 'string';
}

/** The Hub's size_categories bucket of a row count. */
export function sizeCategory(n: number): string {
  const edges: [number, string][] = [
    [1e3, 'n<1K'],
    [1e4, '1K<n<10K'],
    [1e5, '10K<n<100K'],
    [1e6, '100K<n<1M'],
    [1e7, '1M<n<10M'],
    [1e8, '10M<n<100M'],
    [1e9, '100M<n<1B'],
  ];
  return edges.find(([e]) => n < e)?.[1] ?? 'n>1B';
}

export function renderDatasetCard(m: Manifest, columns: readonly { name: string; type: string }[] = []): string {
  const t = m.totals;
  const hist = new Array<number>(10).fill(0);
  for (const s of m.shards) s.confidenceHistogram.forEach((v, i) => (hist[i] += v));
  const maxBin = Math.max(1, ...hist);
  const scored = hist.some((v) => v > 0);
  const dir = dataFolderOf(m.createdBy);
  // The shards' own format (every shard of a run has the one): the Hub reads .parquet and .arrow.
  const ext = shardExtension(m.shards.map((s) => (s.output ? shardFormatOf(s.output) : null)).find((f) => f !== null) ?? DEFAULT_OUTPUT_FORMAT);
  const title =
    m.createdBy === 'rerank' ? 'Preference pairs re-ranked by prefrank' : m.createdBy === 'embed' ? 'Preference pair features embedded by prefrank' : 'Preference pairs converted by prefrank';
  const about =
    m.createdBy === 'rerank'
      ? "Each pair was scored with a reward read from a language model's hidden states (a hybrid linear probe, arXiv 2503.10093); pairs whose label is likely wrong were handled by the policy below, and every pair carries the posterior probability that its order is right."
      : m.createdBy === 'embed'
        ? "Per-layer hidden states of each response, for training a reward probe (`prefrank probe train`)."
        : 'Canonical preference pairs (prompt, chosen, rejected) converted from the input layout by prefrank; not scored.';
  const lines = [
    '---',
    `license: ${m.license ?? 'unknown'}`,
    'task_categories:',
    '- text-generation',
    'tags:',
    '- dpo',
    '- preference',
    '- safety',
    '- prefrank',
    'size_categories:',
    `- ${sizeCategory(t.rowsOut)}`,
    'configs:',
    '- config_name: default',
    '  data_files:',
    `  - split: ${m.split}`,
    `    path: ${dir}/${m.split}-*${ext}`,
  ];
  // Feature shards (embed) are prefrank's own input, described in their Parquet metadata.
  const described = m.createdBy === 'embed' ? [] : columns;
  if (described.length) {
    lines.push('dataset_info:', '  features:');
    for (const c of described) lines.push(`  - name: ${c.name}`, `    dtype: ${hubDtype(c.type)}`);
    lines.push('  splits:', `  - name: ${m.split}`, `    num_examples: ${t.rowsOut}`);
  }
  lines.push(
    '---',
    '',
    `# ${title}`,
    '',
    about,
    '',
    '## Counts',
    '',
    '| | rows |',
    '| --- | --- |',
    `| input rows | ${t.rowsIn} |`,
    `| written | ${t.rowsOut} |`,
    `| rejected | ${t.rowsRejected} |`,
    ...(scored ? [`| flipped (swapped) | ${t.rowsFlipped} (${pct(t.rowsFlipped, t.rowsOut)}) |`] : []),
    `| truncated for the model | ${t.rowsTruncated} |`,
    `| shards | ${t.parts} (${t.failedParts} failed) |`,
    '',
  );
  if (Object.keys(t.rejectsByReason).length) {
    lines.push('## Rejects by reason', '', '| reason | rows |', '| --- | --- |', ...Object.entries(t.rejectsByReason).map(([k, v]) => `| ${k} | ${v} |`), '');
  }
  if (t.expectedErrors) {
    const e = t.expectedErrors;
    const f = (x: number) => x.toFixed(1);
    lines.push(
      '## Expected label errors',
      '',
      "Sums of posteriors: each pair's label is wrong with probability `1 - confidence` when the confidence is calibrated (it is fitted on held-out pairs of the probe's training data; on other data it is an estimate).",
      '',
      '| | pairs |',
      '| --- | --- |',
      `| labels wrong before re-ranking (expected) | ${f(e.expectedWrongBefore)} |`,
      `| labels wrong after re-ranking (expected) | ${f(e.expectedWrongAfter)} |`,
      `| swaps that broke a correct pair (expected) | ${f(e.expectedWrongFlips)} of ${t.rowsFlipped} |`,
      `| pairs leaning against their label but kept (over the damage budget) | ${e.heldBack} |`,
      '',
    );
  }
  if (scored) {
    lines.push('## Confidence', '', '```');
    hist.forEach((v, i) => lines.push(`${(i / 10).toFixed(1)}-${((i + 1) / 10).toFixed(1)} ${'#'.repeat(Math.round((40 * v) / maxBin)).padEnd(40)} ${v}`));
    lines.push('```', '');
  }
  if (described.length) {
    lines.push('## Columns', '', '| column | type | meaning |', '| --- | --- | --- |');
    const scoredColumn = new Set(['confidence', 'reward_chosen', 'reward_rejected', 'flipped']);
    const meaning = (name: string) =>
      m.createdBy !== 'rerank' && scoredColumn.has(name)
        ? 'not scored here (null, or false): `prefrank rerank` fills it'
        : (MEANINGS[name] ?? 'passed through from the input (strings as they are, other values as JSON text)');
    for (const c of described) lines.push(`| ${c.name} | ${hubDtype(c.type)} | ${meaning(c.name)} |`);
    lines.push('');
  }
  lines.push(
    '## Provenance',
    '',
    '```json',
    JSON.stringify({ configHash: m.configHash, config: m.config, versions: m.versions }, null, 2),
    '```',
    '',
    'Rows that could not be processed are in `rejects/` with `source_file`, `source_row` and `reason`; `manifest.json` has per-shard counts and hashes.',
    '',
  );
  return lines.join('\n');
}
