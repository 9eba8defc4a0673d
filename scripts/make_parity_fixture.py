"""Reference embeddings for the encoder parity test, from an independent
implementation: BERT's forward pass written in numpy over the same
safetensors weights (read without the safetensors package), mean pooling and
L2 normalisation as sentence-transformers does. Only tokenisation is shared
(Hugging Face `tokenizers`, the same tokenizer.json).

Usage: bench/.venv/bin/python scripts/make_parity_fixture.py models/all-MiniLM-L6-v2 index/tests/fixtures/minilm_parity.json
Needs numpy and tokenizers (both in bench/requirements.txt).
"""

import hashlib
import json
import math
import struct
import sys

import numpy as np
from tokenizers import Tokenizer

SENTENCES = [
    "grey velvet sofa",
    "couch",
    "Kalo Modern Sofa in Grey Velvet (3-seater)",
    "stainless steel electric kettle 1.7 litre",
    "water boiler",
    "KA-1240 kettle",
    "brass floor lamp 60-inch",
    "standing lamp",
    "queen size cotton sheet set",
    "bed linen",
    "wireless over-ear headphones with noise cancelling",
    "cheap hdmi cable 6 ft",
    "av lead",
    "patio umbrella 9 ft olefin",
    "parasol",
    "A quick brown fox jumps over the lazy dog.",
    "How do I clean a cast iron skillet?",
    "Découvrez notre sélection de canapés",
    "",
    "The quick brown fox jumps over the lazy dog. " * 40,
]


def load_safetensors(path):
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
        data = f.read()
    out = {}
    for name, meta in header.items():
        if name == "__metadata__":
            continue
        if meta["dtype"] != "F32":  # e.g. embeddings.position_ids (I64): not a weight
            continue
        a, b = meta["data_offsets"]
        out[name] = np.frombuffer(data[a:b], dtype="<f4").reshape(meta["shape"]).astype(np.float64)
    return out


def layer_norm(x, w, b, eps):
    mu = x.mean(-1, keepdims=True)
    var = ((x - mu) ** 2).mean(-1, keepdims=True)
    return (x - mu) / np.sqrt(var + eps) * w + b


def gelu(x):
    erf = np.vectorize(math.erf)
    return 0.5 * x * (1.0 + erf(x / math.sqrt(2.0)))


def encode(w, cfg, ids):
    p = lambda n: w[n] if n in w else w["bert." + n]
    h, heads = cfg["hidden_size"], cfg["num_attention_heads"]
    d = h // heads
    eps = cfg["layer_norm_eps"]
    x = p("embeddings.word_embeddings.weight")[ids] + p("embeddings.position_embeddings.weight")[: len(ids)] + p("embeddings.token_type_embeddings.weight")[0]
    x = layer_norm(x, p("embeddings.LayerNorm.weight"), p("embeddings.LayerNorm.bias"), eps)
    for i in range(cfg["num_hidden_layers"]):
        pre = f"encoder.layer.{i}."
        lin = lambda t, n: t @ p(pre + n + ".weight").T + p(pre + n + ".bias")
        q, k, v = (lin(x, "attention.self." + n).reshape(len(ids), heads, d).transpose(1, 0, 2) for n in ("query", "key", "value"))
        s = q @ k.transpose(0, 2, 1) / math.sqrt(d)
        s = np.exp(s - s.max(-1, keepdims=True))
        s /= s.sum(-1, keepdims=True)
        ctx = (s @ v).transpose(1, 0, 2).reshape(len(ids), h)
        x = layer_norm(x + lin(ctx, "attention.output.dense"), p(pre + "attention.output.LayerNorm.weight"), p(pre + "attention.output.LayerNorm.bias"), eps)
        inter = gelu(lin(x, "intermediate.dense"))
        x = layer_norm(x + lin(inter, "output.dense"), p(pre + "output.LayerNorm.weight"), p(pre + "output.LayerNorm.bias"), eps)
    pooled = x.mean(0)
    return pooled / max(np.linalg.norm(pooled), 1e-12)


def main():
    model_dir, out = sys.argv[1], sys.argv[2]
    cfg = json.load(open(f"{model_dir}/config.json"))
    w = load_safetensors(f"{model_dir}/model.safetensors")
    tok = Tokenizer.from_file(f"{model_dir}/tokenizer.json")
    tok.no_padding()
    tok.enable_truncation(256)
    embs = [encode(w, cfg, np.array(tok.encode(s).ids)).round(7).tolist() for s in SENTENCES]
    sha = hashlib.sha256(open(f"{model_dir}/model.safetensors", "rb").read()).hexdigest()
    json.dump({"model_sha256": sha, "made_by": "scripts/make_parity_fixture.py (numpy BERT forward)", "max_tokens": 256,
               "sentences": SENTENCES, "embeddings": embs}, open(out, "w"))
    print(f"wrote {len(SENTENCES)} reference embeddings to {out}")


if __name__ == "__main__":
    main()
