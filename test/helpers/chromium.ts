/**
 * Where headless Chromium is for the report's browser test and the README screenshot: $CHROMIUM, else
 * the first of Debian's and the usual names on the PATH. playwright-core never downloads a browser
 * (no network here), so a machine without one gets null, and the test says it was skipped and why,
 * except under CI=true, where .ci/run installs Debian's chromium and the test must run for real.
 */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';

export const CHROMIUM_ARGS = ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'];

export function findChromium(env: NodeJS.ProcessEnv = process.env): string | null {
  if (env.CHROMIUM) return existsSync(env.CHROMIUM) ? env.CHROMIUM : null;
  for (const name of ['chromium', 'chromium-browser', 'google-chrome', 'google-chrome-stable']) {
    try {
      const path = execFileSync('which', [name], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'], env }).trim();
      if (path && existsSync(path)) return path;
    } catch {
      // not on the PATH
    }
  }
  return null;
}

/** Why the browser test cannot run here, or null when it can (CI must always run it). */
export function chromiumSkipReason(env: NodeJS.ProcessEnv = process.env): string | false {
  if (findChromium(env)) return false;
  if (env.CI === 'true') return false; // the test then fails, naming what is missing
  return 'no Chromium found ($CHROMIUM, or chromium on the PATH): apt-get install chromium to run it; CI installs it and runs this test';
}
