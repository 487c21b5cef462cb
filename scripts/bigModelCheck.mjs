// On a machine with PyTorch and room (the lent GPU machine): prefrank opens a decoder export larger
// than 2 GB (external data) through its Embedder, on the CPU provider, and embeds texts; prints the
// time, the features' shape and the memory of the process (the weights are read by onnxruntime by
// path: no Node buffer holds them). Usage: node scripts/bigModelCheck.mjs MODEL_DIR
import { Embedder } from '../dist/src/runtime/model/Embedder.js';

const dir = process.argv[2];
const t0 = Date.now();
const device = process.argv[3] ?? 'cpu';
const e = await Embedder.open({ model: `${dir}/model.onnx`, device, cacheMiB: 0, log: (m) => console.log(m) });
const opened = (Date.now() - t0) / 1000;
const texts = Array.from({ length: 16 }, (_, i) => `the cat sat on the mat ${'and then it slept '.repeat(1 + (i % 8))}`);
const t1 = Date.now();
const out = await e.embedTexts(texts);
const m = process.memoryUsage();
const mib = (x) => (x / 2 ** 20).toFixed(0);
console.log(JSON.stringify({ device: e.device, opened_s: opened, embed_s: (Date.now() - t1) / 1000, texts: out.length, layers: e.layers.length, width: e.width, tap: e.tapKind, rss_mib: mib(m.rss), heap_mib: mib(m.heapUsed), array_buffers_mib: mib(m.arrayBuffers) }));
await e.close();
