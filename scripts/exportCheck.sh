#!/usr/bin/env bash
# The export tool's check on a machine with PyTorch (the lent GPU machine's python3 has torch,
# transformers, onnx and onnxruntime; this one has not). Exports a tiny random Llama (grouped-query
# attention, RoPE, RMSNorm, SwiGLU) in float32 and float16 with external data, compares onnxruntime
# with PyTorch (reference.json), exports the float32 one's generation step (logits + key/value
# cache, checked by greedy decoding against PyTorch), then times a ~1B Llama-shaped export (> 2 GB).
# Writes $OUT/exports.tgz (the tiny exports, committed as test fixtures) and $OUT/export-check.log.
#   device tool: command "bash scripts/exportCheck.sh", no carry needed
set -uo pipefail
OUT=${OUT:-/tmp/export-out}
work=$(mktemp -d)
tok=test/fixtures/wordlevel-tokenizer
{
  python3 -c 'import torch, transformers, onnx, onnxruntime; print("torch", torch.__version__, "transformers", transformers.__version__, "onnx", onnx.__version__, "onnxruntime", onnxruntime.__version__)'
  for dtype in float32 float16; do
    step=(); [ "$dtype" = float32 ] && step=(--decode-step)
    python3 examples/export/export_hf.py --random-llama tiny --tokenizer-from "$tok" --dtype "$dtype" --out "$work/llama-tiny-$dtype" --check "${step[@]}" || echo "tiny $dtype: failed"
  done
  t0=$(date +%s)
  timeout 300 python3 examples/export/export_hf.py --random-llama 1b --tokenizer-from "$tok" --dtype float32 --out "$work/llama-1b" || echo "1b: failed or timed out"
  echo "1b export: $(( $(date +%s) - t0 )) s"; ls -la "$work/llama-1b" 2>/dev/null
  python3 - "$work/llama-1b" <<'PY' || echo "1b: onnxruntime could not open it"
import sys, time, numpy as np, onnxruntime as ort
t = time.time(); s = ort.InferenceSession(sys.argv[1] + "/model.onnx", providers=["CPUExecutionProvider"])
ids = np.random.default_rng(0).integers(4, 1000, (1, 16)); pos = np.arange(16)[None]
out = s.run(None, {"input_ids": ids, "attention_mask": np.ones_like(ids), "position_ids": pos})
print(f"1b: opened and ran in {time.time() - t:.1f} s; {len(out)} layers, width {out[0].shape[-1]}")
PY
} 2>&1 | tee "$OUT/export-check.log"
rm -rf "$work/llama-1b"
tar czf "$OUT/exports.tgz" -C "$work" . && ls -la "$OUT"
