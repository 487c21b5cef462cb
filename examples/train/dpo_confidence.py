"""Conservative DPO on a prefrank output folder (arXiv 2503.10093, Method 3).

Reads OUT/data/*.parquet (columns prompt, chosen, rejected, confidence) and trains with TRL's
DPOTrainer, using per-example label smoothing eps_i = 1 - confidence_i in the conservative DPO
loss (cDPO, Mitchell 2023):  loss_i = -(1 - eps_i) log s(b d_i) - eps_i log s(-b d_i).
TRL takes one `label_smoothing` per run, so the subclass below keeps the confidence column in the
batch and applies it per example.

Not run in prefrank's CI (no PyPI there). Tested against trl 0.12-0.19's DPOTrainer API:
  pip install "trl>=0.12,<0.20" transformers datasets pyarrow
  python dpo_confidence.py OUT --model Qwen/Qwen2.5-0.5B-Instruct --output-dir dpo-out
"""
import argparse
import glob
import os

import torch
import torch.nn.functional as F
from datasets import load_dataset
from transformers import AutoModelForCausalLM, AutoTokenizer
from trl import DPOConfig, DPOTrainer


class ConfidenceDPOTrainer(DPOTrainer):
    """DPOTrainer with per-example label smoothing 1 - confidence (sigmoid loss only)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._confidence = None
        # TRL's preference collator keeps only the columns it knows: add the confidence back.
        base = self.data_collator

        def collate(examples):
            batch = base(examples)
            batch["confidence"] = torch.tensor([float(e["confidence"]) for e in examples])
            return batch

        self.data_collator = collate

    def concatenated_forward(self, model, batch, *args, **kwargs):
        # The collator passes extra columns through; remember this batch's confidences.
        if "confidence" in batch:
            self._confidence = batch["confidence"]
        return super().concatenated_forward(model, batch, *args, **kwargs)

    def dpo_loss(self, chosen_logps, rejected_logps, ref_chosen_logps, ref_rejected_logps, *args, **kwargs):
        if self._confidence is None:
            return super().dpo_loss(chosen_logps, rejected_logps, ref_chosen_logps, ref_rejected_logps, *args, **kwargs)
        # A pair kept with confidence below 0.5 (its label is doubtful, but no swap fit prefrank's
        # damage budget) gets eps 0.5: it pulls neither way.
        eps = (1.0 - self._confidence.to(chosen_logps.device, chosen_logps.dtype)).clamp(0.0, 0.5)
        logits = (chosen_logps - rejected_logps) - (ref_chosen_logps - ref_rejected_logps)
        beta = self.beta
        losses = -F.logsigmoid(beta * logits) * (1 - eps) - F.logsigmoid(-beta * logits) * eps
        chosen_rewards = beta * (chosen_logps - ref_chosen_logps).detach()
        rejected_rewards = beta * (rejected_logps - ref_rejected_logps).detach()
        return losses, chosen_rewards, rejected_rewards


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("folder", help="prefrank rerank output folder")
    ap.add_argument("--model", required=True)
    ap.add_argument("--output-dir", default="dpo-out")
    ap.add_argument("--beta", type=float, default=0.1)
    args = ap.parse_args()

    files = sorted(glob.glob(os.path.join(args.folder, "data", "*.parquet")))
    ds = load_dataset("parquet", data_files=files, split="train")
    ds = ds.select_columns(["prompt", "chosen", "rejected", "confidence"])
    ds = ds.map(lambda r: {"confidence": 1.0 if r["confidence"] is None else float(r["confidence"])})

    tok = AutoTokenizer.from_pretrained(args.model)
    model = AutoModelForCausalLM.from_pretrained(args.model, torch_dtype=torch.bfloat16)
    cfg = DPOConfig(output_dir=args.output_dir, beta=args.beta, loss_type="sigmoid", remove_unused_columns=False,
                    per_device_train_batch_size=4, gradient_accumulation_steps=4, num_train_epochs=1, logging_steps=10)
    trainer = ConfidenceDPOTrainer(model=model, args=cfg, train_dataset=ds, processing_class=tok)
    trainer.train()
    trainer.save_model(args.output_dir)


if __name__ == "__main__":
    main()
