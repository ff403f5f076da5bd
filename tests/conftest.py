"""Shared fixtures: knowledge bases on every store, a real `oxigraph serve`, the CLI runner."""

from __future__ import annotations

import io
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pyoxigraph as ox
import pytest
from click.testing import CliRunner

from vipkb import KnowledgeBase, Settings
from vipkb.simulation import ModelInstant
from vipkb.stores import Store
from vipkb.stores.oxigraph_ import EmbeddedStore
from vipkb.stores.sparql_ import RemoteStore

ROOT = Path(__file__).resolve().parent.parent
#: Hand-written annotations (no label maps) used across tests.
FIXTURES = Path(__file__).resolve().parent / "fixtures"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def oxigraph_executable() -> str:
    """The `oxigraph` server installed with the test extras (PyPI package `oxigraph`)."""
    beside = Path(sys.executable).parent / "oxigraph"
    found = str(beside) if beside.exists() else shutil.which("oxigraph")
    if not found:
        raise RuntimeError("the `oxigraph` server is missing: install the test extras (pip install -e '.[test]')")
    return found


class OxigraphServer:
    """A real `oxigraph serve` process on a free loopback port."""

    def __init__(self, location: Path) -> None:
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.process = subprocess.Popen(
            [oxigraph_executable(), "serve", "--location", str(location),
             "--bind", f"127.0.0.1:{self.port}", "--union-default-graph"],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        )
        deadline = time.monotonic() + 30
        while True:
            try:
                urllib.request.urlopen(f"{self.url}/query?query=ASK%7B%7D", timeout=1).read()
                return
            except OSError:
                if self.process.poll() is not None or time.monotonic() > deadline:
                    err = self.process.stderr.read().decode() if self.process.stderr else ""
                    raise RuntimeError(f"oxigraph serve did not start: {err}") from None
                time.sleep(0.1)

    @property
    def query_url(self) -> str:
        return f"{self.url}/query"

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        if self.process.stderr:
            self.process.stderr.close()


@pytest.fixture(scope="session")
def oxigraph_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[OxigraphServer]:
    server = OxigraphServer(tmp_path_factory.mktemp("oxigraph-serve"))
    yield server
    server.stop()


STORE_KINDS = ["embedded", "remote"]


@pytest.fixture(params=STORE_KINDS)
def store_factory(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Callable[[], Store]]:
    """Open an empty store of each kind: on-disk Oxigraph, or a real SPARQL server."""
    opened: list[Store] = []
    if request.param == "embedded":
        def make() -> Store:
            store = EmbeddedStore(tmp_path / "kb")
            opened.append(store)
            return store
    else:
        server = request.getfixturevalue("oxigraph_server")
        RemoteStore(server.query_url).update("DROP ALL")

        def make() -> Store:
            store = RemoteStore(server.query_url)
            opened.append(store)
            return store
    yield make
    for store in opened:
        try:
            store.close()
        except AttributeError:
            pass  # already closed by the test


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """Default settings with files kept in the test's temporary directory."""
    return Settings(files_url=str(tmp_path / "files"), cache_dir=tmp_path / "cache", runs_dir=tmp_path / "runs")


@pytest.fixture
def empty_kb(store_factory: Callable[[], Store], settings: Settings) -> KnowledgeBase:
    """An initialised knowledge base (ontology and shapes, no data) on each store."""
    kb = KnowledgeBase(store_factory(), settings=settings)
    kb.init(load_data=False)
    return kb


@pytest.fixture(scope="session")
def seeded_kb(tmp_path_factory: pytest.TempPathFactory) -> KnowledgeBase:
    """An in-memory knowledge base with the bundled models and the reasoner's inferences (read-only use)."""
    root = tmp_path_factory.mktemp("seeded")
    kb = KnowledgeBase(EmbeddedStore(None), settings=Settings(files_url=str(root / "files"), cache_dir=root / "cache",
                                                              runs_dir=root / "runs"))
    kb.init()
    return kb


def snapshot(kb: KnowledgeBase) -> bytes:
    """The whole dataset as sorted N-Quads lines, to prove nothing changed."""
    out = io.BytesIO()
    kb.store.dump(out, ox.RdfFormat.N_QUADS)
    return b"\n".join(sorted(out.getvalue().splitlines()))


@pytest.fixture
def runner(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    """A CLI runner whose knowledge base lives in a fresh directory."""
    monkeypatch.setenv("VIPKB_HOME", str(tmp_path / "cli-kb"))
    monkeypatch.setenv("VIPKB_FILES", str(tmp_path / "cli-files"))
    monkeypatch.setenv("VIPKB_RUNS", str(tmp_path / "cli-runs"))
    monkeypatch.setenv("VIPKB_CACHE", str(tmp_path / "cli-cache"))
    monkeypatch.setenv("VIPKB_ACCOUNTS", str(tmp_path / "cli-accounts.sqlite"))
    for var in ("VIPKB_STORE", "VIPKB_STORE_UPDATE", "VIPKB_STORE_GSP", "VIPKB_RESOURCES", "VIPKB_STORAGE"):
        monkeypatch.delenv(var, raising=False)
    return CliRunner()


@pytest.fixture(scope="session")
def initialised_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A knowledge base and file store initialised once per session with the bundled data."""
    root = tmp_path_factory.mktemp("initialised")
    with KnowledgeBase.open(Settings(home=root / "cli-kb", files_url=str(root / "cli-files"))) as kb:
        kb.init()
    return root


@pytest.fixture
def initialised(runner: CliRunner, initialised_template: Path, tmp_path: Path) -> CliRunner:
    """A CLI runner on a private copy of an initialised knowledge base (init costs seconds)."""
    for name in ("cli-kb", "cli-files"):
        shutil.copytree(initialised_template / name, tmp_path / name)
    return runner


@pytest.fixture
def write(tmp_path: Path) -> Callable[[str, bytes | str], Path]:
    """Write a file under the test's temporary directory."""
    def _write(name: str, content: bytes | str) -> Path:
        path = tmp_path / name
        path.write_bytes(content.encode() if isinstance(content, str) else content)
        return path
    return _write


# -- simulators ---------------------------------------------------------------

WATER = "H:0.111894 O:0.888106"
BONE = "H:0.034 C:0.155 N:0.042 O:0.435 Na:0.001 Mg:0.002 P:0.103 S:0.003 Ca:0.225"
FAT = "H:0.114 C:0.598 N:0.007 O:0.278 Na:0.001 S:0.001 Cl:0.001"


def _tissue(t1: float, t2: float, pd: float, density: float, composition: str, *, sound: float,
            reflectivity: float, activity: float) -> dict:
    from vipkb.models.lut import parse_composition

    comp = parse_composition(composition, "test")
    return {"T1@1.5T [ms]": t1, "T2@1.5T [ms]": t2, "T1@3T [ms]": t1 * 1.3, "T2@3T [ms]": t2 * 0.9,
            "ProtonDensity [1]": pd, "MassDensity [kg/m3]": density, "ElementalComposition [mass fraction]": comp,
            "SpeedOfSound [m/s]": sound, "ScattererDensity [m-3]": 1e10, "ScattererReflectivity [1]": reflectivity,
            "RadioactiveConcentration(FDG) [Bq/m3]": activity}


@pytest.fixture(scope="session")
def phantom() -> ModelInstant:
    """A small 3-D phantom with every parameter kind the built-in simulators need."""
    shape = (40, 36, 6)
    x, y = np.meshgrid(np.arange(shape[0]) - 19.5, np.arange(shape[1]) - 17.5, indexing="ij")
    labels = np.zeros(shape, dtype=np.uint8)
    labels[(x / 16) ** 2 + (y / 14) ** 2 <= 1] = 1
    labels[(x + 6) ** 2 + y ** 2 <= 16] = 2
    labels[(x - 6) ** 2 + (y - 3) ** 2 <= 9] = 3
    tissues = [("water", _tissue(2500, 250, 1.0, 1000, WATER, sound=1540, reflectivity=0.5, activity=5e9)),
               ("bone", _tissue(500, 40, 0.1, 1920, BONE, sound=3500, reflectivity=1.0, activity=2e9)),
               ("fat", _tissue(350, 60, 0.9, 950, FAT, sound=1450, reflectivity=0.3, activity=2e10))]
    return ModelInstant.from_labels(labels, tissues, voxel_size=(2.0, 2.0, 4.0))
