"""Administration reads shared by the web platform's ``/admin`` pages and the CLI.

Every function takes the *whole* knowledge base (an administrator sees every
user's private graphs): runs across users with the cause of their failure
(:func:`run_overview`), storage elements and the health of their replicas
(:func:`storage_summary`, :func:`storage_health`), statistics with the
named graphs per owner (:func:`kb_statistics`), and the rule that keeps an
administrator from locking themselves out (:func:`check_self_change`).
Backend and worker status is :func:`vipkb.backends.backend_status`.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field

from vipkb import queries
from vipkb.accounts import ROLES, Account, check_role
from vipkb.errors import LockoutError
from vipkb.kb import KnowledgeBase
from vipkb.namespaces import Graphs
from vipkb.results import term_text
from vipkb.runs import RunSummary, list_runs
from vipkb.storage import FileCatalog

__all__ = ["AdminRun", "ElementHealth", "ElementSummary", "GraphCount", "KbStatistics", "REPLICA_STATES",
           "StorageHealth", "check_self_change", "kb_statistics", "plain_reason", "run_overview", "storage_health",
           "storage_summary"]

#: What :meth:`vipkb.storage.FileCatalog.verify` can find for a (file, storage element), good first.
REPLICA_STATES = ("ok", "missing", "corrupt", "unreachable", "absent")
#: Run statuses in the order an administrator reads them: what went wrong first.
_STATUS_ORDER = ("failed", "killed", "running", "queued", "succeeded")


def plain_reason(reason: str) -> str:
    """A failure reason without the exception's class name (``SimulationError: x`` -> ``x``).

    >>> plain_reason("SimulationError: tissue fat has no T1 at 3T")
    'tissue fat has no T1 at 3T'
    >>> plain_reason("killed: killed by request")
    'killed by request'
    """
    return re.sub(r"^(?:[A-Z][A-Za-z]*(?:Error|Exception)|killed): ", "", reason or "")


# -- runs -------------------------------------------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class AdminRun:
    """A run as the administration lists it: its summary, who launched it and why it failed.

    Parameters
    ----------
    summary
        The run's line of ``vipkb runs``.
    agent
        The account (or operating-system user) that launched it.
    reason
        The recorded failure or kill reason, exception class included ("" if none).
    """

    summary: RunSummary
    agent: str = ""
    reason: str = ""

    @property
    def cause(self) -> str:
        """The reason in plain words, without the exception's class name."""
        return plain_reason(self.reason)

    def as_dict(self) -> dict:
        """JSON-ready form: the summary's fields plus agent, reason and cause."""
        return {**self.summary.as_dict(), "agent": self.agent, "reason": self.reason, "cause": self.cause}


def run_overview(kb: KnowledgeBase, *, status: str | None = None, owner: str | None = None) -> list[AdminRun]:
    """Every run of every user (optionally of one status, or private to ``owner``), failures first, then newest first.

    Two queries whatever the number of runs: :func:`vipkb.runs.list_runs` and one for agents and reasons.

    Raises
    ------
    UnknownResourceError
        For an unknown status (listing the valid ones).
    """
    runs = list_runs(kb, status=status, owner=owner)
    causes = {r["run"].value.rsplit("/run/", 1)[-1]: r for r in kb.store.query(queries.RUN_CAUSES)}
    out = []
    for summary in runs:
        row = causes.get(summary.id, {})
        out.append(AdminRun(summary=summary, agent=term_text(row.get("agent")).rsplit("/", 1)[-1],
                            reason=term_text(row.get("reason"))))
    # A stable sort keeps list_runs' newest-first order within each status.
    return sorted(out, key=lambda r: _STATUS_ORDER.index(r.summary.status))


# -- storage ----------------------------------------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class ElementSummary:
    """One storage element as the catalog knows it (no file is read).

    Parameters
    ----------
    name, url
        The element's name and fsspec URL ("" for an element the catalog names but the settings do not).
    files, size
        Catalogued copies on it and their total size in bytes.
    """

    name: str
    url: str
    files: int = 0
    size: int = 0

    @property
    def configured(self) -> bool:
        """Whether the settings name this element (a copy on an unconfigured one cannot be read)."""
        return bool(self.url)

    def as_dict(self) -> dict:
        """JSON-ready form."""
        return {"name": self.name, "url": self.url, "files": self.files, "size": self.size,
                "configured": self.configured}


@dataclass(frozen=True, kw_only=True)
class StorageSummary:
    """Every storage element with its catalogued copies, and the files with fewer copies than elements."""

    elements: tuple[ElementSummary, ...]
    files: int
    size: int
    under_replicated: tuple[str, ...] = ()

    def as_dict(self) -> dict:
        """JSON-ready form."""
        return {"elements": [e.as_dict() for e in self.elements], "files": self.files, "size": self.size,
                "under_replicated": list(self.under_replicated)}


def storage_summary(kb: KnowledgeBase, prefix: str = "") -> StorageSummary:
    """Catalogued files and copies per storage element under ``prefix``, from the catalog only (fast)."""
    catalog = FileCatalog(kb)
    records = catalog.records(prefix)
    files: Counter[str] = Counter()
    sizes: Counter[str] = Counter()
    for record in records:
        for name in record.replicas:
            files[name] += 1
            sizes[name] += record.size
    names = list(catalog.elements) + sorted(set(files) - set(catalog.elements))
    elements = tuple(ElementSummary(name=n, url=catalog.elements.get(n, ""), files=files[n], size=sizes[n])
                     for n in names)
    wanted = set(catalog.elements)
    short = tuple(r.lfn for r in records if not wanted <= set(r.replicas))
    return StorageSummary(elements=elements, files=len(records), size=sum(r.size for r in records),
                          under_replicated=short)


@dataclass(frozen=True, kw_only=True)
class ElementHealth:
    """How many replicas on one storage element are in each state (:data:`REPLICA_STATES`)."""

    name: str
    counts: dict[str, int] = field(default_factory=dict)

    @property
    def bad(self) -> int:
        """Copies that are catalogued but missing, corrupt or unreachable."""
        return sum(n for state, n in self.counts.items() if state not in ("ok", "absent"))

    def as_dict(self) -> dict:
        """JSON-ready form."""
        return {"name": self.name, **{s: self.counts.get(s, 0) for s in REPLICA_STATES}, "bad": self.bad}


@dataclass(frozen=True, kw_only=True)
class StorageHealth:
    """What verifying the replicas of the files under a prefix found.

    Parameters
    ----------
    prefix
        The logical file names checked start with it.
    files
        Logical files checked.
    elements
        Per storage element, the count of replicas in each state.
    problems
        ``(lfn, element, state)`` of every bad replica (missing, corrupt, unreachable).
    """

    prefix: str
    files: int
    elements: tuple[ElementHealth, ...]
    problems: tuple[tuple[str, str, str], ...] = ()

    @property
    def healthy(self) -> bool:
        """Whether every catalogued replica checked is good."""
        return not self.problems

    def as_dict(self) -> dict:
        """JSON-ready form."""
        return {"prefix": self.prefix, "files": self.files, "healthy": self.healthy,
                "elements": [e.as_dict() for e in self.elements],
                "problems": [{"lfn": lfn, "element": el, "state": st} for lfn, el, st in self.problems]}


def storage_health(kb: KnowledgeBase, prefix: str = "") -> StorageHealth:
    """Check every catalogued replica of the files under ``prefix`` against its checksum (reads every copy).

    The same verification as ``vipkb files verify``, summed up per storage element.
    """
    catalog = FileCatalog(kb)
    states = catalog.verify(prefix)
    counts: dict[str, Counter[str]] = {name: Counter() for name in catalog.elements}
    for s in states:
        counts[s.element][s.state] += 1
    problems = tuple((s.lfn, s.element, s.state) for s in states if s.state not in ("ok", "absent"))
    return StorageHealth(prefix=prefix, files=len({s.lfn for s in states}), problems=problems,
                         elements=tuple(ElementHealth(name=n, counts=dict(c)) for n, c in counts.items()))


# -- the knowledge base -----------------------------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class GraphCount:
    """Named graphs and their quads, for public data or one owner's private data."""

    owner: str | None
    graphs: int
    quads: int

    def as_dict(self) -> dict:
        """JSON-ready form (``owner`` None: public)."""
        return {"owner": self.owner, "graphs": self.graphs, "quads": self.quads}


@dataclass(frozen=True, kw_only=True)
class KbStatistics:
    """What ``vipkb stats`` counts, and the named graphs per owner (public first, then owners by name)."""

    store: str
    counts: dict[str, int]
    graphs: tuple[GraphCount, ...]

    def as_dict(self) -> dict:
        """JSON-ready form."""
        return {"store": self.store, "counts": dict(self.counts), "graphs": [g.as_dict() for g in self.graphs]}


def kb_statistics(kb: KnowledgeBase) -> KbStatistics:
    """Counts of models, simulators, runs, data, graphs and quads, and graphs per owner (public or private)."""
    graphs: Counter[str] = Counter()
    quads: Counter[str] = Counter()
    for row in kb.store.query(queries.GRAPH_SIZES):
        owner = Graphs.owner_of(row["graph"].value) or ""
        graphs[owner] += 1
        quads[owner] += int(row["quads"].value)
    per_owner = tuple(GraphCount(owner=o or None, graphs=graphs[o], quads=quads[o])
                      for o in sorted(set(graphs) | {""}))
    return KbStatistics(store=kb.store.describe(), counts=kb.stats(), graphs=per_owner)


# -- accounts ---------------------------------------------------------------------------------------------------------


def check_self_change(actor: Account, target: str, *, role: str | None = None, disable: bool = False) -> None:
    """Refuse a change an administrator makes to their own account that would lock them out.

    Parameters
    ----------
    actor
        The administrator making the change.
    target
        The account changed.
    role
        The new role, if the change is one.
    disable
        Whether the change disables the account.

    Raises
    ------
    LockoutError
        ``actor`` would disable or demote themselves.
    AccountError
        ``role`` is not a role.
    """
    if role is not None:
        check_role(role)
    if target != actor.name:
        return
    if disable:
        raise LockoutError(f"you cannot disable your own account ({actor.name}): nobody could sign in to undo it; "
                           "ask another administrator, or use `vipkb user disable` on the server")
    if role is not None and ROLES.index(role) < ROLES.index(actor.role):
        raise LockoutError(f"you cannot take the {actor.role} role from your own account ({actor.name}): "
                           "ask another administrator, or use `vipkb user role` on the server")
