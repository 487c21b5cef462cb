/**
 * The report's charts: Vega-Lite specs over small, pre-aggregated data, compiled to Vega and
 * rendered to SVG strings in Node (no browser, no network, no script in the page). Vega escapes
 * every text it draws, so dataset strings (sources, categories, reasons) are safe in the SVG.
 */
import * as vega from 'vega';
import * as vl from 'vega-lite';
import type { TopLevelSpec } from 'vega-lite';

const CONFIG = {
  font: 'sans-serif',
  view: { stroke: null },
  axis: { labelFontSize: 11, titleFontSize: 12, gridColor: '#e8e8e8' },
  legend: { labelFontSize: 11, titleFontSize: 12 },
  title: { fontSize: 14, anchor: 'start' as const },
};

const FLIP_SCALE = { domain: ['kept', 'flipped'], range: ['#4c78a8', '#e45756'] };

/** Renders a Vega-Lite spec to an SVG string. */
export async function renderSvg(spec: TopLevelSpec): Promise<string> {
  // Vega-Lite logs warnings (a spec mistake) to the console; collect them and fail loudly instead.
  const problems: string[] = [];
  const logger = { level: () => logger, warn: (...a: unknown[]) => (problems.push(a.join(' ')), logger), info: () => logger, debug: () => logger, error: (...a: unknown[]) => (problems.push(a.join(' ')), logger) };
  const compiled = vl.compile({ ...spec, config: { ...CONFIG, ...(spec.config ?? {}) } } as TopLevelSpec, { logger: logger as never }).spec;
  if (problems.length) throw new Error(`chart spec: ${problems.join('; ')}`);
  // The 'none' renderer draws nothing itself; toSVG renders headlessly. A loader that refuses
  // everything makes sure a spec can never reach the network or the file system.
  const loader = vega.loader();
  loader.load = async (uri: string) => {
    throw new Error(`charts load no external data (${uri})`);
  };
  const view = new vega.View(vega.parse(compiled), { renderer: 'none', loader });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}

export interface HistogramBin {
  readonly start: number;
  readonly end: number;
  readonly flipped: boolean;
  readonly count: number;
}

export function confidenceHistogramSpec(bins: readonly HistogramBin[]): TopLevelSpec {
  return {
    title: 'Confidence (after re-ranking)',
    width: 440,
    height: 220,
    data: { values: bins.map((b) => ({ ...b, label: b.flipped ? 'flipped' : 'kept' })) },
    mark: { type: 'bar', binSpacing: 0 } as never,
    encoding: {
      x: { field: 'start', type: 'quantitative', bin: { binned: true, step: bins.length ? bins[0].end - bins[0].start : 0.02 }, title: 'confidence' },
      x2: { field: 'end' },
      y: { field: 'count', type: 'quantitative', stack: 'zero', title: 'pairs' },
      color: { field: 'label', type: 'nominal', scale: FLIP_SCALE, title: null },
      order: { field: 'flipped', type: 'ordinal' },
    },
  } as TopLevelSpec;
}

export interface ScatterPoint {
  readonly rewardChosen: number;
  readonly rewardRejected: number;
  readonly flipped: boolean;
}

export function rewardScatterSpec(points: readonly ScatterPoint[]): TopLevelSpec {
  const all = points.flatMap((p) => [p.rewardChosen, p.rewardRejected]);
  const lo = Math.min(...all);
  const hi = Math.max(...all);
  return {
    title: 'reward_chosen vs reward_rejected',
    width: 400,
    height: 400,
    layer: [
      {
        data: { values: points.map((p) => ({ x: p.rewardRejected, y: p.rewardChosen, label: p.flipped ? 'flipped' : 'kept' })) },
        mark: { type: 'circle', size: 9, opacity: 0.45 },
        encoding: {
          x: { field: 'x', type: 'quantitative', title: 'reward_rejected', scale: { zero: false, domain: [lo, hi] } },
          y: { field: 'y', type: 'quantitative', title: 'reward_chosen', scale: { zero: false, domain: [lo, hi] } },
          color: { field: 'label', type: 'nominal', scale: FLIP_SCALE, title: null },
          // Flipped points are drawn last, on top of the kept ones.
          order: { field: 'label', type: 'ordinal', sort: 'descending' },
        },
      },
      {
        // The diagonal: above it the chosen response has the higher reward.
        data: { values: [{ x: lo, y: lo }, { x: hi, y: hi }] },
        mark: { type: 'line', color: '#888', strokeDash: [4, 4], strokeWidth: 1 },
        encoding: { x: { field: 'x', type: 'quantitative' }, y: { field: 'y', type: 'quantitative' } },
      },
    ],
  } as TopLevelSpec;
}

export interface RateRow {
  readonly key: string;
  readonly pairs: number;
  readonly flippedPct: number;
}

export function flipRateSpec(title: string, rows: readonly RateRow[]): TopLevelSpec {
  return {
    title,
    width: 300,
    height: { step: 18 },
    data: { values: rows.map((r) => ({ ...r, label: `${r.flippedPct.toFixed(1)}% of ${r.pairs}` })) },
    encoding: {
      y: { field: 'key', type: 'nominal', sort: null, title: null, axis: { labelLimit: 320 } },
      x: { field: 'flippedPct', type: 'quantitative', title: 'flipped %', scale: { domain: [0, Math.max(1, ...rows.map((r) => r.flippedPct)) * 1.25] } },
    },
    layer: [
      { mark: { type: 'bar', color: '#e45756' } },
      { mark: { type: 'text', align: 'left', dx: 4, fontSize: 10 }, encoding: { text: { field: 'label' } } },
    ],
  } as TopLevelSpec;
}

export function rejectsSpec(rows: readonly { reason: string; count: number }[]): TopLevelSpec {
  return {
    title: 'Rejected rows by reason',
    width: 360,
    height: { step: 18 },
    data: { values: rows },
    encoding: {
      y: { field: 'reason', type: 'nominal', sort: null, title: null, axis: { labelLimit: 320 } },
      // Counts are whole rows: no fractional ticks on small counts.
      x: { field: 'count', type: 'quantitative', title: 'rows', axis: { tickMinStep: 1, format: 'd' } },
    },
    layer: [
      { mark: { type: 'bar', color: '#72b7b2' } },
      { mark: { type: 'text', align: 'left', dx: 4, fontSize: 10 }, encoding: { text: { field: 'count' } } },
    ],
  } as TopLevelSpec;
}
