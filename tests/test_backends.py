"""Execution backends: the registry, and one contract suite run over every backend.

The Dask backend is tested twice: on a ``LocalCluster`` it starts itself, and on real ``dask scheduler``
and ``dask worker`` processes started here on loopback (the deployment a lab uses), where a worker is
also killed with SIGKILL in the middle of a run.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from functools import partial
from pathlib import Path

import numpy as np
import pytest

import vipkb.backends as backends
from vipkb.backends import Backend, UnknownBackendError, get_backend, list_backends, open_backend
from vipkb.backends.dask_ import DaskBackend
from vipkb.backends.inline_ import InlineBackend
from vipkb.backends.local_ import WORKER_SLOT_VARIABLE
from vipkb.errors import ConfigurationError, UnknownResourceError
from vipkb.execution import run_batched_simulation, run_batches
from vipkb.execution.batched import merge_pair
from vipkb.execution.synthetic import synthetic_batch
from vipkb.simulation import get_simulator

ROOT = Path(__file__).resolve().parent.parent


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class DaskProcesses:
    """A real ``dask scheduler`` and ``n`` single-threaded ``dask worker`` processes on loopback.

    The scheduler binds a port of its own choosing (``--port 0``) and writes its address to a scheduler file,
    which the workers and :attr:`address` read: no port is picked in advance, so no other process can take it
    between the choice and the bind.
    """

    def __init__(self, n_workers: int) -> None:
        self._dir = Path(tempfile.mkdtemp(prefix="vipkb-dask-"))
        self.scheduler_file = self._dir / "scheduler.json"
        self._address: str | None = None
        # Workers unpickle task functions by module name: they need the repository and these tests on their path.
        env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT), str(ROOT / "tests"),
                                                           os.environ.get("PYTHONPATH", "")]))
        self.processes = [subprocess.Popen(
            [sys.executable, "-m", "distributed.cli.dask_scheduler", "--host", "127.0.0.1", "--port", "0",
             "--no-dashboard", "--scheduler-file", str(self.scheduler_file)],
            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)]
        for slot in range(n_workers):
            self.processes.append(subprocess.Popen(
                [sys.executable, "-m", "distributed.cli.dask_worker", "--scheduler-file", str(self.scheduler_file),
                 "--nworkers", "1", "--nthreads", "1", "--no-dashboard", "--name", f"w{slot}"],
                env=dict(env, **{WORKER_SLOT_VARIABLE: str(slot)}), stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL))
        self.n_workers = n_workers

    @property
    def address(self) -> str:
        """The scheduler's address, once it has written it (waits up to a minute)."""
        deadline = time.monotonic() + 60
        while self._address is None:
            try:
                self._address = json.loads(self.scheduler_file.read_text())["address"]
            except (OSError, ValueError, KeyError):  # not written yet, or half-written
                assert self.processes[0].poll() is None, "the dask scheduler exited"
                assert time.monotonic() < deadline, "the dask scheduler wrote no scheduler file within 60 s"
                time.sleep(0.1)
        return self._address

    def stop(self) -> None:
        for process in reversed(self.processes):
            process.terminate()
        for process in self.processes:
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        shutil.rmtree(self._dir, ignore_errors=True)


@pytest.fixture(scope="module")
def dask_processes() -> Iterator[DaskProcesses]:
    cluster = DaskProcesses(2)
    yield cluster
    cluster.stop()


def _connect(cluster: DaskProcesses) -> DaskBackend:
    deadline = time.monotonic() + 60
    while True:
        try:
            backend = open_backend(cluster.address)
            break
        except ConfigurationError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)
    backend.wait_for_workers(cluster.n_workers, timeout=60)
    return backend


BACKENDS = ["inline", "local", "dask-localcluster", "dask-processes"]


@pytest.fixture(scope="module", params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> Iterator[Backend]:
    """Each backend, opened once per module (starting processes costs seconds)."""
    if request.param == "dask-processes":
        opened = _connect(request.getfixturevalue("dask_processes"))
    elif request.param == "dask-localcluster":
        opened = open_backend("dask", n_workers=2)
    else:
        opened = open_backend(request.param, n_workers=None if request.param == "inline" else 2)
    with opened:
        yield opened


# -- registry -----------------------------------------------------------------

def test_builtins_are_registered_and_unknown_names_list_them():
    assert {"inline", "local", "dask"} <= set(list_backends())
    assert get_backend("inline") is InlineBackend
    with pytest.raises(UnknownBackendError, match=r"no execution backend named 'slurm'; installed: inline, local, "
                                                  r"dask.*vipkb\.backends") as info:
        get_backend("slurm")
    assert isinstance(info.value, UnknownResourceError) and isinstance(info.value, LookupError)


def test_a_broken_plugin_warns_and_is_skipped(monkeypatch: pytest.MonkeyPatch):
    def broken() -> object:
        raise ImportError("no module named 'missing'")

    real = backends._candidates()
    monkeypatch.setattr(backends, "_candidates", lambda: [*real, ("broken", broken, "missing:Thing"),
                                                          ("notone", lambda: dict, "builtins:dict")])
    backends.refresh_backends()
    try:
        with pytest.warns(RuntimeWarning) as caught:
            found = list_backends()
        assert any("'broken'" in str(w.message) and "failed to load" in str(w.message) for w in caught)
        assert any("'notone'" in str(w.message) and "not a vipkb Backend" in str(w.message) for w in caught)
        assert set(found) == {"inline", "local", "dask"}
    finally:
        monkeypatch.undo()
        backends.refresh_backends()


def test_open_backend_refuses_bad_settings():
    with pytest.raises(ConfigurationError, match="exactly one worker"):
        open_backend("inline", n_workers=3)
    with pytest.raises(ConfigurationError, match="at least one worker"):
        open_backend("local", n_workers=0)
    with pytest.raises(ConfigurationError, match="cannot reach the Dask scheduler"):
        DaskBackend(address=f"tcp://127.0.0.1:{_free_port()}", timeout=1)


# -- contract suite -----------------------------------------------------------

def _fail(message: str) -> None:
    raise ValueError(message)


def test_submit_returns_a_future_with_the_result(backend: Backend):
    assert backend.submit(pow, 2, 10).result(timeout=30) == 1024
    assert backend.submit(sorted, [3, 1, 2], reverse=True).result(timeout=30) == [3, 2, 1]
    assert backend.n_workers >= 1


def test_a_task_error_is_raised_by_its_future(backend: Backend):
    future = backend.submit(_fail, "bad batch")
    with pytest.raises(ValueError, match="bad batch"):
        future.result(timeout=30)


def test_as_completed_yields_every_future(backend: Backend):
    futures = [backend.submit(pow, i, 2) for i in range(8)]
    assert sorted(f.result() for f in backend.as_completed(futures, timeout=30)) == [i * i for i in range(8)]
    assert backend.wait([], timeout=0.01) == set()


def test_a_balanced_run_is_bit_identical_on_every_backend(backend: Backend):
    task = partial(synthetic_batch, seed=11, n_draws=2000)
    reference, _ = run_batches(InlineBackend(), task, 24, merge=merge_pair)
    merged, stats = run_batches(backend, task, 24, merge=merge_pair)
    assert merged.batches == tuple(range(24))
    assert merged.counts["hist"].tobytes() == reference.counts["hist"].tobytes()
    assert merged.concatenated("first").tobytes() == reference.concatenated("first").tobytes()
    assert [r.index for r in stats.batches] == list(range(24))


def test_a_pet_run_on_any_backend_equals_the_unsplit_run(backend: Backend, phantom):
    sim = get_simulator("pet")()
    params = sim.parameters({"events": 4000, "events_per_batch": 1000, "iterations": 1, "subsets": 2})
    whole = sim.run(phantom, params, seed=3).files()
    result, stats = run_batched_simulation(backend, sim, phantom, params, seed=3)
    assert len(stats.batches) == sim.n_batches(phantom, params) == 4
    assert result.files() == whole


# -- fault tolerance on real Dask processes ------------------------------------

def _kill_one_busy_worker(backend: DaskBackend, after: threading.Event, killed: list[int]) -> None:
    after.wait(timeout=30)
    pids = backend.client.run(os.getpid)
    busy = [address for address, keys in backend.client.processing().items() if keys and address in pids]
    pid = pids[(busy or sorted(pids))[0]]
    os.kill(pid, signal.SIGKILL)
    killed.append(pid)


def test_a_dask_worker_killed_mid_run_changes_nothing(dask_processes: DaskProcesses):
    task = partial(synthetic_batch, seed=5, n_draws=500, seconds=0.05)
    reference, _ = run_batches(InlineBackend(), partial(synthetic_batch, seed=5, n_draws=500), 40, merge=merge_pair)
    with _connect(dask_processes) as backend:
        some_done = threading.Event()
        killed: list[int] = []
        killer = threading.Thread(target=_kill_one_busy_worker, args=(backend, some_done, killed))
        killer.start()
        merged, stats = run_batches(backend, task, 40, merge=merge_pair,
                                    progress=lambda done, _n: done >= 8 and some_done.set())
        killer.join()
        assert killed, "no worker was killed"
        assert merged.batches == tuple(range(40))
        assert np.array_equal(merged.counts["hist"], reference.counts["hist"])
        assert merged.concatenated("first").tobytes() == reference.concatenated("first").tobytes()
        # The nanny restarts the killed worker; wait so the next test finds the cluster whole.
        backend.wait_for_workers(dask_processes.n_workers, timeout=60)
    assert len(stats.batches) == 40
