"""A third-party simulator installed as its own package appears without touching the core.

The test writes a tiny wheel (a module and its entry point), installs it with
pip into a temporary target directory, and finds the simulator through the
``vipkb.simulators`` entry points: in this process (after
``refresh_simulators``) and in a fresh ``vipkb`` command.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest

from vipkb.simulation import get_simulator, list_simulators, refresh_simulators
from vipkb.simulation.runner import register_simulators, run_simulator

MODULE = '''
"""A proton-density map as an image: the smallest useful MR simulator."""
from dataclasses import dataclass

import nibabel as nib
import numpy as np

from vipkb.namespaces import UNIT, VIP
from vipkb.previews import slice_png
from vipkb.simulation import ParameterKey, SimulationParameters, SimulationResult, Simulator, parameter


@dataclass(frozen=True, kw_only=True)
class GainParameters(SimulationParameters):
    gain: float = parameter(2.0, doc="Receiver gain.", minimum=0.0, maximum=10.0, unit=UNIT.UNITLESS)


class PDMap(Simulator):
    name = "pd-map"
    label = "Proton density map"
    description = "Shows the proton density times a gain."
    version = "0.1"
    modality = VIP.MR
    requires = (VIP.ProtonDensity,)
    outputs = (VIP.Image, VIP.Preview)
    Parameters = GainParameters
    stochastic = False

    def run(self, instant, parameters, *, seed, progress=None):
        pd = instant.parameter_volume(ParameterKey("ProtonDensity")) * parameters.gain
        return SimulationResult(image=nib.Nifti1Image(pd, instant.affine), raw={}, preview=slice_png(pd))
'''


def _record_line(name: str, data: bytes) -> str:
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return f"{name},sha256={digest},{len(data)}"


def build_wheel(folder: Path) -> Path:
    """Write ``vipkb_pd_map-0.1-py3-none-any.whl`` by the wheel spec (PEP 427), no build backend needed."""
    info = "vipkb_pd_map-0.1.dist-info"
    members = {
        "vipkb_pd_map/__init__.py": MODULE.encode(),
        f"{info}/METADATA": b"Metadata-Version: 2.1\nName: vipkb-pd-map\nVersion: 0.1\n",
        f"{info}/WHEEL": b"Wheel-Version: 1.0\nGenerator: vipkb-tests\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
        f"{info}/entry_points.txt": b"[vipkb.simulators]\npd-map = vipkb_pd_map:PDMap\n",
    }
    record = [_record_line(n, d) for n, d in members.items()] + [f"{info}/RECORD,,"]
    members[f"{info}/RECORD"] = ("\n".join(record) + "\n").encode()
    wheel = folder / "vipkb_pd_map-0.1-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return wheel


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny plugin, installed by pip into a directory of its own."""
    tmp = tmp_path_factory.mktemp("plugin")
    target = tmp / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-index",
                    "--disable-pip-version-check", "--target", str(target), str(build_wheel(tmp))], check=True)
    return target


@pytest.fixture
def on_path(installed: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.syspath_prepend(str(installed))
    refresh_simulators()
    yield installed
    monkeypatch.undo()
    refresh_simulators()


def test_not_there_before_install():
    assert "pd-map" not in list_simulators()


def test_installed_plugin_is_found_described_and_run(on_path, empty_kb):
    from vipkb.catalog import list_simulators as catalog
    from vipkb.simulation import ModelInstant

    cls = get_simulator("pd-map")
    assert cls.__module__ == "vipkb_pd_map"
    result = register_simulators(empty_kb, {"pd-map": cls})
    assert len(result.written) == 1
    assert [s.label for s in catalog(empty_kb)] == ["Proton density map"]
    labels = np.zeros((4, 4, 2), dtype=np.uint8)
    labels[1:3, 1:3] = 1
    inst = ModelInstant.from_labels(labels, [("water", {"ProtonDensity [1]": 0.5})])
    image = run_simulator("pd-map", inst, {"gain": "4"}, seed=0).image
    assert image.get_fdata()[1, 1, 0] == pytest.approx(2.0)


def test_fresh_command_lists_the_plugin(installed, tmp_path):
    env = dict(os.environ, PYTHONPATH=str(installed), VIPKB_HOME=str(tmp_path / "kb"))
    out = subprocess.run([sys.executable, "-c", "from vipkb.cli import main; main()", "simulators", "--installed",
                          "--format", "json"], env=env, capture_output=True, text=True, check=True)
    listed = {s["id"]: s for s in json.loads(out.stdout)}
    assert listed["pd-map"]["modality"] == "MR" and {"mri", "ct", "radiography", "ultrasound", "pet"} <= set(listed)


def test_broken_plugin_warns_and_is_skipped(tmp_path, monkeypatch):
    info = tmp_path / "broken_sim-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: broken-sim\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text("[vipkb.simulators]\nbroken = no_such_module:Nothing\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    refresh_simulators()
    try:
        with pytest.warns(RuntimeWarning, match="'broken'.*failed to load"):
            found = list_simulators()
        assert "broken" not in found and "mri" in found
    finally:
        monkeypatch.undo()
        refresh_simulators()
