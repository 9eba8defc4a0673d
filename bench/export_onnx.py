"""Exports all-MiniLM-L6-v2 to ONNX with PyTorch, once, for the encoder benchmark.

usage: export_onnx.py MODEL_DIR OUT_PATH

The model is Hugging Face transformers' BertModel over the same folder hyrank
loads (model.safetensors, config.json); `torch.onnx.export` (the TorchScript
exporter, opset 17) traces it with a padded batch, so the attention-mask path
is in the graph, and with dynamic batch and sequence axes. The output is the
last hidden state; bench/encode_peer.py pools and normalises it. The file goes
to OUT_PATH (under out/, never committed), written whole or not at all.
"""

import os
import sys

import torch
from transformers import AutoModel


class Encoder(torch.nn.Module):
    """BertModel called by keyword (its positional order differs across transformers versions)."""

    def __init__(self, bert):
        super().__init__()
        self.bert = bert

    def forward(self, input_ids, attention_mask, token_type_ids):
        out = self.bert(input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids)
        return out.last_hidden_state


def main():
    model_dir, out = sys.argv[1:3]
    model = AutoModel.from_pretrained(model_dir, attn_implementation="eager").eval()
    ids = torch.ones(2, 8, dtype=torch.long)
    mask = torch.ones_like(ids)
    mask[1, 5:] = 0  # trace with padding, so the mask path is recorded
    names = ["input_ids", "attention_mask", "token_type_ids"]
    axes = {n: {0: "batch", 1: "seq"} for n in names + ["last_hidden_state"]}
    os.makedirs(os.path.dirname(out) or ".", exist_ok=True)
    tmp = out + ".tmp"
    with torch.no_grad():
        torch.onnx.export(Encoder(model), (ids, mask, torch.zeros_like(ids)), tmp, input_names=names,
                          output_names=["last_hidden_state"], dynamic_axes=axes, opset_version=17, dynamo=False)
    os.replace(tmp, out)
    print(f"torch {torch.__version__}, transformers {__import__('transformers').__version__}: wrote {out}")


if __name__ == "__main__":
    main()
