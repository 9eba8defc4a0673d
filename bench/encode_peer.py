"""Peer side of the encoder benchmark: all-MiniLM-L6-v2 on onnxruntime (FP32).

usage: encode_peer.py MODEL_DIR TEXTS_FILE THREADS BATCH REPEAT ONNX_PATH [HYRANK_NPY]

ONNX_PATH is the graph bench/export_onnx.py exported once with PyTorch from
the same model folder (bench/run.py makes it when absent); onnxruntime applies
its own graph optimisations on load (ORT_ENABLE_ALL: attention, GELU and
layer-norm fusions). Tokenisation: the same tokenizer.json through Hugging Face
tokenizers, padded to the longest in the batch, truncated at 256, as hyrank
does; tokenisation and pooling are timed. With HYRANK_NPY (hyrank embed's
output for the same texts) the cosine between the two implementations is
reported too.
"""

import json
import os
import sys
import time

import numpy as np
import onnxruntime as ort
from tokenizers import Tokenizer


def main():
    model_dir, texts_file, threads, batch, repeat, onnx_path = sys.argv[1:7]
    threads, batch, repeat = int(threads), int(batch), int(repeat)
    texts = open(texts_file, encoding="utf-8").read().splitlines()
    tok = Tokenizer.from_file(f"{model_dir}/tokenizer.json")
    tok.enable_truncation(256)
    tok.enable_padding()  # pad to the longest in the batch
    so = ort.SessionOptions()
    so.intra_op_num_threads = threads
    so.inter_op_num_threads = 1
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    sess = ort.InferenceSession(onnx_path, so, providers=["CPUExecutionProvider"])

    def encode(batch_texts):
        enc = tok.encode_batch(batch_texts)
        ids = np.array([e.ids for e in enc], dtype=np.int64)
        mask = np.array([e.attention_mask for e in enc], dtype=np.int64)
        out = sess.run(None, {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)})[0]
        m = mask[..., None].astype(np.float32)
        pooled = (out * m).sum(1) / np.maximum(m.sum(1), 1e-9)
        return pooled / np.maximum(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12)

    def run():
        return np.concatenate([encode(texts[i:i + batch]) for i in range(0, len(texts), batch)])

    encode(texts[:batch])  # warm-up
    best, vecs = float("inf"), None
    for _ in range(repeat):
        t = time.perf_counter()
        vecs = run()
        best = min(best, time.perf_counter() - t)
    # The same, with the texts sorted by token count before batching (what
    # sentence-transformers' encode() does), so batches carry little padding.
    def run_sorted():
        lens = [len(e.ids) for e in tok_plain.encode_batch(texts)]
        order = np.argsort(lens, kind="stable")
        vecs = np.concatenate([encode([texts[j] for j in order[i:i + batch]]) for i in range(0, len(texts), batch)])
        out = np.empty_like(vecs)
        out[order] = vecs
        return out

    tok_plain = Tokenizer.from_file(f"{model_dir}/tokenizer.json")
    tok_plain.enable_truncation(256)
    tok_plain.no_padding()
    best_sorted = float("inf")
    for _ in range(repeat):
        t = time.perf_counter()
        vs = run_sorted()
        best_sorted = min(best_sorted, time.perf_counter() - t)
    lens = [len(e.ids) for e in tok_plain.encode_batch(texts)]
    padded = sum(max(lens[i:i + batch]) * len(lens[i:i + batch]) for i in range(0, len(lens), batch))
    out = {"onnxruntime_version": ort.__version__, "sentences": len(texts), "batch_size": batch, "threads": threads,
           "seconds": best, "sentences_per_s": len(texts) / best,
           "sorted_seconds": best_sorted, "sorted_sentences_per_s": len(texts) / best_sorted,
           "sorted_max_abs_diff": float(np.abs(vs - vecs).max()),
           "tokens": sum(lens), "padded_tokens_in_order": padded}
    if len(sys.argv) > 7 and os.path.exists(sys.argv[7]):
        ours = np.load(sys.argv[7])
        cos = (ours * vecs).sum(1)
        out["min_cosine_vs_hyrank"] = float(cos.min())
    print(json.dumps(out))


if __name__ == "__main__":
    main()
