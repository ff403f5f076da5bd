"""What a run is: a model version, a simulator at a version, parameters, a seed and the instants to simulate.

The run's identifier is a digest of all that, so asking for the same run
twice finds the first one (its checkpoints, its results) instead of
computing it again; a different seed or parameter is a different run.  A
private run also names its owner: two users' private runs of the same
inputs are two runs, each visible to its owner only.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from typing import Any

import numpy as np

from vipkb.namespaces import BASE

__all__ = ["RunSpec", "instant_seed", "run_iri"]

_MODEL = re.compile(r".*/model/([^/#]+)/v([0-9]+)$")


def run_iri(run_id: str) -> str:
    """IRI of a run."""
    return f"{BASE}run/{run_id}"


def instant_seed(seed: int, time_point: int, instant: int) -> int:
    """The seed of one instant of a run: ``seed`` itself for the first, an independent stream for the others.

    >>> instant_seed(7, 0, 0), instant_seed(7, 0, 1) == instant_seed(7, 0, 1) != instant_seed(7, 0, 2)
    (7, True)
    """
    if (time_point, instant) == (0, 0):
        return seed
    state = np.random.SeedSequence(seed, spawn_key=(time_point, instant)).generate_state(1, np.uint64)[0]
    return int(state) & (2**63 - 1)


@dataclass(frozen=True, kw_only=True)
class RunSpec:
    """Everything that decides a run's results (and nothing that does not, such as the backend).

    Attributes
    ----------
    model
        The model version's IRI.
    simulator, version
        Simulator name and version.
    parameters
        Every parameter of the simulator (defaults filled in) as JSON text, sorted by name.
    seed
        The run's seed.
    instants
        ``(time point, instant)`` pairs to simulate, in order.
    owner
        The account a private run belongs to (its records go to that account's private graphs);
        None for a public run.
    """

    model: str
    simulator: str
    version: str
    parameters: tuple[tuple[str, str], ...]
    seed: int
    instants: tuple[tuple[int, int], ...]
    owner: str | None = None

    @classmethod
    def build(cls, *, model: str, simulator: str, version: str, values: dict[str, Any], seed: int,
              instants: list[tuple[int, int]], owner: str | None = None) -> RunSpec:
        """A spec from checked parameter values (every parameter, as :meth:`SimulationParameters.as_dict` gives)."""
        params = tuple(sorted((k, json.dumps(v, sort_keys=True)) for k, v in values.items()))
        return cls(model=model, simulator=simulator, version=version, parameters=params, seed=seed,
                   instants=tuple(sorted(instants)), owner=owner)

    @property
    def values(self) -> dict[str, Any]:
        """Parameter values by name."""
        return {k: json.loads(v) for k, v in self.parameters}

    @property
    def digest(self) -> str:
        """SHA-256 of the canonical JSON form."""
        return hashlib.sha256(json.dumps(self.as_dict(), sort_keys=True).encode()).hexdigest()

    @property
    def id(self) -> str:
        """``<simulator>-<model id>-v<n>-<12 hex digits>``."""
        found = _MODEL.match(self.model)
        model = f"{found.group(1)}-v{found.group(2)}" if found else "model"
        return f"{self.simulator}-{model}-{self.digest[:12]}"

    @property
    def iri(self) -> str:
        """The run's IRI."""
        return run_iri(self.id)

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form (what ``spec.json`` of the run directory holds)."""
        data = {"model": self.model, "simulator": self.simulator, "version": self.version,
                "parameters": self.values, "seed": self.seed, "instants": [list(i) for i in self.instants]}
        if self.owner is not None:  # public runs keep the identifiers they always had
            data["owner"] = self.owner
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RunSpec:
        """Inverse of :meth:`as_dict`."""
        return cls.build(model=data["model"], simulator=data["simulator"], version=data["version"],
                         values=data["parameters"], seed=int(data["seed"]),
                         instants=[(int(t), int(i)) for t, i in data["instants"]], owner=data.get("owner"))
