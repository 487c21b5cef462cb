#!/usr/bin/env python3
"""Export a Hugging Face causal LM to the ONNX form prefrank opens (`--model DIR`).

The export outputs the hidden state after every decoder layer (`hidden_states.0` .. `hidden_states.{L-1}`,
[batch, tokens, width] each; the last one is after the final norm, as transformers gives it);
prefrank's layer tap reads the last real token of each inside the graph. Inputs: input_ids,
attention_mask, position_ids (so left padding works). Weights go to one external data file
(`model.onnx.data`), which onnxruntime reads by path: models over 2 GB open. `--dtype float16`
stores and runs the graph in fp16 (onnxruntime's CPU provider lacks some fp16 kernels: fp16 is for
the GPU; `float32` runs everywhere). The tokenizer files and the chat template are copied beside it.

  python3 export_hf.py --model path/to/hf-model --out my-policy-onnx [--dtype float16]
  python3 export_hf.py --random-llama tiny --tokenizer-from ../../test/fixtures/llama-export/tokenizer --out OUT --check

`--random-llama tiny|1b` builds a Llama-shaped model with random weights instead (no download), for
tests and benchmarks. `--check` runs the same texts through PyTorch and onnxruntime and writes
`reference.json` (token ids and each layer's last-token hidden state from PyTorch), which prefrank's
tests compare against; it fails when onnxruntime and PyTorch differ by more than 1e-2 relative.

Needs torch, transformers, onnx and onnxruntime (no network when --random-llama is used).
"""
import argparse
import json
import os
import shutil
import sys

import numpy as np
import onnx
import torch

CHECK_TEXTS = [
    "How can I stay safe online?",
    "I will not help with that request.",
    "the cat sat on the mat and then it slept",
    "Here is how to do it step by step",
]

# Llama-3-style chat template, simple enough for any tokenizer (prefrank --chat-template).
CHAT_TEMPLATE = (
    "{% for m in messages %}<|{{ m['role'] }}|>\n{{ m['content'] }}\n{% endfor %}"
)


def random_llama(size, vocab_size):
    from transformers import LlamaConfig, LlamaForCausalLM

    shapes = {
        # 2 layers, width 64, grouped-query attention (4 query heads, 2 key/value heads)
        "tiny": dict(hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2),
        # about 1B parameters: 16 layers x 2048, 32/8 heads (issue 14's benchmark shape)
        "1b": dict(hidden_size=2048, intermediate_size=8192, num_hidden_layers=16, num_attention_heads=32, num_key_value_heads=8),
    }[size]
    torch.manual_seed(0)
    cfg = LlamaConfig(vocab_size=vocab_size, max_position_embeddings=2048, rms_norm_eps=1e-5, tie_word_embeddings=False, **shapes)
    cfg._attn_implementation = "eager"
    return LlamaForCausalLM(cfg).eval()


class HiddenStates(torch.nn.Module):
    """The decoder's hidden state after every layer, nothing else (no logits, no cache)."""

    def __init__(self, lm):
        super().__init__()
        self.lm = lm

    def forward(self, input_ids, attention_mask, position_ids):
        out = self.lm.model(input_ids=input_ids, attention_mask=attention_mask, position_ids=position_ids, use_cache=False, output_hidden_states=True, return_dict=True)
        return tuple(out.hidden_states[1:])


def export(lm, dtype, path):
    layers = lm.config.num_hidden_layers
    wrapped = HiddenStates(lm.to(dtype)).eval()
    ids = torch.randint(4, lm.config.vocab_size, (2, 8))
    mask = torch.ones_like(ids)
    pos = torch.arange(8).unsqueeze(0).expand(2, 8).contiguous()
    names = [f"hidden_states.{i}" for i in range(layers)]
    axes = {n: {0: "batch", 1: "sequence"} for n in ["input_ids", "attention_mask", "position_ids", *names]}
    errors = []
    for dynamo in (False, True):
        try:
            kw = dict(input_names=["input_ids", "attention_mask", "position_ids"], output_names=names, opset_version=18)
            if dynamo:
                b, s = torch.export.Dim("batch"), torch.export.Dim("sequence", min=2, max=4096)
                torch.onnx.export(wrapped, (ids, mask, pos), path, dynamo=True, dynamic_shapes=({0: b, 1: s}, {0: b, 1: s}, {0: b, 1: s}), **kw)
            else:
                torch.onnx.export(wrapped, (ids, mask, pos), path, dynamo=False, dynamic_axes=axes, **kw)
            return "dynamo" if dynamo else "torchscript"
        except Exception as e:  # noqa: BLE001 - report both exporters' failures
            errors.append(f"dynamo={dynamo}: {str(e)[:400]}")
    raise SystemExit("export failed: " + " | ".join(errors))


class DecodeStep(torch.nn.Module):
    """One generation step with a key/value cache: the next token's logits and the new cache.

    Inputs: input_ids [b, t], attention_mask [b, past + t], position_ids [b, t], then past.K.key and
    past.K.value [b, kv_heads, past, head_dim] for every layer K. Outputs: logits [b, vocab] of the
    last position, then present.K.key and present.K.value [b, kv_heads, past + t, head_dim].
    """

    def __init__(self, lm):
        super().__init__()
        self.lm = lm
        self.layers = lm.config.num_hidden_layers

    def forward(self, input_ids, attention_mask, position_ids, *past):
        from transformers import DynamicCache

        cache = DynamicCache()
        for k in range(self.layers):
            cache.update(past[2 * k], past[2 * k + 1], k)
        # cache_position from the inputs: left to transformers it would come from the cache's length
        # as a Python number, which a trace freezes.
        out = self.lm(input_ids=input_ids, attention_mask=attention_mask, position_ids=position_ids, cache_position=position_ids[0], past_key_values=cache, use_cache=True, return_dict=True)
        new = out.past_key_values
        present = []
        for k in range(self.layers):
            layer = new.layers[k] if hasattr(new, "layers") else None
            present += [layer.keys, layer.values] if layer is not None else [new.key_cache[k], new.value_cache[k]]
        return (out.logits[:, -1], *present)


def export_decode_step(lm, path, dynamo=False):
    """The generation step (for the re-rank vs online sampling benchmark), float32."""
    cfg = lm.config
    layers, kv = cfg.num_hidden_layers, cfg.num_key_value_heads
    head = cfg.hidden_size // cfg.num_attention_heads
    b, t, past_len = 2, 3, 4
    ids = torch.randint(4, cfg.vocab_size, (b, t))
    mask = torch.ones(b, past_len + t, dtype=torch.long)
    pos = (torch.arange(t) + past_len).unsqueeze(0).expand(b, t).contiguous()
    past = [torch.randn(b, kv, past_len, head) for _ in range(2 * layers)]
    past_names = [f"past.{k}.{kind}" for k in range(layers) for kind in ("key", "value")]
    present_names = [f"present.{k}.{kind}" for k in range(layers) for kind in ("key", "value")]
    axes = {"input_ids": {0: "batch", 1: "sequence"}, "attention_mask": {0: "batch", 1: "total"}, "position_ids": {0: "batch", 1: "sequence"}, "logits": {0: "batch"}}
    axes.update({n: {0: "batch", 2: "past"} for n in past_names})
    axes.update({n: {0: "batch", 2: "total"} for n in present_names})
    step = DecodeStep(lm).eval()
    kw = dict(input_names=["input_ids", "attention_mask", "position_ids", *past_names], output_names=["logits", *present_names], opset_version=18)
    if dynamo:
        bd, sd, pd, td = torch.export.Dim("batch"), torch.export.Dim("sequence", max=4096), torch.export.Dim("past", max=4096), torch.export.Dim("total", max=8192)
        shapes = ({0: bd, 1: sd}, {0: bd, 1: td}, {0: bd, 1: sd}, *[{0: bd, 2: pd} for _ in past])
        torch.onnx.export(step, (ids, mask, pos, *past), path, dynamo=True, dynamic_shapes=shapes, **kw)
    else:
        torch.onnx.export(step, (ids, mask, pos, *past), path, dynamo=False, dynamic_axes=axes, **kw)


def save_with_external_data(exported, path):
    """The graph at `path`, every weight in one file beside it (`model.onnx.data`), read by path."""
    m = onnx.load(exported, load_external_data=True)
    onnx.save_model(m, path, save_as_external_data=True, all_tensors_to_one_file=True, location=os.path.basename(path) + ".data", size_threshold=0)


def copy_tokenizer(src, out):
    for f in ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json"):
        if os.path.exists(os.path.join(src, f)):
            shutil.copy(os.path.join(src, f), os.path.join(out, f))
    cfg_path = os.path.join(out, "tokenizer_config.json")
    cfg = json.load(open(cfg_path)) if os.path.exists(cfg_path) else {}
    cfg.setdefault("chat_template", CHAT_TEMPLATE)
    json.dump(cfg, open(cfg_path, "w"), indent=2)


def check(lm, out, dtype):
    """PyTorch (fp32) vs onnxruntime on the same token ids: each layer's last-token hidden state."""
    import onnxruntime as ort
    from tokenizers import Tokenizer

    tok = Tokenizer.from_file(os.path.join(out, "tokenizer.json"))
    sess = ort.InferenceSession(os.path.join(out, "model.onnx"), providers=["CPUExecutionProvider"])
    ref = HiddenStates(lm).eval()
    rows, worst = [], 0.0
    for text in CHECK_TEXTS:
        ids = tok.encode(text, add_special_tokens=False).ids
        t = torch.tensor([ids])
        pos = torch.arange(len(ids)).unsqueeze(0)
        with torch.no_grad():
            want = [h[0, -1].numpy() for h in ref(t, torch.ones_like(t), pos)]
        got = sess.run(None, {"input_ids": t.numpy(), "attention_mask": np.ones_like(t.numpy()), "position_ids": pos.numpy()})
        for w, g in zip(want, got):
            g = g[0, -1].astype(np.float32)
            worst = max(worst, float(np.abs(g - w).max() / (np.abs(w).max() + 1e-6)))
        rows.append({"text": text, "ids": ids, "features": [w.astype(float).round(6).tolist() for w in want]})
    json.dump({"dtype": dtype, "layers": len(rows[0]["features"]), "width": len(rows[0]["features"][0]), "maxRelativeDiff": worst, "texts": rows}, open(os.path.join(out, "reference.json"), "w"))
    print(f"check: onnxruntime vs PyTorch fp32, largest difference {worst:.2e} relative (of each layer's largest value)")
    if worst > 1e-2:
        raise SystemExit("check failed: onnxruntime and PyTorch differ by more than 1e-2")


def check_decode_step(lm, out):
    """Greedy decoding of 6 tokens through decode_step.onnx equals PyTorch's (same argmax tokens)."""
    import onnxruntime as ort

    cfg = lm.config
    sess = ort.InferenceSession(os.path.join(out, "decode_step.onnx"), providers=["CPUExecutionProvider"])
    head = cfg.hidden_size // cfg.num_attention_heads
    ids = np.array([[5, 17, 42, 7]], dtype=np.int64)
    past = {f"past.{k}.{kind}": np.zeros((1, cfg.num_key_value_heads, 0, head), np.float32) for k in range(cfg.num_hidden_layers) for kind in ("key", "value")}
    seq, mine, total = ids, [], 0
    for _ in range(6):
        t = seq.shape[1]
        feeds = {"input_ids": seq, "attention_mask": np.ones((1, total + t), np.int64), "position_ids": np.arange(total, total + t)[None], **past}
        res = sess.run(None, feeds)
        nxt = int(res[0][0].argmax())
        mine.append(nxt)
        names = [o.name for o in sess.get_outputs()][1:]
        past = {n.replace("present", "past"): v for n, v in zip(names, res[1:])}
        total += t
        seq = np.array([[nxt]], dtype=np.int64)
    want, seq_t = [], torch.tensor(ids)
    with torch.no_grad():
        for _ in range(6):  # greedy, the whole sequence each step: no cache involved
            nxt = int(lm(input_ids=seq_t, use_cache=False).logits[0, -1].argmax())
            want.append(nxt)
            seq_t = torch.cat([seq_t, torch.tensor([[nxt]])], dim=1)
    print(f"decode step: onnxruntime greedy {mine}, PyTorch greedy {want}")
    return mine == want


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    src = ap.add_mutually_exclusive_group(required=True)
    src.add_argument("--model", help="a Hugging Face causal LM folder (config.json, weights, tokenizer files)")
    src.add_argument("--random-llama", choices=["tiny", "1b"], help="a Llama-shaped model with random weights")
    ap.add_argument("--tokenizer-from", help="folder with tokenizer.json (default: --model)")
    ap.add_argument("--out", required=True)
    ap.add_argument("--dtype", choices=["float32", "float16"], default="float32")
    ap.add_argument("--check", action="store_true", help="compare with PyTorch and write reference.json")
    ap.add_argument("--decode-step", action="store_true", help="also export decode_step.onnx (logits + key/value cache, float32) for the sampling benchmark")
    a = ap.parse_args()
    os.makedirs(a.out, exist_ok=True)
    tok_dir = a.tokenizer_from or a.model
    if not tok_dir:
        raise SystemExit("--random-llama needs --tokenizer-from DIR (a folder with tokenizer.json)")
    if a.model:
        from transformers import AutoModelForCausalLM

        lm = AutoModelForCausalLM.from_pretrained(a.model, torch_dtype=torch.float32, attn_implementation="eager").eval()
    else:
        vocab = json.load(open(os.path.join(tok_dir, "tokenizer.json")))["model"]["vocab"]
        lm = random_llama(a.random_llama, len(vocab))
    import copy
    import tempfile

    path = os.path.join(a.out, "model.onnx")
    with tempfile.TemporaryDirectory() as tmp:
        # A copy is exported (in --dtype); `lm` stays the float32 reference for --check.
        how = export(copy.deepcopy(lm), torch.float16 if a.dtype == "float16" else torch.float32, os.path.join(tmp, "model.onnx"))
        save_with_external_data(os.path.join(tmp, "model.onnx"), path)
    copy_tokenizer(tok_dir, a.out)
    json.dump({"exporter": how, "dtype": a.dtype, "source": a.model or f"random-llama {a.random_llama}", **{k: v for k, v in lm.config.to_dict().items() if isinstance(v, (int, float, str))}}, open(os.path.join(a.out, "config.json"), "w"), indent=2)
    print(f"exported {a.out} ({how}, {a.dtype}, {lm.config.num_hidden_layers} layers x {lm.config.hidden_size})")
    if a.check:
        check(lm, a.out, a.dtype)
    if a.decode_step:
        # The trace first; the dynamo exporter when the trace froze a shape (checked by decoding).
        for dynamo in (False, True):
            try:
                with tempfile.TemporaryDirectory() as tmp:
                    export_decode_step(copy.deepcopy(lm), os.path.join(tmp, "decode_step.onnx"), dynamo)
                    save_with_external_data(os.path.join(tmp, "decode_step.onnx"), os.path.join(a.out, "decode_step.onnx"))
                if check_decode_step(lm, a.out):
                    print(f"exported {a.out}/decode_step.onnx (dynamo={dynamo})")
                    break
            except Exception as e:  # noqa: BLE001 - try the other exporter
                print(f"decode step, dynamo={dynamo}: {str(e)[:400]}")
        else:
            raise SystemExit("decode step: neither exporter gave a step that decodes as PyTorch does")


if __name__ == "__main__":
    sys.exit(main())
