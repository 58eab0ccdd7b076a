"""pytheus + pytheus-backend-rs on the same Redis as promsd (bench/redis.mjs runs this).

  python pytheus_bench.py inc <port> <seconds> <series>   → {"incs": n, "seconds": s}
  python pytheus_bench.py scrape <port> <series> <runs>   → {"ms": [..]} generate_metrics() times
"""
import json
import sys
import time

from pytheus.backends import load_backend
from pytheus.exposition import generate_metrics
from pytheus.metrics import Counter
from pytheus_backend_rs import RedisBackend

mode, port = sys.argv[1], int(sys.argv[2])
load_backend(backend_class=RedisBackend, backend_config={"host": "127.0.0.1", "port": port})

if mode == "inc":
    seconds, series = float(sys.argv[3]), int(sys.argv[4])
    c = Counter("py_inc_total", "Increments.", required_labels=["k"])
    children = [c.labels({"k": str(i)}) for i in range(series)]
    n = 0
    t0 = time.perf_counter()
    end = t0 + seconds
    while time.perf_counter() < end:
        for ch in children[:100]:
            ch.inc()
        n += 100
        children = children[100:] + children[:100]
    dt = time.perf_counter() - t0
    time.sleep(3)  # let the backend's threads drain what they queued
    print(json.dumps({"incs": n, "seconds": dt}))
elif mode == "scrape":
    series, runs = int(sys.argv[3]), int(sys.argv[4])
    c = Counter("py_scrape_total", "Scrape.", required_labels=["k"])
    for i in range(series):
        c.labels({"k": str(i)}).inc()
    time.sleep(2)
    out = []
    for _ in range(runs + 1):
        t0 = time.perf_counter()
        text = generate_metrics()
        out.append((time.perf_counter() - t0) * 1000)
    lines = sum(1 for l in text.splitlines() if l.startswith("py_scrape_total{"))
    print(json.dumps({"ms": out[1:], "lines": lines}))
