"""`vipkb serve`: the platform under waitress on loopback, as `make run` starts it."""

from __future__ import annotations

import urllib.request

from tests.web.conftest import serve_process


def test_serve_answers_over_http(initialised, tmp_path):
    with serve_process(tmp_path) as served:
        with urllib.request.urlopen(f"{served.url}/models", timeout=5) as response:
            page = response.read().decode()
            server_header = response.headers["Server"]
        assert "beating-heart" in page and server_header == "vipkb"  # waitress, not Flask's development server
        with urllib.request.urlopen(f"{served.url}/models/brain/preview.png?layer=anatomy") as png:
            assert png.headers["Content-Type"] == "image/png" and png.read(8) == b"\x89PNG\r\n\x1a\n"
    assert f"serving on {served.url}/" in served.output
