"""Peer side of the BM25 benchmark: tantivy-py and bm25s over the same catalogue.

usage: bm25_peer.py CATALOG_NDJSON QUERIES_TSV N K INDEX_DIR
Same fields as hyrank's BM25 index (id stored; title, description, brand and
category path with the en_stem tokenizer), the same per-field boosts (title 2,
description 0.5, brand 1.5, category 1), lenient parsing of the query text
(OR of terms, as hyrank's parser), top-K with the stored id of every hit
read back, one query at a time: once from the doc store (as tantivy-py's
API offers), once from a Python dict of (segment, doc) -> id built after
opening (as hyrank keeps its ids in memory). Prints one JSON object with the latency
percentiles and the build time. bm25s (numpy/scipy BM25, English stemmer and
stop words) gets the concatenated fields as one text, no boosts; top-K ids,
one query at a time.
"""

import json
import shutil
import sys
import time

import tantivy


def main():
    catalog, queries_file, n, k, index_dir = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
    sb = tantivy.SchemaBuilder()
    sb.add_text_field("id", stored=True, tokenizer_name="raw")
    for f in ("title", "description", "brand", "category"):
        sb.add_text_field(f, stored=(f == "title"), tokenizer_name="en_stem")
    schema = sb.build()
    shutil.rmtree(index_dir, ignore_errors=True)
    import os

    os.makedirs(index_dir)
    index = tantivy.Index(schema, path=index_dir)
    t = time.perf_counter()
    w = index.writer(100_000_000)
    docs = 0
    for line in open(catalog, encoding="utf-8"):
        p = json.loads(line)
        w.add_document(tantivy.Document(id=p["id"], title=p["title"], description=p.get("description", ""),
                                        brand=p.get("brand") or "", category=" ".join(p.get("category", []))))
        docs += 1
    w.commit()
    w.wait_merging_threads()
    build = time.perf_counter() - t
    index.reload()
    searcher = index.searcher()
    qs = [l.split("\t", 1)[1] for l in open(queries_file, encoding="utf-8").read().splitlines()[:n]]
    boosts = {"title": 2.0, "description": 0.5, "brand": 1.5, "category": 1.0}

    def one(text):
        q, _errors = index.parse_query_lenient(text, ["title", "description", "brand", "category"], field_boosts=boosts)
        hits = searcher.search(q, k).hits
        return [searcher.doc(addr)["id"][0] for _, addr in hits]

    def timed(search):
        """Latency percentiles of `search` over the queries, after 20 warm-up calls."""
        for q in qs[:20]:
            search(q)
        ms = []
        for q in qs:
            t = time.perf_counter()
            search(q)
            ms.append((time.perf_counter() - t) * 1000)
        ms.sort()
        pct = lambda p: ms[round((len(ms) - 1) * p)]
        return {"p50_ms": pct(0.5), "p99_ms": pct(0.99), "mean_ms": sum(ms) / len(ms)}

    out = {"docs": docs, "build_s": build, "queries": len(qs), "k": k, **timed(one)}

    # The same searches with the ids read from memory.
    t = time.perf_counter()
    table = {(a.segment_ord, a.doc): searcher.doc(a)["id"][0]
             for _, a in searcher.search(tantivy.Query.all_query(), searcher.num_docs).hits}
    table_s = time.perf_counter() - t

    def one_table(text):
        q, _errors = index.parse_query_lenient(text, ["title", "description", "brand", "category"], field_boosts=boosts)
        return [table[(a.segment_ord, a.doc)] for _, a in searcher.search(q, k).hits]

    for q in qs[:20]:
        assert one_table(q) == one(q)
    out["id_table"] = {"build_s": table_s, **timed(one_table)}

    import bm25s
    import Stemmer

    stemmer = Stemmer.Stemmer("english")
    ids, corpus = [], []
    for line in open(catalog, encoding="utf-8"):
        p = json.loads(line)
        ids.append(p["id"])
        corpus.append(" ".join([p["title"], p.get("description", ""), p.get("brand") or "", " ".join(p.get("category", []))]))
    t = time.perf_counter()
    retriever = bm25s.BM25()
    retriever.index(bm25s.tokenize(corpus, stopwords="en", stemmer=stemmer, show_progress=False), show_progress=False)
    bbuild = time.perf_counter() - t

    def two(text):
        toks = bm25s.tokenize([text], stopwords="en", stemmer=stemmer, show_progress=False)
        docs, _ = retriever.retrieve(toks, k=k, show_progress=False, n_threads=1)
        return [ids[i] for i in docs[0]]

    out["bm25s"] = {"build_s": bbuild, **timed(two)}
    print(json.dumps(out))


if __name__ == "__main__":
    main()
