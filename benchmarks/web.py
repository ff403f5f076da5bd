"""Web load benchmark: latency and errors of the served platform under concurrent clients.

Starts `vipkb serve` (waitress) on a fresh knowledge base holding the bundled
models and simulators, and a bare `oxigraph serve` over the same quads, then
sends a fixed number of requests from 32 concurrent clients to: the model
catalog page, a model page, and one SPARQL query, the same query also going to
bare Oxigraph (the floor: no Flask, no limits, no content negotiation), and
three REST API calls of the VIP client (with an API key: pipelines, one
pipeline's parameters, a file-space listing).
Reports p50/p95 latency, throughput and errors side by side, and the ratio of
our endpoint to the bare one.

Usage: ``python benchmarks/web.py [--requests 400] [--clients 32]``.
Ratios matter, not absolute times: the machines are shared.
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pyoxigraph as ox

from vipkb import KnowledgeBase, Settings
from vipkb.accounts import AccountStore
from vipkb.namespaces import with_prefixes
from vipkb.pipelines import list_pipelines
from vipkb.sparql_examples import EXAMPLES


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait(url: str, process: subprocess.Popen, what: str) -> None:
    deadline = time.monotonic() + 120
    while True:
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                response.read()
            return
        except (urllib.error.URLError, OSError):
            if process.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"{what} did not start") from None
            time.sleep(0.2)


def _get(url: str, headers: dict[str, str]) -> tuple[float, bool]:
    started = time.perf_counter()
    try:
        with urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=60) as response:
            response.read()
            ok = response.status == 200
    except (urllib.error.URLError, OSError):
        ok = False
    return time.perf_counter() - started, ok


def load(url: str, *, requests: int, clients: int, headers: dict[str, str] | None = None) -> dict[str, float]:
    """Send ``requests`` GETs from ``clients`` threads; p50/p95 (ms), requests per second and errors."""
    with ThreadPoolExecutor(max_workers=clients) as pool:
        started = time.perf_counter()
        results = list(pool.map(lambda _: _get(url, headers or {}), range(requests)))
        wall = time.perf_counter() - started
    latencies = sorted(t for t, _ in results)
    return {"p50": 1000 * statistics.median(latencies), "p95": 1000 * latencies[int(0.95 * (len(latencies) - 1))],
            "rps": requests / wall, "errors": sum(not ok for _, ok in results)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=400)
    parser.add_argument("--clients", type=int, default=32)
    args = parser.parse_args()
    oxigraph = shutil.which("oxigraph") or str(Path(sys.executable).parent / "oxigraph")
    vipkb = str(Path(sys.executable).parent / "vipkb")
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        env = dict(os.environ, VIPKB_HOME=str(root / "kb"), VIPKB_FILES=str(root / "files"),
                   VIPKB_CACHE=str(root / "cache"), VIPKB_RUNS=str(root / "runs"),
                   VIPKB_INSTANCE=str(root / "instance"), VIPKB_ACCOUNTS=str(root / "accounts.sqlite"))
        print("initialising a knowledge base with the bundled data...", file=sys.stderr)
        # In a fresh `vipkb` process: run as a script, this file's folder shadows the `simulators` package.
        subprocess.run([vipkb, "init"], env=env, check=True, capture_output=True)
        accounts = AccountStore(root / "accounts.sqlite")
        accounts.create_user("bench", "user", "a long enough passphrase")
        api_key = {"apikey": accounts.issue_key("bench")[1]}
        with KnowledgeBase.open(Settings.from_env(env)) as kb:
            with open(root / "dump.nq", "wb") as f:
                kb.store.dump(f, ox.RdfFormat.N_QUADS)
            mri_version = next(p.version for p in list_pipelines(kb) if p.simulator == "mri")
        subprocess.run([oxigraph, "load", "--location", str(root / "ox"), "--file", str(root / "dump.nq")],
                       check=True, capture_output=True)
        ours_port, bare_port = _free_port(), _free_port()
        servers = [
            subprocess.Popen([vipkb, "serve", "--port", str(ours_port), "--threads", "8"], env=env,
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL),
            subprocess.Popen([oxigraph, "serve", "--location", str(root / "ox"), "--bind",
                              f"127.0.0.1:{bare_port}", "--union-default-graph"],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL),
        ]
        try:
            ours, bare = f"http://127.0.0.1:{ours_port}", f"http://127.0.0.1:{bare_port}"
            _wait(f"{ours}/models", servers[0], "vipkb serve")
            _wait(f"{bare}/query?query=ASK%7B%7D", servers[1], "oxigraph serve")
            query = urllib.parse.urlencode({"query": with_prefixes(EXAMPLES[0].query)})
            json_results = {"Accept": "application/sparql-results+json"}
            targets = [
                ("catalog page /models", f"{ours}/models", {}),
                ("model page /models/brain/v1", f"{ours}/models/brain/v1", {}),
                ("SPARQL 'models by organ' (vipkb /sparql)", f"{ours}/sparql?{query}", json_results),
                ("same query, bare oxigraph serve", f"{bare}/query?{query}", json_results),
                ("REST GET /rest/pipelines", f"{ours}/rest/pipelines", api_key),
                ("REST GET /rest/pipelines/mri/<version>", f"{ours}/rest/pipelines/mri/{mri_version}", api_key),
                ("REST file-space list /vip/Home", f"{ours}/rest/path/vip/Home?action=list", api_key),
            ]
            rows = []
            for name, url, headers in targets:
                load(url, requests=min(20, args.requests), clients=4, headers=headers)  # warm up
                rows.append((name, load(url, requests=args.requests, clients=args.clients, headers=headers)))
        finally:
            for server in servers:
                server.terminate()
                server.wait(timeout=30)
    print(f"\n{args.requests} requests from {args.clients} concurrent clients each (one run, shared machine)\n")
    print(f"{'target':<44} {'p50 ms':>8} {'p95 ms':>8} {'req/s':>8} {'errors':>7}")
    for name, r in rows:
        print(f"{name:<44} {r['p50']:8.1f} {r['p95']:8.1f} {r['rps']:8.1f} {r['errors']:7d}")
    ours_q, bare_q = rows[2][1], rows[3][1]
    print(f"\nvipkb /sparql vs bare oxigraph: p50 {ours_q['p50'] / bare_q['p50']:.2f}x, "
          f"p95 {ours_q['p95'] / bare_q['p95']:.2f}x, throughput {ours_q['rps'] / bare_q['rps']:.2f}x")


if __name__ == "__main__":
    main()
