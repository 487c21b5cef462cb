#!/usr/bin/env python3
"""The Python peer of bench/gpu.ts (issue 7): PyTorch on CUDA running the same models on the same
inputs, texts/s, and how far its outputs are from prefrank's CPU features.

bench/gpu.ts --peer-dir DIR writes, per model, its weights as safetensors (Hugging Face BertModel
names and layouts) and, per (model, length), the token ids of the texts it ran and the CPU features
(last token, every layer) of the first few. This script loads them into transformers' BertModel
(BertConfig from the same shape, no pooler), runs every text in batches of --batch-tokens tokens,
fp32 with TF32 off (what prefrank computes) and, unless --no-fp16, the same model in fp16, and
writes one row per (model, length, precision). With --ours gpu.json it adds prefrank's WebGPU and
CPU rates and the ratios.

    python3 bench/gpu_peer.py --dir DIR --out gpu_peer.json [--ours gpu.json] [--batch-tokens 16384]
        [--repeats 5] [--peak-tflops 67] [--no-fp16]
    python3 bench/gpu_peer.py --dir DIR --numpy-check     # no torch needed: checks the exported
        # weights and ids against prefrank's CPU features with a NumPy forward pass (tests use it)

With decoders (bench/gpu.ts --decoders), it also runs each one in transformers' LlamaForCausalLM,
fp16, on the weights in the model's own model.onnx.data (read through the index gpu.ts wrote), and
--numpy-check runs them through a NumPy Llama forward.

Needs numpy; the timed part needs torch with CUDA and transformers. Without them it writes a row
saying so and exits 0, so the GPU check goes on.
"""
import argparse
import json
import math
import os
import statistics
import sys
import time

import numpy as np


def load_safetensors(path):
    """safetensors by hand (the safetensors package may be absent): 8-byte header length, JSON, data."""
    with open(path, "rb") as f:
        data = f.read()
    n = int.from_bytes(data[:8], "little")
    header = json.loads(data[8 : 8 + n])
    base = 8 + n
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        if info["dtype"] != "F32":
            raise ValueError(f"{path}: tensor {name} has dtype {info['dtype']}, expected F32")
        b, e = info["data_offsets"]
        out[name] = np.frombuffer(data, dtype="<f4", count=(e - b) // 4, offset=base + b).reshape(info["shape"])
    return out


def write(path, doc):
    if path:
        os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
        with open(path, "w") as f:
            json.dump(doc, f, indent=2)
            f.write("\n")


def flops_per_text(cfg, T):
    """As bench/gpu.ts: 2 x matmul parameters per token x T, plus 4 T^2 w per layer of attention."""
    L, w, f = cfg["num_hidden_layers"], cfg["hidden_size"], cfg["intermediate_size"]
    return L * (2 * T * (4 * w * w + 2 * w * f) + 4 * T * T * w)


def numpy_forward(sd, cfg, ids):
    """BertModel's forward in float64 NumPy (torch conventions: Linear weight [out, in]); returns
    [texts, layers, width], the last token of each layer's output (hidden_states[1:])."""
    eps = cfg["layer_norm_eps"]
    h = cfg["num_attention_heads"]
    w = cfg["hidden_size"]
    d = w // h
    g = lambda k: sd[k].astype(np.float64)
    erf = np.vectorize(math.erf)

    def ln(x, p):
        m = x.mean(-1, keepdims=True)
        v = ((x - m) ** 2).mean(-1, keepdims=True)
        return (x - m) / np.sqrt(v + eps) * g(p + ".weight") + g(p + ".bias")

    def lin(x, p):
        return x @ g(p + ".weight").T + g(p + ".bias")

    ids = np.asarray(ids)
    b, T = ids.shape
    x = g("embeddings.word_embeddings.weight")[ids] + g("embeddings.position_embeddings.weight")[np.arange(T)][None] + g("embeddings.token_type_embeddings.weight")[0]
    x = ln(x, "embeddings.LayerNorm")
    outs = []
    for l in range(cfg["num_hidden_layers"]):
        p = f"encoder.layer.{l}"
        split = lambda t: t.reshape(b, T, h, d).transpose(0, 2, 1, 3)
        q, k, v = (split(lin(x, f"{p}.attention.self.{n}")) for n in ("query", "key", "value"))
        s = q @ k.transpose(0, 1, 3, 2) / math.sqrt(d)
        s = np.exp(s - s.max(-1, keepdims=True))
        s /= s.sum(-1, keepdims=True)
        ctx = (s @ v).transpose(0, 2, 1, 3).reshape(b, T, w)
        a = ln(lin(ctx, f"{p}.attention.output.dense") + x, f"{p}.attention.output.LayerNorm")
        i = lin(a, f"{p}.intermediate.dense")
        i = 0.5 * i * (1 + erf(i / math.sqrt(2)))
        x = ln(lin(i, f"{p}.output.dense") + a, f"{p}.output.LayerNorm")
        outs.append(x[:, -1, :])
    return np.stack(outs, 1)


def load_decoder(root, d):
    """A decoder's weights from its model.onnx.data, by the index bench/gpuDecoder.ts wrote:
    transformers' LlamaForCausalLM names, float16, [out, in] (transposed where the index says)."""
    data = np.memmap(os.path.join(root, d["data"]), dtype=np.uint8, mode="r")
    out = {}
    for name, t in d["tensors"].items():
        a = np.frombuffer(data[t["offset"] : t["offset"] + t["length"]], dtype="<f2").reshape(t["dims"])
        out[name] = a.T if t["transpose"] else a
    return out


def numpy_llama(sd, cfg, ids):
    """LlamaModel's forward in float64 NumPy on unpadded ids; [texts, layers, width], the last
    token of each layer's output (hidden_states[1:], the last one after the final norm)."""
    g = lambda k: sd[k].astype(np.float64)
    h, kv, w = cfg["num_attention_heads"], cfg["num_key_value_heads"], cfg["hidden_size"]
    d = w // h
    eps = cfg["rms_norm_eps"]
    ids = np.asarray(ids)
    b, T = ids.shape
    inv = 1.0 / cfg["rope_theta"] ** (np.arange(0, d, 2) / d)
    f = np.arange(T)[:, None] * inv[None]
    emb = np.concatenate([f, f], -1)
    cos, sin = np.cos(emb), np.sin(emb)
    rot = lambda x: np.concatenate([-x[..., d // 2 :], x[..., : d // 2]], -1)
    rms = lambda x, k: x / np.sqrt((x * x).mean(-1, keepdims=True) + eps) * g(k)
    causal = np.triu(np.full((T, T), -np.inf), 1)
    x = g("model.embed_tokens.weight")[ids]
    outs = []
    L = cfg["num_hidden_layers"]
    for l in range(L):
        p = f"model.layers.{l}"
        y = rms(x, f"{p}.input_layernorm.weight")
        heads = lambda t, n: t.reshape(b, T, n, d).transpose(0, 2, 1, 3)
        q = heads(y @ g(f"{p}.self_attn.q_proj.weight").T, h)
        k = heads(y @ g(f"{p}.self_attn.k_proj.weight").T, kv)
        v = heads(y @ g(f"{p}.self_attn.v_proj.weight").T, kv)
        q, k = q * cos + rot(q) * sin, k * cos + rot(k) * sin
        k, v = np.repeat(k, h // kv, axis=1), np.repeat(v, h // kv, axis=1)
        s = q @ k.transpose(0, 1, 3, 2) / math.sqrt(d) + causal
        s = np.exp(s - s.max(-1, keepdims=True))
        s /= s.sum(-1, keepdims=True)
        x = x + (s @ v).transpose(0, 2, 1, 3).reshape(b, T, w) @ g(f"{p}.self_attn.o_proj.weight").T
        y = rms(x, f"{p}.post_attention_layernorm.weight")
        gate = y @ g(f"{p}.mlp.gate_proj.weight").T
        x = x + (gate / (1 + np.exp(-gate)) * (y @ g(f"{p}.mlp.up_proj.weight").T)) @ g(f"{p}.mlp.down_proj.weight").T
        outs.append((rms(x, "model.norm.weight") if l == L - 1 else x)[:, -1, :])
    return np.stack(outs, 1)


def reference(case):
    r = case["reference"]
    return np.asarray(r["features"], dtype=np.float32).reshape(r["texts"], r["layers"], r["width"])


def numpy_check(args, inputs):
    worst = 0.0
    rows = []
    for case in inputs["cases"]:
        m = inputs["models"][case["model"]]
        sd = load_safetensors(os.path.join(args.dir, m["weights"]))
        ref = reference(case)
        ours = numpy_forward(sd, m["config"], case["ids"][: ref.shape[0]])
        diff = float(np.abs(ours - ref).max())
        worst = max(worst, diff)
        rows.append({"model": case["model"], "tokens": case["tokens"], "texts": ref.shape[0], "max_abs_diff_numpy_vs_prefrank_cpu": diff})
        print(f"{case['model']} {case['tokens']} tokens: numpy vs prefrank cpu max abs diff {diff:.3g}", flush=True)
    # Decoders: float16 weights and activations in prefrank against float64 here, so relative.
    worst_rel = 0.0
    for case in inputs.get("decoderCases", []):
        d = inputs["decoders"][case["model"]]
        ref = reference(case)
        ours = numpy_llama(load_decoder(args.dir, d), d["config"], case["ids"][: ref.shape[0]])
        rel = float(np.abs(ours - ref).max() / np.abs(ours).max())
        worst_rel = max(worst_rel, rel)
        rows.append({"model": case["model"], "tokens": case["tokens"], "texts": ref.shape[0], "max_rel_diff_numpy_vs_prefrank_cpu": rel})
        print(f"{case['model']} {case['tokens']} tokens: numpy vs prefrank cpu max relative diff {rel:.3g}", flush=True)
    write(args.out, {"name": "gpu_peer_numpy_check", "rows": rows})
    return 0 if worst <= 1e-3 and worst_rel <= 1e-2 else 1


def timed(torch, run, ids, rows, repeats):
    """A warm-up batch (kernel selection, allocator), then `repeats` passes over all ids in batches
    of `rows`: the median seconds of a pass and the last pass's features as one NumPy array."""
    n = ids.shape[0]
    with torch.inference_mode():
        run(ids[:rows])
        torch.cuda.synchronize()
        times = []
        feats = None
        for _ in range(repeats):
            t = time.perf_counter()
            feats = [run(ids[i : i + rows]) for i in range(0, n, rows)]
            torch.cuda.synchronize()
            times.append(time.perf_counter() - t)
    return statistics.median(times), torch.cat(feats).numpy()


def ours_rates(path):
    """prefrank's rows from gpu.json, keyed by (model, tokens, device)."""
    if not path or not os.path.exists(path):
        return {}
    with open(path) as f:
        doc = json.load(f)
    out = {}
    for r in doc.get("rows", []):
        if r.get("status") == "ok":
            key = (r["model"], r["tokens_per_text"], r["device"])
            # Several GPU batch budgets: keep the fastest stage.
            if key not in out or r["stage_texts_per_s"] > out[key]["stage_texts_per_s"]:
                out[key] = r
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--dir", required=True, help="the --peer-dir bench/gpu.ts wrote")
    ap.add_argument("--out", help="result JSON")
    ap.add_argument("--ours", help="bench/gpu.ts's JSON, for the ratios")
    ap.add_argument("--batch-tokens", type=int, help="token budget of a batch (default: the largest GPU budget gpu.ts used)")
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--peak-tflops", type=float, help="the card's fp32 peak (default: what gpu.ts used)")
    ap.add_argument("--no-fp16", action="store_true")
    ap.add_argument("--numpy-check", action="store_true")
    args = ap.parse_args()
    with open(os.path.join(args.dir, "inputs.json")) as f:
        inputs = json.load(f)
    if args.numpy_check:
        return numpy_check(args, inputs)

    budget = args.batch_tokens or max(inputs["batch_tokens"])
    peak = args.peak_tflops or inputs["peak_tflops"]
    doc = {"name": "gpu_peer", "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "batch_tokens": budget, "peak_tflops": peak, "rows": []}
    try:
        import torch
        import transformers
        from transformers import BertConfig, BertModel
    except Exception as e:  # noqa: BLE001 - any import failure means no peer here
        doc["status"] = f"unavailable: {str(e).splitlines()[0]}"
        write(args.out, doc)
        print(doc["status"], flush=True)
        return 0
    if not torch.cuda.is_available():
        doc["status"] = "unavailable: torch.cuda.is_available() is False"
        write(args.out, doc)
        print(doc["status"], flush=True)
        return 0
    # fp32 as prefrank computes it: no TF32 in matmuls (cuDNN is not used by BERT).
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    dev = torch.device("cuda")
    doc.update(status="ok", torch=torch.__version__, transformers=transformers.__version__, gpu=torch.cuda.get_device_name(0))
    print(f"peer: torch {torch.__version__}, transformers {transformers.__version__}, {doc['gpu']}, batch budget {budget} tokens", flush=True)
    ours = ours_rates(args.ours)

    for name, m in inputs["models"].items():
        cases = [c for c in inputs["cases"] if c["model"] == name]
        if not cases:
            continue
        cfg = m["config"]
        t0 = time.perf_counter()
        sd = {k: torch.from_numpy(v.copy()) for k, v in load_safetensors(os.path.join(args.dir, m["weights"])).items()}
        model = BertModel(BertConfig(**cfg), add_pooling_layer=False)
        missing, unexpected = model.load_state_dict(sd, strict=False)
        bad = [k for k in missing if not k.endswith(("position_ids", "token_type_ids"))]
        if bad or unexpected:
            raise SystemExit(f"{name}: weights do not fit BertModel: missing {bad}, unexpected {list(unexpected)}")
        model = model.to(dev).eval()
        attn = getattr(model.config, "_attn_implementation", None)
        print(f"  {name}: loaded in {time.perf_counter() - t0:.1f} s (attention: {attn})", flush=True)
        for precision in ["fp32"] + ([] if args.no_fp16 else ["fp16"]):
            if precision == "fp16":
                model = model.half()
            for case in cases:
                T = case["tokens"]
                ids = torch.tensor(case["ids"], dtype=torch.long, device=dev)
                n = ids.shape[0]
                rows = max(1, budget // T)
                mask = torch.ones((min(rows, n), T), dtype=torch.long, device=dev)
                types = torch.zeros_like(mask)

                def run(batch):
                    b = batch.shape[0]
                    out = model(input_ids=batch, attention_mask=mask[:b], token_type_ids=types[:b], output_hidden_states=True)
                    # The same work as prefrank's layer tap: the last token of every layer, to the host.
                    return torch.stack(out.hidden_states[1:], 1)[:, :, -1, :].float().cpu()

                sec, got = timed(torch, run, ids, rows, args.repeats)
                ref = reference(case)
                got = got[: ref.shape[0]]
                tps = n / sec
                flop = flops_per_text(cfg, T)
                row = {
                    "model": name, "tokens_per_text": T, "precision": precision, "texts": n, "rows_per_batch": rows,
                    "seconds": sec, "texts_per_s": tps, "tokens_per_s": tps * T, "tflops": flop * tps / 1e12,
                    "frac_peak_fp32": flop * tps / (peak * 1e12),
                    "max_abs_diff_vs_prefrank_cpu": float(np.abs(got - ref).max()), "diff_texts": int(ref.shape[0]),
                }
                for dev_name in ("webgpu", "cpu"):
                    r = ours.get((name, T, dev_name))
                    if r:
                        row[f"prefrank_{dev_name}_stage_texts_per_s"] = r["stage_texts_per_s"]
                        row[f"prefrank_{dev_name}_bare_texts_per_s"] = r["bare_texts_per_s"]
                        row[f"torch_over_prefrank_{dev_name}_stage"] = tps / r["stage_texts_per_s"]
                doc["rows"].append(row)
                write(args.out, doc)
                extra = f", {row['torch_over_prefrank_webgpu_stage']:.1f}x prefrank webgpu" if "torch_over_prefrank_webgpu_stage" in row else ""
                print(f"  {name} {T} tokens {precision}: {tps:.1f} texts/s, {row['tflops']:.2f} TFLOP/s ({100 * row['frac_peak_fp32']:.1f}% of fp32 peak), "
                      f"max diff vs prefrank cpu {row['max_abs_diff_vs_prefrank_cpu']:.2g}{extra}", flush=True)
        del model
        torch.cuda.empty_cache()
    decoder_rows(args, inputs, doc, ours, budget, dev, torch)
    write(args.out, doc)
    return 0


def decoder_rows(args, inputs, doc, ours, budget, dev, torch):
    """The decoders of bench/gpuDecoder.ts in transformers' LlamaForCausalLM, fp16 on CUDA (its
    default attention, SDPA), on the same weights and token ids; features against prefrank's CPU."""
    from transformers import LlamaConfig, LlamaForCausalLM

    for name, d in inputs.get("decoders", {}).items():
        cases = [c for c in inputs.get("decoderCases", []) if c["model"] == name]
        if not cases:
            continue
        t0 = time.perf_counter()
        cfg = d["config"]
        # Made on the GPU in fp16 (a random init of 1B parameters on the CPU takes a while), then
        # given prefrank's weights; the rotary tables are float32 whatever the default dtype.
        prev = torch.get_default_dtype()
        torch.set_default_dtype(torch.float16)
        try:
            with torch.device(dev):
                model = LlamaForCausalLM(LlamaConfig(**cfg))
        finally:
            torch.set_default_dtype(prev)
        sd = {k: torch.from_numpy(np.ascontiguousarray(v)) for k, v in load_decoder(args.dir, d).items()}
        missing, unexpected = model.load_state_dict(sd, strict=False)
        bad = [k for k in missing if k != "lm_head.weight"]
        if bad or unexpected:
            raise SystemExit(f"{name}: weights do not fit LlamaForCausalLM: missing {bad}, unexpected {list(unexpected)}")
        model = model.eval()
        print(f"  {name}: loaded in {time.perf_counter() - t0:.1f} s (attention: {getattr(model.config, '_attn_implementation', None)})", flush=True)
        for case in cases:
            T = case["tokens"]
            ids = torch.tensor(case["ids"], dtype=torch.long, device=dev)
            n = ids.shape[0]
            rows = max(1, budget // T)

            def run(batch):
                out = model.model(input_ids=batch, output_hidden_states=True)
                return torch.stack(out.hidden_states[1:], 1)[:, :, -1, :].float().cpu()

            sec, got = timed(torch, run, ids, rows, args.repeats)
            ref = reference(case)
            got = got[: ref.shape[0]]
            tps = n / sec
            row = {
                "model": name, "tokens_per_text": T, "precision": "fp16", "texts": n, "rows_per_batch": rows, "seconds": sec, "texts_per_s": tps,
                "max_rel_diff_vs_prefrank_cpu": float(np.abs(got - ref).max() / np.abs(ref).max()), "diff_texts": int(ref.shape[0]),
            }
            for dev_name in ("webgpu", "cuda", "cpu"):
                r = ours.get((name, T, dev_name))
                if r:
                    row[f"prefrank_{dev_name}_stage_texts_per_s"] = r["stage_texts_per_s"]
                    row[f"prefrank_{dev_name}_over_torch_fp16"] = r["stage_texts_per_s"] / tps
            doc["rows"].append(row)
            write(args.out, doc)
            print(f"  {name} {T} tokens fp16: {tps:.1f} texts/s, max rel diff vs prefrank cpu {row['max_rel_diff_vs_prefrank_cpu']:.2g}", flush=True)
        del model
        torch.cuda.empty_cache()


if __name__ == "__main__":
    sys.exit(main())
