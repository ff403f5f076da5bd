"""Ontology, shapes and data are found from an installed wheel as well as from a checkout."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT
from vipkb.config import Settings
from vipkb.errors import ConfigurationError
from vipkb.resources import data_files, model_archives, ontology_files, resources_root, shape_files


def test_checkout_resources():
    assert resources_root() == ROOT
    assert [p.name for p in ontology_files()] == ["vip.ttl"]
    assert [p.name for p in shape_files()] == ["vip-shapes.ttl"]
    assert data_files() == []  # bundled models are archives, not loose annotations
    assert [p.name for p in model_archives()] == [
        "abdomen", "beating-heart", "brain", "brain-mr-only", "contrast-detail"]


def test_resources_setting_overrides(tmp_path):
    (tmp_path / "ontologies").mkdir()
    (tmp_path / "shapes").mkdir()
    assert resources_root(Settings(resources_dir=tmp_path)) == tmp_path
    with pytest.raises(ConfigurationError, match="VIPKB_RESOURCES"):
        resources_root(Settings(resources_dir=tmp_path / "missing"))


@pytest.mark.slow
def test_installed_wheel_carries_its_resources(tmp_path):
    wheels = tmp_path / "wheels"
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "-w", str(wheels), str(ROOT)],
                   check=True, capture_output=True)
    [wheel] = wheels.glob("vipkb-*.whl")
    site = tmp_path / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--target", str(site), str(wheel)],
                   check=True, capture_output=True)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith("VIPKB_")}
    env["PYTHONPATH"] = str(site)
    probe = ("import vipkb, vipkb.resources as r; print(vipkb.__file__); print(r.resources_root()); "
             "print(len(r.ontology_files()), len(r.shape_files()), len(r.model_archives()))")
    out = subprocess.run([sys.executable, "-c", probe], cwd=elsewhere, env=env, check=True,
                         capture_output=True, text=True).stdout.splitlines()
    assert Path(out[0]).is_relative_to(site)
    assert Path(out[1]) == site / "vipkb" / "_resources"
    n_onto, n_shapes, n_models = map(int, out[2].split())
    assert (n_onto, n_shapes) == (1, 1) and n_models == len(model_archives())
