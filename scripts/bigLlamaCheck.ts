/**
 * The > 2 GB decoder check, on the CPU of any machine: builds a Llama-shaped model whose float16
 * weights are over 2 GiB (bench/llamaModel.ts, LLAMA_1B_20L: 20 layers x 2048, 32/8 heads, random
 * weights, ONNX external data), puts the tiny export's tokenizer and chat template beside it, and runs
 * what a training team runs on it, each command as a user would (a child process, timed, with its
 * peak RSS): `embed` of N HH pairs, `probe train` on the feature shards, `rerank` with the probe.
 * The features' layer count and width are checked against the model, and the run's manifest and
 * summary are printed as JSON.
 *
 *   npm run build && node dist/scripts/bigLlamaCheck.js [--pairs 16] [--attention plain|fused] [--dir DIR] [--keep]
 *
 * DIR (default: a temporary folder) holds the model (about 2.4 GB) and the outputs; it is removed
 * at the end unless --keep.
 */
import { copyFileSync, existsSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { measure } from '../bench/convert.bench.js';
import { buildLlamaModel, LLAMA_1B_20L, randomLlamaWeights, type AttentionForm } from '../bench/llamaModel.js';
import { projectRoot, sharedHhFile, sharedJsonLines } from '../src/runtime/paths.js';

const { values: args } = parseArgs({
  options: {
    pairs: { type: 'string', default: '16' },
    attention: { type: 'string', default: 'plain' },
    dir: { type: 'string' },
    keep: { type: 'boolean', default: false },
  },
});

async function main(): Promise<void> {
  const root = projectRoot();
  const dir = args.dir ?? join(tmpdir(), `prefrank-big-llama-${process.pid}`);
  const attention = args.attention as AttentionForm;
  const pairs = Number(args.pairs);
  const model = join(dir, 'model');
  const cli = join(root, 'dist', 'src', 'cli', 'main.js');
  const report: Record<string, unknown> = { shape: LLAMA_1B_20L, dtype: 'float16', attention, pairs };
  mkdirSync(dir, { recursive: true });
  try {
    const t0 = Date.now();
    if (!existsSync(join(model, 'model.onnx'))) {
      const { weightBytes } = buildLlamaModel(model, LLAMA_1B_20L, { dtype: 'float16', attention, weights: randomLlamaWeights(1) });
      report.weightBytes = weightBytes;
    }
    report.dataFileBytes = statSync(join(model, 'model.onnx.data')).size;
    report.buildSeconds = (Date.now() - t0) / 1000;
    const fixture = join(root, 'test', 'fixtures', 'llama-export', 'float16');
    for (const f of ['tokenizer.json', 'tokenizer_config.json']) copyFileSync(join(fixture, f), join(model, f));
    process.stderr.write(`model: ${model} (${(Number(report.dataFileBytes) / 1e9).toFixed(2)} GB of float16 weights, built in ${report.buildSeconds} s)\n`);

    const hh = sharedJsonLines(sharedHhFile()).slice(0, pairs);
    const input = join(dir, 'pairs.jsonl');
    writeFileSync(input, hh.join('\n') + '\n');
    const flags = ['--model', model, '--device', 'cpu', '--chat-template', '--log-level', 'warn'];
    const steps: [string, string[]][] = [
      ['embed', ['embed', input, '--out', join(dir, 'feats'), '--overwrite', ...flags]],
      ['probe train', ['probe', 'train', join(dir, 'feats'), '--out', join(dir, 'probe'), '--seed', '1']],
      ['rerank', ['rerank', input, '--out', join(dir, 'out'), '--overwrite', '--probe', join(dir, 'probe'), ...flags]],
    ];
    for (const [name, argv] of steps) {
      const m = await measure([cli, ...argv], root);
      if (m.code !== 0) throw new Error(`${name} exited ${m.code}: ${m.stderr.slice(-3000)}`);
      report[name] = { seconds: Number(m.seconds.toFixed(1)), peakRssMiB: Math.round(m.maxRssMiB) };
      process.stderr.write(`${name}: ${m.seconds.toFixed(1)} s, ${Math.round(m.maxRssMiB)} MiB peak RSS\n`);
    }
    const manifest = JSON.parse(readFileSync(join(dir, 'out', 'manifest.json'), 'utf8'));
    const probe = JSON.parse(readFileSync(join(dir, 'probe', 'probe.json'), 'utf8'));
    if (probe.features.width !== LLAMA_1B_20L.width || probe.features.layers.length !== LLAMA_1B_20L.layers)
      throw new Error(`features ${probe.features.layers.length} x ${probe.features.width}, expected ${LLAMA_1B_20L.layers} x ${LLAMA_1B_20L.width}`);
    report.features = { layers: probe.features.layers.length, width: probe.features.width };
    report.rerank = { ...(report.rerank as object), rowsOut: manifest.totals.rowsOut, rowsFlipped: manifest.totals.rowsFlipped, device: manifest.shards[0].device };
    process.stdout.write(JSON.stringify(report, null, 2) + '\n');
  } finally {
    if (!args.keep) rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((err) => {
  process.stderr.write(`bigLlamaCheck failed: ${(err as Error).message}\n`);
  process.exitCode = 1;
});
