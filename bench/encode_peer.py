"""Peer side of the encoder benchmark: all-MiniLM-L6-v2 on onnxruntime (FP32).

usage: encode_peer.py MODEL_DIR TEXTS_FILE THREADS BATCH REPEAT ONNX_PATH [HYRANK_NPY]

The ONNX graph is exported once, from the same model.safetensors, by
`export()` below into ONNX_PATH (under out/, never committed). PyTorch is not
installable here (no PyTorch index; the PyPI wheel pulls 2-3 GB of CUDA
libraries), so the export writes BERT's forward pass with the ops
`torch.onnx.export` emits for it at opset 17 (Gather, LayerNormalization,
MatMul + Add, Softmax with an additive mask, Erf GELU); onnxruntime applies
its own graph optimisations on load (ORT_ENABLE_ALL). Tokenisation: the same
tokenizer.json through Hugging Face tokenizers, padded to the longest in the
batch, truncated at 256, as hyrank does; tokenisation and pooling are timed.
With HYRANK_NPY (hyrank embed's output for the same texts) the cosine between
the two implementations is reported too.
"""

import json
import os
import struct
import sys
import time

import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto, helper, numpy_helper
from tokenizers import Tokenizer


def load_safetensors(path):
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
        data = f.read()
    out = {}
    for name, meta in header.items():
        if name == "__metadata__" or meta["dtype"] != "F32":
            continue
        a, b = meta["data_offsets"]
        out[name.removeprefix("bert.")] = np.frombuffer(data[a:b], dtype="<f4").reshape(meta["shape"])
    return out


def export(model_dir, path):
    cfg = json.load(open(f"{model_dir}/config.json"))
    w = load_safetensors(f"{model_dir}/model.safetensors")
    H, heads, eps = cfg["hidden_size"], cfg["num_attention_heads"], cfg["layer_norm_eps"]
    d = H // heads
    inits, nodes = [], []

    def const(name, arr):
        inits.append(numpy_helper.from_array(np.asarray(arr), name))
        return name

    def node(op, ins, outs=None, **kw):
        outs = outs or [f"{op}_{len(nodes)}"]
        nodes.append(helper.make_node(op, ins, outs, **kw))
        return outs[0]

    def linear(x, prefix):
        wt = const(prefix + ".wT", w[prefix + ".weight"].T.copy())
        return node("Add", [node("MatMul", [x, wt]), const(prefix + ".b", w[prefix + ".bias"])])

    def ln(x, prefix):
        return node("LayerNormalization", [x, const(prefix + ".g", w[prefix + ".weight"]), const(prefix + ".b", w[prefix + ".bias"])], axis=-1, epsilon=eps)

    word = node("Gather", [const("wemb", w["embeddings.word_embeddings.weight"]), "input_ids"])
    seq = node("Gather", [node("Shape", ["input_ids"]), const("one_i", np.array(1, dtype=np.int64))])
    pos = node("Range", [const("zero_i", np.array(0, dtype=np.int64)), seq, const("step_i", np.array(1, dtype=np.int64))])
    pemb = node("Gather", [const("pemb", w["embeddings.position_embeddings.weight"]), pos])
    temb = node("Gather", [const("temb", w["embeddings.token_type_embeddings.weight"]), "token_type_ids"])
    x = ln(node("Add", [node("Add", [word, pemb]), temb]), "embeddings.LayerNorm")
    maskf = node("Cast", ["attention_mask"], to=TensorProto.FLOAT)
    bias = node("Mul", [node("Sub", [const("one_f", np.array(1.0, dtype=np.float32)), maskf]), const("neg", np.array(-10000.0, dtype=np.float32))])
    bias = node("Unsqueeze", [bias, const("ax12", np.array([1, 2], dtype=np.int64))])
    split = const("split_shape", np.array([0, 0, heads, d], dtype=np.int64))
    merge = const("merge_shape", np.array([0, 0, H], dtype=np.int64))
    scale = const("scale", np.array(1.0 / np.sqrt(d), dtype=np.float32))
    for i in range(cfg["num_hidden_layers"]):
        p = f"encoder.layer.{i}."
        q, k, v = (node("Reshape", [linear(x, p + "attention.self." + n), split]) for n in ("query", "key", "value"))
        q = node("Transpose", [q], perm=[0, 2, 1, 3])
        k = node("Transpose", [k], perm=[0, 2, 3, 1])
        v = node("Transpose", [v], perm=[0, 2, 1, 3])
        s = node("Add", [node("Mul", [node("MatMul", [q, k]), scale]), bias])
        ctx = node("MatMul", [node("Softmax", [s], axis=-1), v])
        ctx = node("Reshape", [node("Transpose", [ctx], perm=[0, 2, 1, 3]), merge])
        x = ln(node("Add", [x, linear(ctx, p + "attention.output.dense")]), p + "attention.output.LayerNorm")
        h = linear(x, p + "intermediate.dense")
        erf = node("Erf", [node("Div", [h, const(f"sqrt2_{i}", np.array(np.sqrt(2.0), dtype=np.float32))])])
        g = node("Mul", [node("Mul", [h, node("Add", [erf, const(f"one_g{i}", np.array(1.0, dtype=np.float32))])]), const(f"half_{i}", np.array(0.5, dtype=np.float32))])
        x = ln(node("Add", [x, linear(g, p + "output.dense")]), p + "output.LayerNorm")
    nodes.append(helper.make_node("Identity", [x], ["last_hidden_state"]))
    ins = [helper.make_tensor_value_info(n, TensorProto.INT64, ["batch", "seq"]) for n in ("input_ids", "attention_mask", "token_type_ids")]
    outs = [helper.make_tensor_value_info("last_hidden_state", TensorProto.FLOAT, ["batch", "seq", H])]
    model = helper.make_model(helper.make_graph(nodes, "minilm", ins, outs, inits), opset_imports=[helper.make_opsetid("", 17)])
    onnx.checker.check_model(model)
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    onnx.save(model, path)


def main():
    model_dir, texts_file, threads, batch, repeat, onnx_path = sys.argv[1:7]
    threads, batch, repeat = int(threads), int(batch), int(repeat)
    if not os.path.exists(onnx_path):
        export(model_dir, onnx_path)
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
