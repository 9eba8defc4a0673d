"""Latency and throughput of `hyrank serve` over HTTP (no peer: hyrank only).

Starts `hyrank serve` on a free loopback port over INDEX, sends the first N
queries of QUERIES (`id<TAB>text`) as `GET /search` from C client threads
(keep-alive connections, standard library only), and prints JSON: requests/s
and latency percentiles per mode, as the client sees them (HTTP, JSON and
the search), plus the server's own `took_ms`.

usage: api_load.py HYRANK INDEX QUERIES N CONCURRENCY [MODEL_DIR]
"""
import http.client
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse


def pct(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(p / 100 * (len(xs) - 1))))]


def main():
    hyrank, index, queries, n, conc = sys.argv[1:6]
    n, conc = int(n), int(conc)
    model = sys.argv[6] if len(sys.argv) > 6 else None
    texts = []
    with open(queries, encoding="utf-8") as f:
        for line in f:
            parts = line.rstrip("\n").split("\t", 1)
            if len(parts) == 2 and parts[1].strip():
                texts.append(parts[1])
            if len(texts) == n:
                break
    ready = os.path.join(tempfile.mkdtemp(), "url")
    cmd = [hyrank, "serve", "--index", index, "--addr", "127.0.0.1:0", "--ready-file", ready, "--watch", "0"]
    if model:
        cmd += ["--model-dir", model]
    server = subprocess.Popen(cmd, stderr=subprocess.DEVNULL)
    try:
        t0 = time.time()
        while not os.path.exists(ready):
            if server.poll() is not None or time.time() - t0 > 120:
                sys.exit("hyrank serve did not start")
            time.sleep(0.05)
        host, port = open(ready).read().strip().removeprefix("http://").rsplit(":", 1)
        out = {"queries": len(texts), "concurrency": conc, "modes": {}}
        for mode in ["bm25", "dense", "hybrid"]:
            lat, took, lock = [], [], threading.Lock()
            todo = iter(range(len(texts)))

            def client():
                c = http.client.HTTPConnection(host, int(port))
                while True:
                    with lock:
                        i = next(todo, None)
                    if i is None:
                        break
                    q = urllib.parse.urlencode({"q": texts[i], "mode": mode, "k": 10})
                    t = time.perf_counter()
                    c.request("GET", "/search?" + q)
                    r = c.getresponse()
                    body = json.loads(r.read())
                    dt = (time.perf_counter() - t) * 1000
                    if r.status != 200:
                        sys.exit(f"{mode} {texts[i]!r}: {r.status} {body}")
                    with lock:
                        lat.append(dt)
                        took.append(body["took_ms"])

            # Warm-up: the first 20 queries, not counted.
            c = http.client.HTTPConnection(host, int(port))
            for q in texts[:20]:
                c.request("GET", "/search?" + urllib.parse.urlencode({"q": q, "mode": mode}))
                c.getresponse().read()
            threads = [threading.Thread(target=client) for _ in range(conc)]
            t = time.perf_counter()
            for th in threads:
                th.start()
            for th in threads:
                th.join()
            wall = time.perf_counter() - t
            out["modes"][mode] = {
                "requests_per_s": len(lat) / wall,
                "p50_ms": pct(lat, 50), "p99_ms": pct(lat, 99), "mean_ms": statistics.mean(lat),
                "server_took_p50_ms": pct(took, 50),
            }
        print(json.dumps(out))
    finally:
        server.terminate()
        server.wait()


if __name__ == "__main__":
    main()
