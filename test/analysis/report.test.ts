import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { chromium } from 'playwright-core';
import { buildReport, escapeHtml } from '../../src/analysis/report.js';
import { createOutputViews, openOutputFolder } from '../../src/analysis/views.js';
import { DuckDb } from '../../src/runtime/io/DuckDb.js';
import { CHROMIUM_ARGS, chromiumSkipReason, findChromium } from '../helpers/chromium.js';
import { makeOutputFolder, PLANTED_CATEGORY, PLANTED_PROMPT, type MadeOutputFolder } from '../helpers/makeOutputFolder.js';


let tmp: string;
let made: MadeOutputFolder;
let html: string;
before(async () => {
  tmp = mkdtempSync(join(tmpdir(), 'prefrank-report-'));
  made = makeOutputFolder({ dir: join(tmp, 'out'), shards: 3, rowsPerShard: 60, rejectsPerShard: 4 });
  html = await build();
});
after(() => rmSync(tmp, { recursive: true, force: true }));

async function build(): Promise<string> {
  await using db = await DuckDb.open();
  await createOutputViews(db, openOutputFolder(made.dir));
  return await buildReport(db, { title: 'out <b>folder</b>', points: 100, flips: 5, textChars: 400 });
}

test('escapeHtml', () => {
  assert.equal(escapeHtml(`<a href="x">'&'</a>`), '&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;');
});

test('the report is self-contained, escaped and deterministic', async () => {
  assert.doesNotMatch(html, /<script/i);
  assert.doesNotMatch(html, /<img/i);
  assert.ok(html.includes(escapeHtml(PLANTED_PROMPT)), 'the planted prompt is shown, escaped');
  assert.ok(html.includes('out &lt;b&gt;folder&lt;/b&gt;'));
  // Chart labels come from the data too (a category here); Vega escapes what it draws.
  assert.ok(html.includes(escapeHtml(PLANTED_CATEGORY).slice(0, 24)), 'the planted category is drawn, escaped');
  assert.equal((html.match(/<svg/g) ?? []).length, 5);
  // No resource is fetched: the only URLs are XML namespaces.
  const urls = (html.match(/https?:\/\/[^"' )]+/g) ?? []).filter((u) => !u.startsWith('http://www.w3.org/'));
  assert.deepEqual(urls, []);
  assert.match(html, /Content-Security-Policy" content="default-src 'none'/);
  assert.equal(await build(), html);
});

test('the report in headless Chromium: charts drawn, no console errors, planted scripts do not run', { skip: chromiumSkipReason() }, async () => {
  const executablePath = findChromium();
  assert.ok(executablePath, "no Chromium found: the report test needs one (apt-get install chromium; .ci/run installs it, and under CI=true this test never skips)");
  const file = join(tmp, 'report.html');
  writeFileSync(file, html);
  const browser = await chromium.launch({ executablePath, args: CHROMIUM_ARGS });
  try {
    const page = await browser.newPage({ viewport: { width: 1280, height: 1000 } });
    const problems: string[] = [];
    page.on('console', (m) => {
      if (m.type() === 'error' || m.type() === 'warning') problems.push(`console ${m.type()}: ${m.text()}`);
    });
    page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
    page.on('request', (r) => {
      if (!r.url().startsWith('file://')) problems.push(`request: ${r.url()}`);
    });
    await page.goto(pathToFileURL(file).href, { waitUntil: 'load' });
    const seen = await page.evaluate(() => ({
      pwned: (window as unknown as { __pwned?: unknown }).__pwned ?? null,
      scripts: document.querySelectorAll('script').length,
      svgs: [...document.querySelectorAll('figure > svg')].map((s) => s.querySelectorAll('path, rect, circle, text').length),
      text: document.body.innerText,
    }));
    assert.deepEqual(problems, []);
    assert.equal(seen.pwned, null, 'a planted script ran');
    assert.equal(seen.scripts, 0);
    assert.equal(seen.svgs.length, 5);
    for (const marks of seen.svgs) assert.ok(marks > 5, `a chart has only ${marks} marks`);
    assert.ok(seen.text.includes(PLANTED_PROMPT), 'the planted prompt shows as text');
    const shot = join(tmp, 'report.png');
    await page.screenshot({ path: shot, fullPage: true });
    assert.ok(statSync(shot).size > 10_000);
  } finally {
    await browser.close();
  }
});

test('the browser test skips with its reason on a machine without Chromium, and never under CI', () => {
  const none = { PATH: '/nonexistent', CHROMIUM: '' };
  assert.match(String(chromiumSkipReason(none)), /no Chromium found .*apt-get install chromium/);
  assert.equal(chromiumSkipReason({ ...none, CI: 'true' }), false);
  assert.equal(findChromium({ CHROMIUM: '/nonexistent/chromium' }), null);
});

test('the report shows where to look (confidence bands, lowest-confidence kept pairs) and what produced the folder', async () => {
  assert.match(html, /<h2>Where to look: doubtful pairs<\/h2>/);
  assert.match(html, /<tr><th>confidence<\/th><th>kept<\/th><th>flipped<\/th><th>expected wrong labels<\/th><\/tr>(<tr><th>\[[0-9.]+, [0-9.]+[)\]]<\/th><td>\d+<\/td><td>\d+<\/td><td>[0-9.]+<\/td><\/tr>)+/);
  assert.match(html, /<h3>Lowest-confidence kept pairs<\/h3>/);
  // Without a manifest the provenance block says so; with one it names the rule and the device used.
  assert.match(html, /No manifest\.json/);
  await using db = await DuckDb.open();
  await createOutputViews(db, openOutputFolder(made.dir));
  const withManifest = await buildReport(db, { title: 'out', points: 100, flips: 5, manifest: openOutputFolder(made.dir).manifest });
  assert.match(withManifest, /<th>device asked, used<\/th><td class="left">auto, cpu<\/td>/);
  assert.match(withManifest, /<th>confidence<\/th><td class="left">label prior 0\.5, alpha [0-9.]+, unsafe slope 0, max wrong flips 0\.5<\/td>/);
});
