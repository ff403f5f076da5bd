"""A run's directory: its spec, checkpointed task outputs, its owner and the kill request.

Layout (under ``VIPKB_RUNS``, one directory per run id)::

    spec.json             what the run computes (vipkb.runs.spec.RunSpec)
    objects/ab/abcd...    task outputs, content-addressed by SHA-256
    tasks/<key>.json      one manifest per finished task: output names -> SHA-256, worker, times
    owner.json            host, pid and heartbeat of the process orchestrating the run
    kill                  present when `vipkb run kill` asked the run to stop
    progress.json         the phase being executed: tasks done and total, rate, ETA, workers
    log.txt               what happened, one timestamped line per event (the run's log)

A task counts as done only once its manifest exists, and a manifest is
written (atomically) only after its objects: a run killed at any moment
resumes from exactly the tasks that were safely stored.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import time
import uuid
from pathlib import Path
from typing import Any

from vipkb.errors import StoreError
from vipkb.files import sha256

__all__ = ["RunDirectory", "TaskRecord"]

#: Seconds without a heartbeat after which an owner on another host is presumed dead.
STALE_AFTER = 60.0

TaskRecord = dict[str, Any]


def _write_atomic(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}")
    with open(tmp, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class RunDirectory:
    """The on-disk state of one run.

    Parameters
    ----------
    root
        The runs directory (``Settings.runs_dir``).
    run_id
        The run's identifier.
    """

    def __init__(self, root: str | Path, run_id: str) -> None:
        self.path = Path(root) / run_id
        self.run_id = run_id

    # -- spec ---------------------------------------------------------------

    def write_spec(self, spec: dict[str, Any]) -> None:
        """Record what the run computes (once; an existing spec must be the same)."""
        path = self.path / "spec.json"
        data = (json.dumps(spec, indent=1, sort_keys=True) + "\n").encode()
        if path.exists():
            if json.loads(path.read_text()) != json.loads(data):
                raise StoreError(f"{path} describes a different run; remove the directory to start over")
            return
        _write_atomic(path, data)

    def read_spec(self) -> dict[str, Any] | None:
        """The recorded spec, if any."""
        path = self.path / "spec.json"
        return json.loads(path.read_text()) if path.exists() else None

    # -- checkpoints --------------------------------------------------------

    def _object(self, digest: str) -> Path:
        return self.path / "objects" / digest[:2] / digest

    def _manifest(self, key: str) -> Path:
        return self.path / "tasks" / f"{key}.json"

    def save_task(self, key: str, outputs: dict[str, bytes], record: TaskRecord) -> None:
        """Persist a finished task's outputs, then its manifest (which makes it count)."""
        names = {}
        for name, data in outputs.items():
            digest = sha256(data)
            path = self._object(digest)
            if not path.exists():
                _write_atomic(path, data)
            names[name] = digest
        manifest = {"key": key, "outputs": names, **record}
        _write_atomic(self._manifest(key), (json.dumps(manifest, sort_keys=True) + "\n").encode())

    def load_task(self, key: str) -> tuple[dict[str, bytes], TaskRecord] | None:
        """A finished task's outputs and record, or None if it is not done (or its checkpoint is damaged)."""
        path = self._manifest(key)
        try:
            manifest = json.loads(path.read_text())
            outputs = {}
            for name, digest in manifest.pop("outputs").items():
                data = self._object(digest).read_bytes()
                if sha256(data) != digest:
                    raise ValueError(f"checkpoint object {digest} is corrupt")
                outputs[name] = data
        except (OSError, ValueError, KeyError):
            path.unlink(missing_ok=True)  # a damaged checkpoint is recomputed, never trusted
            return None
        manifest.pop("key", None)
        return outputs, manifest

    def done(self) -> list[str]:
        """Keys of the tasks with a manifest."""
        return sorted(p.stem for p in (self.path / "tasks").glob("*.json"))

    def records(self) -> dict[str, TaskRecord]:
        """Each finished task's record (worker, times, attempts), from the manifests alone: no output is read."""
        out = {}
        for key in self.done():
            try:
                manifest = json.loads(self._manifest(key).read_text())
            except (OSError, ValueError):
                continue  # removed or being replaced meanwhile
            out[key] = {k: v for k, v in manifest.items() if k not in ("key", "outputs")}
        return out

    # -- ownership and kill -------------------------------------------------

    def owner(self) -> dict[str, Any] | None:
        """The live orchestrating process (``host``, ``pid``, ``heartbeat``), or None."""
        try:
            owner = json.loads((self.path / "owner.json").read_text())
        except (OSError, ValueError):
            return None
        if owner.get("host") == socket.gethostname():
            return owner if _alive(int(owner.get("pid", 0))) else None
        return owner if time.time() - float(owner.get("heartbeat", 0)) < STALE_AFTER else None

    def claim(self) -> bool:
        """Become the run's orchestrator; False if another live process is."""
        current = self.owner()
        if current is not None and (current.get("host"), current.get("pid")) != (socket.gethostname(), os.getpid()):
            return False
        self.heartbeat()
        (self.path / "kill").unlink(missing_ok=True)
        return True

    def heartbeat(self) -> None:
        """Say the orchestrator is alive."""
        owner = {"host": socket.gethostname(), "pid": os.getpid(), "heartbeat": time.time()}
        _write_atomic(self.path / "owner.json", json.dumps(owner).encode())

    def release(self) -> None:
        """Stop being the orchestrator."""
        (self.path / "owner.json").unlink(missing_ok=True)

    def request_kill(self, reason: str) -> None:
        """Ask the orchestrator to stop the run."""
        _write_atomic(self.path / "kill", reason.encode())

    def kill_requested(self) -> str | None:
        """The kill reason, if a kill was requested."""
        try:
            return (self.path / "kill").read_text() or "killed"
        except OSError:
            return None

    def write_progress(self, progress: dict[str, Any]) -> None:
        """Record the progress of the phase being executed (read by monitors, any process)."""
        _write_atomic(self.path / "progress.json", json.dumps(progress, sort_keys=True).encode())

    def progress(self) -> dict[str, Any] | None:
        """The last recorded progress, if any."""
        try:
            return json.loads((self.path / "progress.json").read_text())
        except (OSError, ValueError):
            return None

    def log(self, message: str) -> None:
        """Append one timestamped line to the run's log."""
        stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        self.path.mkdir(parents=True, exist_ok=True)
        with open(self.path / "log.txt", "a", encoding="utf-8") as f:
            f.write(f"{stamp} {' '.join(message.split())}\n")

    def log_text(self) -> str:
        """The run's log ("" before anything happened)."""
        try:
            return (self.path / "log.txt").read_text(encoding="utf-8")
        except OSError:
            return ""

    def remove(self) -> None:
        """Delete the directory (checkpoints included)."""
        shutil.rmtree(self.path, ignore_errors=True)
