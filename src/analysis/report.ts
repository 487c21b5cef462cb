/**
 * The HTML report of an output folder: one self-contained file (inline CSS and SVG, no script, no
 * network; it opens from file://). All the work is bounded whatever the folder's size: DuckDB
 * aggregates, the scatter is a deterministic sample of at most `points` pairs, texts are cut.
 *
 * Dataset texts are untrusted: every one goes through `escapeHtml`, and the page's
 * Content-Security-Policy forbids scripts anyway, as a second fence.
 */
import { quoteIdent, type DuckDb } from '../runtime/io/DuckDb.js';
import { confidenceHistogramSpec, flipRateSpec, rejectsSpec, renderSvg, rewardScatterSpec, type HistogramBin, type ScatterPoint } from './charts.js';
import type { Manifest } from '../../schemas/manifest.js';
import { computeStats, QUANTILE_LEVELS, type FolderStats } from './stats.js';

interface Band {
  lo: number;
  hi: number;
  kept: number;
  flipped: number;
  wrong: number;
}

/** What produced the folder, from its manifest: the command, model, probe, rule and the device that ran. */
function provenance(m: Manifest | null): [string, string][] {
  if (!m) return [];
  const c = m.config as Record<string, unknown>;
  const v = (k: string) => (c[k] === undefined || c[k] === null ? null : typeof c[k] === 'string' ? (c[k] as string) : JSON.stringify(c[k]));
  const short = (k: string) => (typeof c[k] === 'string' ? (c[k] as string).slice(0, 16) : null);
  const devices = [...new Set(m.shards.map((s) => s.device).filter((d): d is string => typeof d === 'string'))];
  const rows: [string, string | null][] = [
    ['command', `prefrank ${m.createdBy} ${m.prefrank}`],
    ['model sha256', short('modelSha256')],
    ['tokenizer sha256', short('tokenizerSha256')],
    ['probe sha256', short('probeSha256')],
    ['layers, template', c.layers === undefined ? null : `${v('layers')}, ${v('template')}`],
    ['policy', v('policy')],
    ['confidence', c.alpha === undefined ? null : `label prior ${v('labelPrior')}, alpha ${v('alpha')}, unsafe slope ${v('unsafeSlope') ?? 0}, max wrong flips ${v('maxWrongFlips')}`],
    ['device asked, used', c.device === undefined ? null : `${v('device')}, ${devices.length ? devices.join(' + ') : 'unrecorded'}`],
    ['config hash', m.configHash],
    ['versions', Object.entries(m.versions).map(([k, x]) => `${k} ${x}`).join(', ')],
  ];
  return rows.filter((r): r is [string, string] => r[1] !== null);
}

export interface ReportOptions {
  /** Shown as the page title (the folder name). */
  readonly title: string;
  readonly schema?: string;
  /** Most points in the scatter (a deterministic sample by hash of pair_id). */
  readonly points?: number;
  /** How many of the most confident flips to show with their texts. */
  readonly flips?: number;
  /** Characters of each text shown. */
  readonly textChars?: number;
  /** Most sources / categories / reasons charted. */
  readonly top?: number;
  /** Confidence histogram bins over [0, 1]. */
  readonly bins?: number;
  /** The folder's manifest, for the provenance block (what produced the folder, on which device). */
  readonly manifest?: Manifest | null;
}

/** Confidence bands of the review table, [lo, hi). */
const BANDS = [0, 0.1, 0.3, 0.5, 0.7, 0.9, 1.0000001];

/** A label cut to `n` characters from the front: the end of a path (the file name) says the most. */
function tail(s: string, n = 48): string {
  return s.length > n ? `…${s.slice(s.length - n + 1)}` : s;
}

const HTML_ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

/** Escapes text for HTML element content and quoted attribute values. */
export function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => HTML_ESCAPES[c]);
}

interface Flip {
  pairId: string;
  sourceFile: string;
  sourceRow: string;
  category: string | null;
  confidence: number | null;
  rewardChosen: number | null;
  rewardRejected: number | null;
  texts: { name: string; text: string; length: number }[];
}

function positiveInt(name: string, v: number): number {
  if (!Number.isInteger(v) || v < 0) throw new RangeError(`${name} must be a non-negative integer, got ${v}`);
  return v;
}

/** Queries the folder and builds the report's HTML. */
export async function buildReport(db: DuckDb, options: ReportOptions): Promise<string> {
  const points = positiveInt('points', options.points ?? 4000);
  const flips = positiveInt('flips', options.flips ?? 20);
  const textChars = positiveInt('textChars', options.textChars ?? 1200);
  const top = positiveInt('top', options.top ?? 25);
  const bins = positiveInt('bins', options.bins ?? 50);
  if (bins < 1) throw new RangeError('bins must be at least 1');
  const p = options.schema === undefined ? '' : `${quoteIdent(options.schema)}.`;

  const stats = await computeStats(db, { schema: options.schema, top });

  const hist: HistogramBin[] = (
    await db.all(
      `SELECT least(floor(confidence::DOUBLE * $bins), $bins - 1)::INTEGER AS b, flipped, count(*) AS n
       FROM ${p}pairs WHERE confidence IS NOT NULL AND isfinite(confidence) GROUP BY ALL ORDER BY ALL`,
      { bins },
    )
  ).map((r) => ({ start: Number(r.b) / bins, end: (Number(r.b) + 1) / bins, flipped: r.flipped === true, count: Number(r.n) }));

  // hash(pair_id) orders pairs the same way on every run: the sample is deterministic, uniform,
  // and DuckDB keeps only the top `points` rows while scanning (no full sort, bounded memory).
  const scatter: ScatterPoint[] = (
    await db.all(
      `SELECT reward_chosen::DOUBLE AS rc, reward_rejected::DOUBLE AS rr, flipped
       FROM ${p}pairs WHERE isfinite(reward_chosen) AND isfinite(reward_rejected)
       ORDER BY hash(pair_id), pair_id, source_file, source_row LIMIT $points`,
      { points },
    )
  ).map((r) => ({ rewardChosen: Number(r.rc), rewardRejected: Number(r.rr), flipped: r.flipped === true }));

  const textCols = ['prompt', 'chosen', 'rejected'];
  const pairsWithTexts = async (where: string, order: string): Promise<Flip[]> =>
    (
      await db.all(
        `SELECT pair_id, source_file, source_row::VARCHAR AS source_row, category, confidence::DOUBLE AS confidence,
              reward_chosen::DOUBLE AS rc, reward_rejected::DOUBLE AS rr,
              ${textCols.map((c) => `left(${c}, $chars) AS ${c}, length(${c}) AS ${c}_len`).join(', ')}
       FROM ${p}pairs WHERE ${where}
       ORDER BY ${order}, pair_id, source_file, source_row LIMIT $flips`,
        { chars: textChars, flips },
      )
    ).map((r) => ({
    pairId: String(r.pair_id),
    sourceFile: String(r.source_file),
    sourceRow: String(r.source_row),
    category: r.category === null ? null : String(r.category),
    confidence: r.confidence === null ? null : Number(r.confidence),
    rewardChosen: r.rc === null ? null : Number(r.rc),
    rewardRejected: r.rr === null ? null : Number(r.rr),
    texts: textCols.map((c) => ({ name: c, text: r[c] === null ? '' : String(r[c]), length: Number(r[`${c}_len`] ?? 0) })),
    }));
  const flipRows = await pairsWithTexts('flipped', 'confidence DESC NULLS LAST');
  // The pairs a reviewer should look at first: kept, and the least sure to be right.
  const doubtRows = await pairsWithTexts('NOT flipped AND confidence IS NOT NULL', 'confidence ASC');
  // Flips and kept pairs by confidence band, with the expected wrong labels in each.
  const bands = (
    await db.all(
      `SELECT b, count(*) FILTER (WHERE NOT flipped) AS kept, count(*) FILTER (WHERE flipped) AS flipped, sum(1 - confidence::DOUBLE) AS wrong
       FROM (SELECT flipped, confidence, ${BANDS.slice(1, -1).map((x) => `(confidence >= ${x})::INT`).join(' + ')} AS b FROM ${p}pairs WHERE confidence IS NOT NULL)
       GROUP BY b ORDER BY b`,
    )
  ).map((r) => ({ lo: BANDS[Number(r.b)], hi: Math.min(1, BANDS[Number(r.b) + 1]), kept: Number(r.kept), flipped: Number(r.flipped), wrong: Number(r.wrong) }));

  const charts = {
    histogram: hist.length ? await renderSvg(confidenceHistogramSpec(hist)) : null,
    scatter: scatter.length ? await renderSvg(rewardScatterSpec(scatter)) : null,
    bySource: stats.bySource.some((g) => g.pairs > 0)
      ? await renderSvg(flipRateSpec('Flip rate by source file', stats.bySource.filter((g) => g.pairs > 0).map((g) => ({ key: tail(g.key ?? '(none)'), pairs: g.pairs, flippedPct: g.flippedPct ?? 0 }))))
      : null,
    byCategory: stats.byCategory.some((g) => g.pairs > 0)
      ? await renderSvg(flipRateSpec('Flip rate by category', stats.byCategory.map((g) => ({ key: tail(g.key ?? '(none)'), pairs: g.pairs, flippedPct: g.flippedPct ?? 0 }))))
      : null,
    rejects: stats.rejectsByReason.length ? await renderSvg(rejectsSpec(stats.rejectsByReason)) : null,
  };
  return renderHtml(options.title, stats, charts, { sampled: scatter.length, flips: flipRows, doubts: doubtRows, bands, textChars, top, provenance: provenance(options.manifest ?? null) });
}

const fmt = (x: number | null, digits = 4) => (x === null ? '–' : x.toFixed(digits));
const fmtPct = (x: number | null) => (x === null ? '–' : `${x.toFixed(2)}%`);

function figure(svg: string | null, caption: string, empty: string): string {
  // The SVG comes from Vega's renderer, which escapes every text it draws; captions are escaped here.
  return `<figure>${svg ?? `<p class="empty">${escapeHtml(empty)}</p>`}<figcaption>${escapeHtml(caption)}</figcaption></figure>`;
}

function renderHtml(
  title: string,
  s: FolderStats,
  charts: Record<'histogram' | 'scatter' | 'bySource' | 'byCategory' | 'rejects', string | null>,
  extra: { sampled: number; flips: Flip[]; doubts: Flip[]; bands: Band[]; textChars: number; top: number; provenance: [string, string][] },
): string {
  const e = escapeHtml;
  const qHead = QUANTILE_LEVELS.map((q) => `<th>${q === 0 ? 'min' : q === 1 ? 'max' : `p${Math.round(q * 100)}`}</th>`).join('');
  const qRow = (name: string, d: FolderStats['confidence']) =>
    `<tr><th>${e(name)}</th><td>${d.count}</td><td>${fmt(d.mean)}</td>${d.quantiles.map((q) => `<td>${fmt(q)}</td>`).join('')}</tr>`;
  const shown = (n: number, total: number, what: string) => (total > n ? ` The ${n} largest of ${total} ${what} are shown.` : '');
  const cards = (rows: Flip[], swapped: boolean) =>
    rows
    .map((f) => {
      const meta = [
        `confidence ${fmt(f.confidence)}`,
        `reward chosen ${fmt(f.rewardChosen, 3)}, rejected ${fmt(f.rewardRejected, 3)}`,
        `${f.sourceFile}:${f.sourceRow}`,
        `pair ${f.pairId}`,
        ...(f.category === null ? [] : [`category ${f.category}`]),
      ];
      const texts = f.texts
        .map((t) => {
          const cut = t.length > [...t.text].length ? `<span class="cut"> … (${[...t.text].length} of ${t.length} characters shown)</span>` : '';
          const was = swapped && t.name === 'chosen' ? ' (now; was rejected)' : swapped && t.name === 'rejected' ? ' (now; was chosen)' : '';
          return `<div class="text"><h4>${e(t.name)}${was}</h4><pre>${e(t.text)}${cut}</pre></div>`;
        })
        .join('');
      return `<article class="flip"><p class="meta">${meta.map(e).join(' · ')}</p>${texts}</article>`;
    })
    .join('\n');
  const flips = cards(extra.flips, true);
  const doubts = cards(extra.doubts, false);
  const bandRows = extra.bands
    .map((b) => `<tr><th>[${b.lo.toFixed(1)}, ${b.hi.toFixed(1)}${b.hi >= 1 ? ']' : ')'}</th><td>${b.kept}</td><td>${b.flipped}</td><td>${b.wrong.toFixed(1)}</td></tr>`)
    .join('');
  const prov = extra.provenance.map(([k, v]) => `<tr><th>${e(k)}</th><td class="left">${e(v)}</td></tr>`).join('');

  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; img-src data:">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>prefrank report: ${e(title)}</title>
<style>
body { font: 14px/1.45 system-ui, sans-serif; margin: 24px auto; max-width: 1240px; padding: 0 16px; color: #222; }
h1 { font-size: 22px; margin-bottom: 4px; } h2 { font-size: 17px; margin-top: 28px; border-bottom: 1px solid #ddd; padding-bottom: 4px; }
h4 { margin: 6px 0 2px; font-size: 12px; color: #555; text-transform: uppercase; letter-spacing: .04em; }
.sub { color: #666; margin-top: 0; }
table { border-collapse: collapse; margin: 8px 0; } th, td { padding: 3px 10px; text-align: right; border-bottom: 1px solid #eee; }
th:first-child { text-align: left; } td.left { text-align: left; font-family: ui-monospace, monospace; font-size: 12px; }
.cards { display: flex; flex-wrap: wrap; gap: 12px; margin: 12px 0; }
.card { border: 1px solid #ddd; border-radius: 6px; padding: 8px 14px; min-width: 110px; }
.card b { display: block; font-size: 20px; } .card span { color: #666; font-size: 12px; }
.grid { display: flex; flex-wrap: wrap; gap: 24px; align-items: flex-start; }
figure { margin: 0; } figcaption { color: #666; font-size: 12px; max-width: 560px; }
.empty { color: #888; font-style: italic; }
.flip { border: 1px solid #e3c4c4; border-radius: 6px; padding: 8px 12px; margin: 12px 0; background: #fffafa; }
.meta { color: #555; font-size: 12px; margin: 0 0 4px; overflow-wrap: anywhere; }
pre { white-space: pre-wrap; overflow-wrap: anywhere; margin: 0; font: 13px/1.4 ui-monospace, monospace; background: #fff; border: 1px solid #eee; padding: 6px; max-height: 16em; overflow: auto; }
.cut { color: #999; }
</style>
</head>
<body>
<h1>prefrank report</h1>
<p class="sub">${e(title)}</p>
<div class="cards">
<div class="card"><b>${s.pairs}</b><span>pairs</span></div>
<div class="card"><b>${fmtPct(s.flippedPct)}</b><span>flipped (${s.flipped})</span></div>
<div class="card"><b>${s.rejects}</b><span>rejected rows</span></div>
<div class="card"><b>${fmtPct(s.truncatedPct)}</b><span>truncated (${s.truncated})</span></div>
<div class="card"><b>${s.shards.total}</b><span>shards (${s.shards.failed} failed)</span></div>
</div>
${
  s.expected
    ? `<h2>Expected label errors</h2>
<div class="cards">
<div class="card"><b>${s.expected.wrongBefore.toFixed(1)}</b><span>labels wrong before (expected)</span></div>
<div class="card"><b>${s.expected.wrongAfter.toFixed(1)}</b><span>labels wrong after (expected)</span></div>
<div class="card"><b>${s.expected.wrongFlips.toFixed(1)}</b><span>swaps that broke a correct pair (expected, of ${s.flipped})</span></div>
<div class="card"><b>${s.expected.heldBack}</b><span>pairs leaning against their label, kept (over the damage budget)</span></div>
</div>
<p class="sub">Sums of posteriors: each pair's label is wrong with probability 1 - confidence, when the confidence is calibrated (fitted on held-out pairs of the probe's training data; on other data an estimate).</p>`
    : ''
}
<h2>Confidence and rewards</h2>
<table><tr><th></th><th>n</th><th>mean</th>${qHead}</tr>${qRow('confidence', s.confidence)}${qRow('reward margin', s.margin)}</table>
<div class="grid">
${figure(charts.histogram, 'Pairs per confidence bin, after re-ranking; red: pairs whose order was swapped.', 'No pair has a confidence.')}
${figure(charts.scatter, `Rewards of ${extra.sampled} pairs (a deterministic sample by hash of pair_id when there are more). Chosen and rejected are after re-ranking; red pairs were swapped.`, 'No pair has rewards.')}
</div>
<h2>Where the labels changed</h2>
<div class="grid">
${figure(charts.bySource, `Share of pairs flipped per input file.${shown(s.bySource.length, s.sources, 'sources')}`, 'No pairs.')}
${figure(charts.byCategory, `Share of pairs flipped per category.${shown(s.byCategory.length, s.categories, 'categories')}`, 'No pairs.')}
</div>
<h2>Where to look: doubtful pairs</h2>
${bandRows ? `<table><tr><th>confidence</th><th>kept</th><th>flipped</th><th>expected wrong labels</th></tr>${bandRows}</table>
<p class="sub">Pairs by confidence band after re-ranking; the expected wrong labels in a band are the sum of 1 - confidence (when the confidence is calibrated).</p>` : '<p class="empty">No pair has a confidence.</p>'}
<h3>Lowest-confidence kept pairs</h3>
<p class="sub">The ${extra.doubts.length} kept pairs whose label is least likely right: the first to review. Texts are cut to ${extra.textChars} characters.</p>
${doubts || '<p class="empty">No kept pair has a confidence.</p>'}
<h2>Rejected rows</h2>
${figure(charts.rejects, `Input rows that could not be processed, by reason (${s.rejects} in all).`, 'No rows were rejected.')}
<h2>Most confident flips</h2>
<p class="sub">The ${extra.flips.length} flipped pairs with the highest confidence: the model's reward disagrees most with the original label. Texts are cut to ${extra.textChars} characters.</p>
${flips || '<p class="empty">No pair was flipped.</p>'}
<h2>Provenance</h2>
${prov ? `<table class="prov">${prov}</table>` : '<p class="empty">No manifest.json: the folder was not finished by prefrank.</p>'}
</body>
</html>
`;
}
