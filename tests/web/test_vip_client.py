"""The official VIP Python client (vip-client 0.1.10, unmodified) against `vipkb serve` on loopback.

A full ``VipSession``: handshake with an API key, upload a model archive,
launch a simulation of it, monitor it to ``Finished``, download the outputs,
open the NIfTI image, finish (the session folder is deleted on the server).
"""

from __future__ import annotations

import gzip
import os
from pathlib import Path

import nibabel as nib
import pytest
from vip_client import VipSession

from tests.test_model_repository import archive_files
from tests.web.conftest import PASSWORD, serve_process, zip_bytes
from vipkb.accounts import AccountStore
from vipkb.pipelines import list_pipelines


@pytest.mark.slow
def test_vip_session_round_trip(initialised, tmp_path, monkeypatch):
    monkeypatch.setenv("VIPKB_HOMES", str(tmp_path / "homes"))
    monkeypatch.setenv("VIPKB_RUN_BACKEND", "local")
    monkeypatch.setenv("VIPKB_INSTANCE", str(tmp_path / "instance"))
    accounts = AccountStore(os.environ["VIPKB_ACCOUNTS"])
    accounts.create_user("rita", "user", PASSWORD)
    key = accounts.issue_key("rita", "vip-client test")[1]
    inputs = tmp_path / "inputs"
    inputs.mkdir()
    (inputs / "tiny.zip").write_bytes(zip_bytes(archive_files()))
    from vipkb import KnowledgeBase, Settings

    with KnowledgeBase.open(Settings.from_env()) as kb:
        pipeline = next(p for p in list_pipelines(kb) if p.simulator == "mri").identifier

    with serve_process(tmp_path) as served:
        url = served.url
        VipSession.init(api_key=key, vip_portal_url=url, verbose=False)
        session = VipSession("roundtrip", input_dir=inputs, output_dir=tmp_path / "outputs", verbose=False)
        session.upload_inputs()
        session.launch_pipeline(pipeline_id=pipeline, input_settings={
            "model": inputs / "tiny.zip", "instant": "0/0", "matrix_readout": 32, "matrix_phase": 32, "seed": 7})
        session.monitor_workflows(refresh_time=1)
        assert [w["status"] for w in session.workflows.values()] == ["Finished"]
        session.download_outputs()
        images = sorted((tmp_path / "outputs").rglob("*.nii.gz"))
        assert images, sorted(p.name for p in (tmp_path / "outputs").rglob("*"))
        volume = nib.Nifti1Image.from_bytes(gzip.decompress(images[0].read_bytes()))
        assert volume.shape[:2] == (32, 32) and float(abs(volume.get_fdata()).max()) > 0
        home = tmp_path / "homes" / "rita" / "API" / "roundtrip"
        assert (home / "INPUTS" / "tiny.zip").exists() and (home / "OUTPUTS").exists()
        session.finish(timeout=60)
        assert not home.exists()
        assert [w["status"] for w in session.workflows.values()] == ["Removed"]
    assert Path(tmp_path / "outputs").exists()
