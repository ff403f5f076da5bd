"""The bundled models are generated deterministically and match what is committed."""

from __future__ import annotations

import hashlib
import runpy
from pathlib import Path

from tests.conftest import ROOT


def _digests(root: Path) -> dict[str, str]:
    return {p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


def test_generator_reproduces_the_committed_models_byte_for_byte(tmp_path):
    generate = runpy.run_path(str(ROOT / "data" / "generate.py"))
    generate["main"](tmp_path / "a")
    generate["main"](tmp_path / "b")
    first, second = _digests(tmp_path / "a"), _digests(tmp_path / "b")
    assert first == second
    assert first == _digests(ROOT / "data" / "models")
    assert len({name.split("/")[0] for name in first}) == 5
