"""`vipkb serve`: the platform under waitress on loopback, as `make run` starts it."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_serve_answers_over_http(initialised, tmp_path):
    port = _free_port()
    server = subprocess.Popen([str(Path(sys.executable).parent / "vipkb"), "serve", "--port", str(port)],
                              env=dict(os.environ), cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                              text=True)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/models", timeout=5) as response:
                    page = response.read().decode()
                    server_header = response.headers["Server"]
                break
            except OSError:
                assert server.poll() is None and time.monotonic() < deadline, server.stdout.read()
                time.sleep(0.2)
        assert "beating-heart" in page and server_header == "vipkb"  # waitress, not Flask's development server
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/models/brain/preview.png?layer=anatomy") as png:
            assert png.headers["Content-Type"] == "image/png" and png.read(8) == b"\x89PNG\r\n\x1a\n"
    finally:
        server.terminate()
        output, _ = server.communicate(timeout=20)
    assert f"serving on http://127.0.0.1:{port}/" in output
