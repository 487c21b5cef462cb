/** The dataset card (README.md) of an output folder: what it is, how it was made, counts, columns. */
import type { Manifest } from '../../schemas/manifest.js';

const pct = (a: number, b: number) => (b > 0 ? ((100 * a) / b).toFixed(1) + '%' : '-');

export function renderDatasetCard(m: Manifest): string {
  const t = m.totals;
  const hist = new Array<number>(10).fill(0);
  for (const s of m.shards) s.confidenceHistogram.forEach((v, i) => (hist[i] += v));
  const maxBin = Math.max(1, ...hist);
  const scored = hist.some((v) => v > 0);
  const lines = [
    '---',
    'tags: [dpo, preference, safety, prefrank]',
    'configs:',
    '- config_name: default',
    '  data_files:',
    `  - split: ${m.split}`,
    `    path: data/${m.split}-*.parquet`,
    '---',
    '',
    `# Preference pairs re-ranked by prefrank`,
    '',
    scored
      ? 'Each pair was scored with a reward read from a language model\'s hidden states (a hybrid linear probe, arXiv 2503.10093); pairs the reward disagrees with were handled by the policy below, and every pair carries its label confidence.'
      : 'Canonical preference pairs converted by prefrank (not scored).',
    '',
    '## Counts',
    '',
    '| | rows |',
    '| --- | --- |',
    `| input rows | ${t.rowsIn} |`,
    `| written | ${t.rowsOut} |`,
    `| rejected | ${t.rowsRejected} |`,
    `| flipped (swapped) | ${t.rowsFlipped} (${pct(t.rowsFlipped, t.rowsOut)}) |`,
    `| truncated for the model | ${t.rowsTruncated} |`,
    `| shards | ${t.parts} (${t.failedParts} failed) |`,
    '',
  ];
  if (Object.keys(t.rejectsByReason).length) {
    lines.push('## Rejects by reason', '', '| reason | rows |', '| --- | --- |', ...Object.entries(t.rejectsByReason).map(([k, v]) => `| ${k} | ${v} |`), '');
  }
  if (t.expectedErrors) {
    const e = t.expectedErrors;
    const f = (x: number) => x.toFixed(1);
    lines.push(
      '## Expected label errors',
      '',
      'Sums of posteriors: each pair\'s label is wrong with probability `1 - confidence` when the confidence is calibrated (it is fitted on held-out pairs of the probe\'s training data; on other data it is an estimate).',
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
  lines.push(
    '## Columns',
    '',
    '| column | meaning |',
    '| --- | --- |',
    '| prompt, chosen, rejected | the pair after re-ranking: a TRL DPOTrainer reads these as is |',
    '| confidence | P(this order is right): sigmoid(logit(label_prior) + alpha * (reward margin in the input order)), 1 - that for swapped pairs; below 0.5 when the label is doubtful but no swap fit the damage budget; use 1 - confidence as per-example label smoothing |',
    '| reward_chosen, reward_rejected | the probe\'s reward of each response |',
    '| flipped | true when chosen and rejected were swapped relative to the input |',
    '| pair_id | stable id (the input\'s id, else a hash of the texts) |',
    '| source_file, source_row | where the pair came from (0-based row) |',
    '| chosen_safe, rejected_safe | per-response safety labels, when the input had them |',
    '| category | the input\'s category, when it had one |',
    '| truncated | true when a text was cut to the model\'s token limit |',
    '| other columns | passed through from the input (non-text values as JSON text) |',
    '',
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
