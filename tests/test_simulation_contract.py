"""One contract suite over every registered simulator: description, parameters, outputs, determinism.

A simulator registered through the entry points is tested here the moment
it is installed.
"""

from __future__ import annotations

import gzip
import io
import json
from dataclasses import FrozenInstanceError

import nibabel as nib
import numpy as np
import pytest
from PIL import Image

from vipkb.errors import ParameterError, SimulationError, UnknownSimulatorError
from vipkb.namespaces import VIP
from vipkb.simulation import ModelInstant, ParameterKey, get_simulator, list_simulators
from vipkb.simulation.describe import describe, simulator_iri
from vipkb.simulation.runner import register_simulators, run_simulator

NAMES = sorted(list_simulators())


def test_builtins_are_registered():
    builtins = ("mri", "ct", "radiography", "ultrasound", "pet")
    assert set(builtins) <= set(NAMES)
    assert {get_simulator(n).modality for n in builtins} == {VIP.MR, VIP.CT, VIP.XRay, VIP.Ultrasound, VIP.PET}


def test_unknown_simulator_lists_the_installed_ones():
    with pytest.raises(UnknownSimulatorError, match="installed: .*mri.*vipkb.simulators"):
        get_simulator("spect")


@pytest.mark.parametrize("name", NAMES)
def test_description_mirrors_the_class(name):
    cls = get_simulator(name)
    graph = describe(cls)
    iri = simulator_iri(name)
    assert (iri, VIP.simulatesModality, cls.modality) in graph
    assert {str(o) for o in graph.objects(iri, VIP.requiresParameterKind)} == {str(k) for k in cls.requires}
    names = {str(o) for p in graph.objects(iri, VIP.hasParameter) for o in graph.objects(p, VIP.parameterName)}
    assert names == {s.name for s in cls.Parameters.specs()}
    assert {VIP.Image, VIP.Preview} <= set(cls.outputs)


@pytest.mark.parametrize("name", NAMES)
def test_parameters_are_frozen_and_checked(name):
    cls = get_simulator(name)
    defaults = cls.Parameters()
    with pytest.raises(FrozenInstanceError):
        defaults.__setattr__(cls.Parameters.specs()[0].name, 1)
    assert cls.Parameters.from_mapping(defaults.as_dict()) == defaults
    with pytest.raises(ParameterError, match="unknown parameter.*this simulator takes"):
        cls.Parameters.from_mapping({"no_such_thing": "1"})
    for spec in cls.Parameters.specs():
        if spec.maximum is not None:
            with pytest.raises(ParameterError, match=f"{spec.name} = .* above the maximum"):
                cls.Parameters.from_mapping({spec.name: spec.maximum * 2 + 1})
        if spec.choices:
            with pytest.raises(ParameterError, match="is not one of"):
                cls.Parameters.from_mapping({spec.name: "no-such-choice"})


def test_descriptions_pass_the_shapes_and_reach_the_catalog(empty_kb):
    from vipkb.catalog import list_simulators as catalog

    first = register_simulators(empty_kb)
    assert len(first.written) == len(NAMES)
    again = register_simulators(empty_kb)
    assert not again.written and len(again.skipped) == len(NAMES)
    listed = {s.id: s for s in catalog(empty_kb)}
    assert set(listed) == set(NAMES)
    assert listed["mri"].parameters == len(get_simulator("mri").Parameters.specs())


@pytest.mark.slow
@pytest.mark.parametrize("name", NAMES)
def test_outputs_and_determinism(name, phantom):
    cls = get_simulator(name)
    first = run_simulator(name, phantom, seed=7)
    files = first.files()
    assert files == run_simulator(name, phantom, seed=7).files()  # same inputs, same seed, same bytes
    if cls.stochastic:
        assert files["image.nii.gz"] != run_simulator(name, phantom, seed=8).files()["image.nii.gz"]
    image = nib.Nifti1Image.from_bytes(gzip.decompress(files["image.nii.gz"]))
    assert image.ndim == 3 and np.all(np.isfinite(image.get_fdata()))
    assert np.linalg.det(image.affine[:3, :3]) != 0
    png = Image.open(io.BytesIO(files["preview.png"]))
    assert png.format == "PNG" and min(png.size) >= 64
    meta = json.loads(files["metadata.json"])
    produced = {r["kind"] for r in meta["raw"].values()}
    assert produced and produced <= {str(k) for k in cls.outputs} - {str(VIP.Image), str(VIP.Preview)}
    for raw_name in first.raw:
        assert np.load(io.BytesIO(files[f"{raw_name}.npy"])).shape == first.raw[raw_name].array.shape


@pytest.mark.parametrize("name", NAMES)
def test_a_tissue_without_the_needed_values_is_named(name):
    labels = np.zeros((8, 8, 2), dtype=np.uint8)
    labels[2:6, 2:6] = 1
    bare = ModelInstant.from_labels(labels, [("mystery", {"SpeedOfSound [m/s]": 1540.0})], source="bare phantom")
    with pytest.raises(SimulationError, match="bare phantom.*mystery"):
        run_simulator(name, bare, seed=0)


def test_bad_seed_and_parameters_fail_before_running(phantom):
    with pytest.raises(ParameterError, match="seed"):
        run_simulator("mri", phantom, seed=-1)
    with pytest.raises(ParameterError, match="not a valid float"):
        run_simulator("mri", phantom, {"te": "ten"}, seed=0)


def test_instant_layers_overlay_and_parameter_maps(tmp_path):
    from vipkb.models.archive import read_archive
    from vipkb.resources import model_archives

    brain = next(p for p in model_archives() if p.name == "brain")
    inst = ModelInstant.from_archive(read_archive(brain))
    names = [t.name for t in inst.tissues]
    assert names[-1] == "glioma" and inst.voxel_size == (1.0, 1.0, 1.0)
    assert np.count_nonzero(inst.tissue_index == len(names)) > 0  # the tumour layer is drawn over the anatomy
    t1 = inst.parameter_volume(ParameterKey("T1", field_strength=3.0))
    assert t1[inst.tissue_index == names.index("white") + 1].max() == 1084
    with pytest.raises(SimulationError, match="T1@7T.*T1@1.5T, T1@3T"):
        inst.parameter_volume(ParameterKey("T1", field_strength=7.0))
    with pytest.raises(SimulationError, match="no instant 0/3"):
        ModelInstant.from_archive(read_archive(brain), instant=3)
