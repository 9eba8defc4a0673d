"""Evaluation speed, hyrank vs ranx vs pytrec_eval, on the same files in the same run.

Called by `make bench` (see bench/run.py); prints one JSON object.
hyrank's side runs its release binary (`hyrank bench eval --json`); ranx's is
timed after a JIT warm-up on the same data; pytrec_eval is timed as it is.
The measure set is the one all three implement: ndcg, ndcg@{5,10,100}, mrr, map,
map@100, precision@{5,10,100}, recall@{10,100}, r-precision, bpref.
"""

import json
import os
import statistics
import subprocess
import sys
import time

HYRANK_METRICS = "ndcg,ndcg_cut_5,ndcg_cut_10,ndcg_cut_100,recip_rank,map,map_cut_100,P_5,P_10,P_100,recall_10,recall_100,Rprec,bpref"
RANX_METRICS = ["ndcg", "ndcg@5", "ndcg@10", "ndcg@100", "mrr", "map", "map@100", "precision@5", "precision@10",
                "precision@100", "recall@10", "recall@100", "r-precision", "bpref"]
TREC_MEASURES = {"ndcg", "ndcg_cut.5,10,100", "recip_rank", "map", "map_cut.100", "P.5,10,100", "recall.10,100", "Rprec", "bpref"}
PAIRS = [("ndcg", "ndcg"), ("ndcg_cut_10", "ndcg@10"), ("recip_rank", "mrr"), ("map", "map"), ("P_10", "precision@10"),
         ("recall_100", "recall@100"), ("Rprec", "r-precision"), ("bpref", "bpref")]


def timed(fn, repeat):
    times = []
    out = None
    for _ in range(repeat):
        t = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t)
    return out, min(times), statistics.median(times)


def main():
    hyrank, data, repeat = sys.argv[1], sys.argv[2], int(sys.argv[3]) if len(sys.argv) > 3 else 5
    qrels_path, run_path = os.path.join(data, "qrels.trec"), os.path.join(data, "run.trec")
    res = {}

    # hyrank: all measures and the shared subset.
    for key, metrics in (("hyrank_all", "all"), ("hyrank", HYRANK_METRICS)):
        out = subprocess.run([hyrank, "bench", "eval", "--dir", data, "--metrics", metrics, "--repeat", str(repeat), "--json"],
                             check=True, capture_output=True, text=True).stdout
        res[key] = json.loads(out)

    # ranx (numba): load, warm the JIT up on the same data, then time.
    from ranx import Qrels, Run, evaluate
    t = time.perf_counter()
    rq = Qrels.from_file(qrels_path, kind="trec")
    rr = Run.from_file(run_path, kind="trec")
    load = time.perf_counter() - t
    evaluate(rq, rr, RANX_METRICS)  # JIT warm-up
    # ranx stores results on the Run object: time fresh, prebuilt Run objects.
    runs = [Run(rr.to_dict()) for _ in range(repeat)]
    it = iter(runs)
    means, best, med = timed(lambda: evaluate(rq, next(it), RANX_METRICS), repeat)
    res["ranx"] = {"load_s": load, "evaluate_s": {"best": best, "median": med}, "means": {k: float(v) for k, v in means.items()}}

    # pytrec_eval (C++ trec_eval core).
    import pytrec_eval
    def load_trec():
        q, r = {}, {}
        with open(qrels_path) as f:
            for line in f:
                a = line.split()
                q.setdefault(a[0], {})[a[2]] = int(a[3])
        with open(run_path) as f:
            for line in f:
                a = line.split()
                r.setdefault(a[0], {})[a[2]] = float(a[4])
        return q, r
    (pq, pr), load_best, _ = timed(load_trec, 1)
    evaluator = pytrec_eval.RelevanceEvaluator(pq, TREC_MEASURES)
    per_q, best, med = timed(lambda: evaluator.evaluate(pr), repeat)
    names = ["ndcg", "ndcg_cut_10", "recip_rank", "map", "P_10", "recall_100", "Rprec", "bpref"]
    res["pytrec_eval"] = {"load_s": load_best, "evaluate_s": {"best": best, "median": med},
                          "means": {n: statistics.fmean(v[n] for v in per_q.values()) for n in names}}

    # Agreement on the shared measures.
    hm = res["hyrank"]["means"]
    res["agreement"] = {h: {"hyrank": hm[h], "ranx": res["ranx"]["means"][r], "pytrec_eval": res["pytrec_eval"]["means"][h]} for h, r in PAIRS}
    print(json.dumps(res))


if __name__ == "__main__":
    main()
