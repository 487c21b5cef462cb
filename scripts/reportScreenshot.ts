/**
 * Writes docs/report.png: the HTML report of a generated output folder (test/helpers), rendered by
 * headless Chromium (/usr/bin/chromium, or CHROMIUM=path). Run: node dist/scripts/reportScreenshot.js [DIR]
 * to shoot the report of a real output folder DIR instead.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { chromium } from 'playwright-core';
import { buildReport } from '../src/analysis/report.js';
import { createOutputViews, openOutputFolder } from '../src/analysis/views.js';
import { DuckDb } from '../src/runtime/io/DuckDb.js';
import { projectRoot } from '../src/runtime/paths.js';
import { CHROMIUM_ARGS, findChromium } from '../test/helpers/chromium.js';
import { makeOutputFolder } from '../test/helpers/makeOutputFolder.js';

async function main(): Promise<void> {
  const tmp = mkdtempSync(join(tmpdir(), 'prefrank-shot-'));
  try {
    const dir = process.argv[2] ? resolve(process.argv[2]) : join(tmp, 'hh-rlhf-harmless-reranked');
    if (!process.argv[2]) makeOutputFolder({ dir, shards: 6, rowsPerShard: 1500, rejectsPerShard: 12, textChars: [120, 400], plant: false, seed: 3 });
    let html: string;
    {
      await using db = await DuckDb.open();
      await createOutputViews(db, openOutputFolder(dir));
      html = await buildReport(db, { title: basename(dir), flips: 10, manifest: openOutputFolder(dir).manifest });
    }
    const file = join(tmp, 'report.html');
    writeFileSync(file, html);
    const executablePath = findChromium();
    if (!executablePath) throw new Error('no Chromium found ($CHROMIUM, or chromium on the PATH): apt-get install chromium');
    const browser = await chromium.launch({ executablePath, args: CHROMIUM_ARGS });
    try {
      const page = await browser.newPage({ viewport: { width: 1280, height: 1700 } });
      await page.goto(pathToFileURL(file).href);
      const out = join(projectRoot(), 'docs', 'report.png');
      mkdirSync(join(projectRoot(), 'docs'), { recursive: true });
      await page.screenshot({ path: out });
      process.stderr.write(`wrote ${out}\n`);
    } finally {
      await browser.close();
    }
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

main().catch((err) => {
  process.stderr.write(`${(err as Error).stack ?? err}\n`);
  process.exitCode = 1;
});
