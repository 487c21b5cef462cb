/**
 * `npm run bench [name...]`: runs every bench module listed here (or the named ones), prints a
 * table per bench and writes bench/results/{name}.json.
 */
import { cpus, totalmem } from 'node:os';
import { formatTable, writeResults, type Bench } from './harness.js';

const modules: Record<string, () => Promise<{ benches: Bench[] }>> = {
  analysis: () => import('./analysis.bench.js'),
  convert: () => import('./convert.bench.js'),
  io: () => import('./io.bench.js'),
  embed: () => import('./embed.bench.js'),
  workers: () => import('./workers.bench.js'),
  sampling: () => import('./sampling.bench.js'),
};

async function main(): Promise<void> {
  const wanted = process.argv.slice(2);
  process.stderr.write(`machine: ${cpus().length} cores (${cpus()[0]?.model}), ${(totalmem() / 2 ** 30).toFixed(0)} GiB, node ${process.version}\n`);
  for (const [file, load] of Object.entries(modules)) {
    const { benches } = await load();
    for (const b of benches) {
      if (wanted.length && !wanted.includes(b.name) && !wanted.includes(file)) continue;
      process.stderr.write(`\n== ${b.name}: ${b.description}\n`);
      const rows = await b.run();
      process.stdout.write(`\n${b.name}\n${formatTable(rows)}\n`);
      process.stderr.write(`wrote ${writeResults(b.name, rows, { cores: cpus().length })}\n`);
    }
  }
}

main().catch((err) => {
  process.stderr.write(`bench failed: ${(err as Error).stack ?? err}\n`);
  process.exitCode = 1;
});
