"""Live progress of a run, recorded in its directory so that any process can watch it.

The orchestrator (:func:`vipkb.runs.api.execute_run`, wherever it runs)
records each phase's progress (``progress.json``: tasks done and total,
rate, ETA, workers) and a log line per event; the web platform and the REST
API read them back with :func:`read_progress` without touching the
orchestrator or the knowledge base.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from vipkb.runs.workdir import RunDirectory

__all__ = ["PhaseRecorder", "Progress", "read_progress"]

#: Seconds between two progress records (the last one of a phase is always written).
_EVERY = 0.5


@dataclass(frozen=True)
class Progress:
    """Where a run stands.

    Attributes
    ----------
    phase
        ``events`` (Monte-Carlo batches) or ``instants``.
    done, total
        Tasks of the phase finished (checkpoints included) and to do.
    rate
        Tasks per second since the phase started (resumed tasks excluded).
    eta
        Seconds left at that rate (None before the first task of this execution ends).
    workers
        Workers of the backend executing the run.
    updated
        When this was recorded (seconds since the epoch).
    """

    phase: str
    done: int
    total: int
    rate: float
    eta: float | None
    workers: int
    updated: float

    @property
    def percent(self) -> int:
        """Whole percent done."""
        return 100 * self.done // max(self.total, 1)

    def as_dict(self) -> dict:
        """JSON-ready form (with ``percent``)."""
        return {**self.__dict__, "percent": self.percent}


class PhaseRecorder:
    """A ``progress(done, total)`` callback recording one phase of a run, then calling ``forward``.

    Parameters
    ----------
    workdir
        The run's directory.
    phase
        The phase's name.
    workers
        How many workers the backend has.
    forward
        Another ``progress(done, total, phase)`` callback (a CLI progress bar), or None.
    """

    def __init__(self, workdir: RunDirectory, phase: str, workers: int,
                 forward: Callable[[int, int, str], None] | None = None) -> None:
        self.workdir, self.phase, self.workers, self.forward = workdir, phase, workers, forward
        self.start = time.time()
        self.first: int | None = None
        self.last = 0.0

    def __call__(self, done: int, total: int) -> None:
        now = time.time()
        if self.first is None:
            self.first = done
            self.workdir.log(f"{self.phase}: {total} task(s), {done} already checkpointed, {self.workers} worker(s)")
        if done == total or now - self.last >= _EVERY:
            self.last = now
            fresh = done - self.first
            rate = fresh / max(now - self.start, 1e-9)
            eta = (total - done) / rate if fresh > 0 else None
            self.workdir.write_progress(Progress(phase=self.phase, done=done, total=total, rate=round(rate, 3),
                                                 eta=None if eta is None else round(eta, 1), workers=self.workers,
                                                 updated=now).__dict__)
            if done == total:
                self.workdir.log(f"{self.phase}: {total} task(s) done in {now - self.start:.1f} s")
        if self.forward is not None:
            self.forward(done, total, self.phase)


def read_progress(workdir: RunDirectory) -> Progress | None:
    """The last progress recorded for a run, if any."""
    data = workdir.progress()
    try:
        return Progress(**data) if data else None
    except TypeError:
        return None  # written by another version: no progress rather than an error
