#!/usr/bin/env bash
# The GPU check of issue 7, in one command for the lent GPU machine (see ../shared/gpu/README.md).
#
# Here, first:   npm run build && bash scripts/gpuPrepare.sh      (builds .device/, git-ignored)
# Then the device tool, from the project root:
#   command: bash scripts/gpuCheck.sh      carry: [".device"]      timeout_s: 480
#
# It unpacks Node and node_modules once (.device/device-run.sh), then runs
#   0. node dist/scripts/defaultModelDeviceCheck.js -> $OUT/default-model.json, default-model.log
#      (the default model's graph, read in windows, on WebGPU against the CPU: device used, texts/s,
#      the largest feature difference; about 20 s; with stand-in weights there, see gpuPrepare.sh)
#   1. node dist/bench/gpu.js   -> $OUT/gpu.json, gpu.log, profile-webgpu_*.json (CPU vs WebGPU,
#      the base-sized BERT (GPU_MODELS=base,minilm adds the MiniLM shape), 128 and 512 tokens, as
#      built and with --fuse-attention's rewrite; CUDA probed and reported; then the
#      ~1B Llama-shaped decoder, float16, 512 tokens, plain and fused attention: GPU_DECODERS,
#      default llama1b, '' for none)
#   2. python3 bench/gpu_peer.py -> $OUT/gpu_peer.json, gpu_peer.log (PyTorch CUDA, same models
#      and token ids, BERT fp32 and fp16, the decoder fp16 in transformers' LlamaForCausalLM on the
#      same weights; skipped with a note when torch is absent)
# within about six minutes: the Node bench stops starting rows after GPU_DEADLINE_S seconds and
# every step has a hard timeout; both JSON files are rewritten after each row, so what was measured
# comes back even when a step is cut short. Without the device tool, $OUT defaults to out/gpu.
# Extra arguments go to the node bench; `bash scripts/gpuCheck.sh --inner --quick --models tiny`
# runs the steps here without .device (how it was checked on a CPU-only machine).
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

if [ "${1:-}" != --inner ]; then
  if [ ! -f .device/device-run.sh ]; then
    echo "gpuCheck: no .device/ here: run 'npm run build && bash scripts/gpuPrepare.sh' first and carry .device" >&2
    exit 2
  fi
  echo "[gpuCheck $(date -u +%T)] unpacking node and node_modules (.device/device-run.sh)" >&2
  exec bash .device/device-run.sh bash scripts/gpuCheck.sh --inner "$@"
fi
shift # --inner; the rest goes to the node bench (e.g. --gpu-batch-tokens 16384,65536)

OUT=${OUT:-out/gpu}
mkdir -p "$OUT"
log() { echo "[gpuCheck $(date -u +%T), ${SECONDS}s] $*" >&2; }
[ -f dist/bench/gpu.js ] || { log "dist/bench/gpu.js missing: build before prepare.sh"; exit 2; }

nvidia-smi > "$OUT/nvidia-smi.txt" 2>&1 || log "nvidia-smi failed (no GPU?)"
name=$(nvidia-smi --query-gpu=name --format=csv,noheader 2>/dev/null | head -1)
# fp32 (non-tensor) peak TFLOP/s by card, from NVIDIA's data sheets; 67 when unknown.
case "$name" in
  *H100*PCIe*) peak=51 ;;
  *H100*NVL*|*H200*NVL*) peak=60 ;;
  *H100*|*H200*) peak=67 ;;
  *A100*) peak=19.5 ;;
  *) peak=67 ;;
esac
log "gpu: ${name:-none}; fp32 peak taken as ${peak} TFLOP/s; $(nproc) cpus"

log "default model: WebGPU against the CPU"
timeout -k 10 "${GPU_DEFAULT_TIMEOUT_S:-90}" node dist/scripts/defaultModelDeviceCheck.js webgpu "$OUT/default-model.json" > /dev/null 2> "$OUT/default-model.log"
log "default model check exit $? ($(grep -o '"maxRelDiff": [^,}]*' "$OUT/default-model.json" 2>/dev/null || echo 'no result'))"

peer=/tmp/prefrank-gpu-peer
rm -rf "$peer"
log "node bench (about 4 minutes: the encoders, then the decoder)"
timeout -k 10 "${GPU_NODE_TIMEOUT_S:-300}" node dist/bench/gpu.js --out "$OUT/gpu.json" --peer-dir "$peer" \
  --devices cpu,webgpu,cuda --peak-tflops "$peak" --deadline-s "${GPU_DEADLINE_S:-230}" --profile \
  --models "${GPU_MODELS:-base}" --encoder-attention plain,fused \
  --decoders "${GPU_DECODERS-llama1b}" --decoder-lengths 512 "$@" 2>&1 | tee "$OUT/gpu.log"
rc=${PIPESTATUS[0]}
log "node bench exit $rc"

if python3 -c 'import torch, transformers' 2>/dev/null; then
  if [ -f "$peer/inputs.json" ]; then
    log "python peer (PyTorch CUDA, fp32 then fp16)"
    timeout -k 10 "${GPU_PEER_TIMEOUT_S:-100}" python3 bench/gpu_peer.py --dir "$peer" --out "$OUT/gpu_peer.json" --ours "$OUT/gpu.json" 2>&1 | tee "$OUT/gpu_peer.log"
    log "python peer exit ${PIPESTATUS[0]}"
  else
    log "python peer skipped: the node bench wrote no $peer/inputs.json"
  fi
else
  log "python peer skipped: python3 has no torch/transformers"
  echo '{"name": "gpu_peer", "status": "unavailable: python3 has no torch/transformers", "rows": []}' > "$OUT/gpu_peer.json"
fi
log "done; results in $OUT"
exit "$rc"
