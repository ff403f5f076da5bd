"""The error hierarchy of VIPKB.

Every error the platform raises on purpose derives from :class:`VipkbError`
and also from the builtin exception a caller would naturally catch, so that
``except LookupError`` keeps working.  Messages say what was wrong and how to
fix it; the CLI prints them as one line and the web layer maps them to HTTP
statuses through :attr:`VipkbError.http_status`.

SHACL non-conformance is *not* an error: validation returns a report.  Only
a refused write raises :class:`NotConformingError`, carrying that report.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from vipkb.validation import ValidationReport


class VipkbError(Exception):
    """Root of every error raised on purpose by VIPKB."""

    #: HTTP status the web layer answers with.
    http_status = 500


class ConfigurationError(VipkbError, ValueError):
    """A setting (environment variable or option) has an unusable value."""

    http_status = 500


class DocumentError(VipkbError, ValueError):
    """An RDF document could not be read: syntax, encoding, size or format.

    Parameters
    ----------
    message
        What is wrong, for a person.
    source
        The file name or other label of the document.
    line, column
        Position of the problem where the parser gives one (1-based).
    """

    http_status = 400

    def __init__(self, message: str, *, source: str = "<input>", line: int | None = None,
                 column: int | None = None) -> None:
        self.source = source
        self.line = line
        self.column = column
        where = source
        if line is not None:
            where += f", line {line}"
            if column is not None:
                where += f", column {column}"
        super().__init__(f"{where}: {message}")
        self.reason = message


class DocumentTooLargeError(DocumentError):
    """A document is larger than the configured write limit."""

    http_status = 413


class NotConformingError(VipkbError, ValueError):
    """A write was refused because the document does not conform to the shapes."""

    http_status = 422

    def __init__(self, report: ValidationReport, *, source: str = "<input>") -> None:
        self.report = report
        self.source = source
        n = len(report.results)
        first = report.results[0].summary() if report.results else ""
        super().__init__(
            f"{source}: does not conform to the VIPKB shapes ({n} violation{'s' * (n != 1)}); "
            f"first: {first}. Nothing was written."
        )


class ModelArchiveError(VipkbError, ValueError):
    """A model archive is malformed: says which file and what to fix."""

    http_status = 400


class ArchiveTooLargeError(ModelArchiveError):
    """A model archive holds more bytes than the configured limit (``VIPKB_MAX_ARCHIVE_BYTES``)."""

    http_status = 413


class InconsistentError(VipkbError, ValueError):
    """The reasoner found the ontology plus the written data inconsistent."""

    http_status = 422


class ReservedGraphError(VipkbError, PermissionError):
    """A data write addressed a graph managed by the knowledge base itself."""

    http_status = 403


class StoreError(VipkbError, RuntimeError):
    """The store backend failed (unreachable endpoint, I/O error, lock)."""

    http_status = 503


class QueryError(VipkbError, ValueError):
    """A SPARQL query or update is malformed or was refused by the store."""

    http_status = 400


class UnknownResourceError(VipkbError, LookupError):
    """A named resource (model, simulator, graph) is not in the knowledge base."""

    http_status = 404


class NotInitialisedError(VipkbError, RuntimeError):
    """The knowledge base has no ontology yet: run ``vipkb init``."""

    http_status = 503


class ParameterError(VipkbError, ValueError):
    """A simulator parameter is out of range, of the wrong type or unknown (HTTP 400)."""

    http_status = 400


class SimulationError(VipkbError, RuntimeError):
    """A simulation cannot run on this input (e.g. a tissue lacks a value it needs)."""

    http_status = 422


class UnknownSimulatorError(UnknownResourceError):
    """No simulator plugin of that name is installed (HTTP 404)."""


class AccessDeniedError(VipkbError, PermissionError):
    """The caller may not do this: another user's private data, or a role it does not hold (HTTP 403)."""

    http_status = 403


class AccountError(VipkbError, ValueError):
    """An account request is invalid: a weak password, a malformed user name, an unknown role (HTTP 400)."""

    http_status = 400


class AccountExistsError(AccountError):
    """An account of that name exists already (HTTP 409)."""

    http_status = 409


class ResultTooLargeError(QueryError):
    """A query's result exceeds the configured number of rows or triples."""

    http_status = 422


class QueryTimeoutError(VipkbError, TimeoutError):
    """A query ran past its time limit (or every query slot was busy)."""

    http_status = 503


class LockoutError(AccountError):
    """An administrator tried to disable or demote their own account, which would lock them out (HTTP 409)."""

    http_status = 409


class FileSpaceError(VipkbError, ValueError):
    """A path of a user's file space (``/vip/Home/...``) is malformed or outside it (HTTP 400)."""

    http_status = 400


class FileSpaceConflictError(FileSpaceError):
    """A file-space operation clashes with what is there: a file where a folder is needed, or the reverse (409)."""

    http_status = 409


class CredentialsError(VipkbError, PermissionError):
    """A wrong name or password (HTTP 401); the message never says which of the two."""

    http_status = 401


class TooManyFailuresError(CredentialsError):
    """Too many failed sign-ins for a name or client address; retry later (HTTP 429)."""

    http_status = 429
