"""Peer side of the vector benchmarks: faiss IndexFlatIP (exact) and hnswlib.

usage: vectors_peer.py DIR K M EF_CONSTRUCTION EF_SEARCH_LIST THREADS
Prints one JSON object. Same files, same k, M and ef as `hyrank bench vectors`.
"""

import json
import sys
import time

import faiss
import hnswlib
import numpy as np


def best_of(n, f):
    best, out = float("inf"), None
    for _ in range(n):
        t = time.perf_counter()
        out = f()
        best = min(best, time.perf_counter() - t)
    return best, out


def main():
    d, k, m, efc, efs, threads = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), sys.argv[5], int(sys.argv[6])
    base = np.load(f"{d}/base.npy")
    q = np.load(f"{d}/queries.npy")
    faiss.omp_set_num_threads(threads)
    flat = faiss.IndexFlatIP(base.shape[1])
    flat.add(base)
    secs, (_, ids) = best_of(3, lambda: flat.search(q, k))
    truth = [set(r[:10]) for r in ids]
    out = {"faiss_version": faiss.__version__, "exact": {"k": k, "seconds": secs, "qps": len(q) / secs, "threads": threads}}

    h = hnswlib.Index(space="ip", dim=base.shape[1])
    t = time.perf_counter()
    h.init_index(max_elements=len(base), M=m, ef_construction=efc, random_seed=100)
    h.set_num_threads(threads)
    h.add_items(base, np.arange(len(base)))
    build = time.perf_counter() - t
    h.set_num_threads(1)
    curve = []
    for ef in [int(x) for x in efs.split(",")]:
        h.set_ef(ef)
        secs, (labels, _) = best_of(3, lambda: h.knn_query(q, k=10, num_threads=1))
        rec = sum(len(truth[i] & set(labels[i])) for i in range(len(q))) / (10 * len(q))
        curve.append({"ef_search": ef, "qps": len(q) / secs, "recall_at_10": rec})
    out["hnsw"] = {"m": m, "ef_construction": efc, "build_s": build, "build_threads": threads, "search_threads": 1, "curve": curve}
    print(json.dumps(out))


if __name__ == "__main__":
    main()
