"""User accounts, roles, passwords and API keys, in a SQLite database of their own.

Secrets never enter the knowledge base: a SPARQL endpoint, an export or a
backup of the store must not carry password hashes or key digests.  The
database (``VIPKB_ACCOUNTS``, default ``./var/accounts.sqlite``) is created on
first use, readable by its owner only, in WAL mode so that the web server's
threads and a ``vipkb user`` command can use it at the same time.

Roles are ordered: ``administrator`` can do what an ``annotator`` can, who can
do what a ``user`` can (:meth:`Account.can`).  Passwords are hashed with
werkzeug's salted scrypt.  An API key reads ``vk_<id>_<secret>``: the id is
public (listed, used to revoke), the secret is shown once at creation and only
its digest is stored.

>>> Account(name="ana", role="annotator").can("user")
True
>>> Account(name="ana", role="annotator").can("administrator")
False
"""

from __future__ import annotations

import hashlib
import hmac
import os
import re
import secrets
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from functools import cache
from pathlib import Path

from werkzeug.security import check_password_hash, generate_password_hash

from vipkb.errors import AccountError, AccountExistsError, StoreError, UnknownResourceError

__all__ = ["MIN_PASSWORD_LENGTH", "ROLES", "Account", "AccountStore", "KeyInfo", "check_name", "check_password",
           "check_role"]

#: Roles from least to most privileged; each includes the ones before it.
ROLES = ("user", "annotator", "administrator")
MIN_PASSWORD_LENGTH = 12
# Long enough for any passphrase, short enough that hashing cannot be used to burn CPU.
MAX_PASSWORD_LENGTH = 1024
MAX_LABEL_LENGTH = 200
KEY_PREFIX = "vk"
_NAME = re.compile(r"[a-z0-9][a-z0-9._-]{1,31}")
_KEY = re.compile(rf"{KEY_PREFIX}_([0-9a-f]{{8}})_([A-Za-z0-9_-]{{20,100}})")
# Rewriting last_used on every request would turn each API call into a write; a minute is precise enough.
_LAST_USED_RESOLUTION_S = 60.0
# Failures older than this are pruned: no rate-limit window is expected to be longer.
_FAILURE_RETENTION_S = 24 * 3600.0

_SCHEMA = """
CREATE TABLE IF NOT EXISTS accounts (
    name TEXT PRIMARY KEY,
    role TEXT NOT NULL,
    password_hash TEXT,
    disabled INTEGER NOT NULL DEFAULT 0,
    created REAL NOT NULL,
    last_login REAL
);
CREATE TABLE IF NOT EXISTS api_keys (
    key_id TEXT PRIMARY KEY,
    account TEXT NOT NULL,
    digest TEXT NOT NULL,
    label TEXT NOT NULL DEFAULT '',
    created REAL NOT NULL,
    last_used REAL,
    revoked REAL
);
CREATE INDEX IF NOT EXISTS api_keys_account ON api_keys (account);
CREATE TABLE IF NOT EXISTS login_failures (subject TEXT NOT NULL, at REAL NOT NULL);
CREATE INDEX IF NOT EXISTS login_failures_subject ON login_failures (subject, at);
"""
#: Schema version: 2 added ``accounts.last_login``.
_VERSION = 2


def check_name(name: str) -> str:
    """Return ``name`` if it is a valid user name, else raise :class:`~vipkb.errors.AccountError`.

    >>> check_name("j.smith")
    'j.smith'
    """
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise AccountError(
            f"user name {name!r} is not 2-32 characters of a-z, 0-9, '.', '_' or '-' starting with a letter "
            "or digit, e.g. 'alice' or 'j.smith'"
        )
    return name


def check_role(role: str) -> str:
    """Return ``role`` if it is one of :data:`ROLES`, else raise :class:`~vipkb.errors.AccountError`."""
    if role not in ROLES:
        raise AccountError(f"role {role!r} is not one of {', '.join(ROLES)}")
    return role


def check_password(password: str) -> str:
    """Return ``password`` if the policy accepts it, else raise :class:`~vipkb.errors.AccountError`."""
    if not isinstance(password, str) or len(password) < MIN_PASSWORD_LENGTH:
        got = len(password) if isinstance(password, str) else 0
        raise AccountError(
            f"a password needs at least {MIN_PASSWORD_LENGTH} characters (this one has {got}); "
            "a passphrase of a few unrelated words is long and easy to remember"
        )
    if len(password) > MAX_PASSWORD_LENGTH:
        raise AccountError(f"a password may have at most {MAX_PASSWORD_LENGTH} characters")
    if not password.strip():
        raise AccountError("a password cannot be only white space")
    return password


def _time(value: float | None) -> datetime | None:
    return None if value is None else datetime.fromtimestamp(value, tz=UTC)


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat(timespec="seconds")


def _digest(key: str) -> str:
    # A key holds 256 random bits, so a fast hash is enough: no dictionary or brute-force attack on a leaked
    # digest is feasible, while a slow password hash would cost tens of milliseconds on every API request.
    return hashlib.sha256(key.encode()).hexdigest()


@cache
def _dummy_hash() -> str:
    # Checked against when the account does not exist, so that a wrong name costs as long as a wrong password.
    return generate_password_hash(secrets.token_urlsafe(16))


@dataclass(frozen=True, kw_only=True)
class Account:
    """A user account, without its password hash.

    Parameters
    ----------
    name
        The user name, unique.
    role
        One of :data:`ROLES`.
    disabled
        A disabled account can neither log in nor use its API keys.
    has_password
        Whether password login is possible (an account may use API keys only).
    created
        When the account was created (UTC).
    last_login
        When the account last signed in with its password (UTC), None if never.
    """

    name: str
    role: str
    disabled: bool = False
    has_password: bool = False
    created: datetime | None = None
    last_login: datetime | None = None

    def can(self, role: str) -> bool:
        """Whether this account has the rights of ``role``; a disabled account has none.

        An unknown ``role`` raises :class:`~vipkb.errors.AccountError`: a typo in a permission check must fail
        loudly rather than deny silently.
        """
        wanted = ROLES.index(check_role(role))
        return not self.disabled and ROLES.index(self.role) >= wanted

    def as_dict(self) -> dict:
        """JSON-ready form."""
        return {"name": self.name, "role": self.role, "disabled": self.disabled, "has_password": self.has_password,
                "created": _iso(self.created), "last_login": _iso(self.last_login)}


@dataclass(frozen=True, kw_only=True)
class KeyInfo:
    """What may be shown about an API key: never its secret.

    Parameters
    ----------
    key_id
        Public identifier, the ``<id>`` of ``vk_<id>_<secret>``.
    account
        Name of the owning account.
    label
        Free text saying what the key is for.
    created, last_used, revoked
        Timestamps (UTC); ``last_used`` is updated at most once a minute.
    """

    key_id: str
    account: str
    label: str = ""
    created: datetime | None = None
    last_used: datetime | None = None
    revoked: datetime | None = None

    @property
    def active(self) -> bool:
        """Whether the key has not been revoked."""
        return self.revoked is None

    def as_dict(self) -> dict:
        """JSON-ready form."""
        return {"key_id": self.key_id, "account": self.account, "label": self.label, "created": _iso(self.created),
                "last_used": _iso(self.last_used), "revoked": _iso(self.revoked), "active": self.active}


def _migrate(conn: sqlite3.Connection) -> None:
    """Bring a database written by an older version up to :data:`_VERSION` (in place, keeping every row)."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        columns = {r[1] for r in conn.execute("PRAGMA table_info(accounts)")}
        if "last_login" not in columns:  # version 1
            conn.execute("ALTER TABLE accounts ADD COLUMN last_login REAL")
        conn.execute(f"PRAGMA user_version = {_VERSION}")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")


def _account(row: sqlite3.Row) -> Account:
    return Account(name=row["name"], role=row["role"], disabled=bool(row["disabled"]),
                   has_password=row["password_hash"] is not None, created=_time(row["created"]),
                   last_login=_time(row["last_login"]))


def _key_info(row: sqlite3.Row) -> KeyInfo:
    return KeyInfo(key_id=row["key_id"], account=row["account"], label=row["label"], created=_time(row["created"]),
                   last_used=_time(row["last_used"]), revoked=_time(row["revoked"]))


class AccountStore:
    """Accounts, API keys and failed-login counts in one SQLite file, safe to share between threads.

    Every call opens its own connection, so one store object serves all the threads of a web server, and
    several processes (the server and ``vipkb user``) can use the same file.

    Parameters
    ----------
    path
        The database file; it and its directory are created on first use, the file with mode 0600.
    clock
        Seconds since the epoch; tests pass a fake one.
    """

    def __init__(self, path: str | os.PathLike[str], *, clock: Callable[[], float] = time.time) -> None:
        self.path = Path(path)
        self._clock = clock
        self._ready = False
        self._init_lock = threading.Lock()

    def __repr__(self) -> str:
        return f"AccountStore({str(self.path)!r})"

    # -- connections -------------------------------------------------------------------------------------------

    def _connect(self) -> sqlite3.Connection:
        if not self._ready:
            self._initialise()
        conn = sqlite3.connect(self.path, timeout=30.0, isolation_level=None)
        conn.row_factory = sqlite3.Row
        return conn

    def _initialise(self) -> None:
        with self._init_lock:
            if self._ready:
                return
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                # Create the file ourselves: sqlite3 would create it with the umask's mode, often world-readable.
                os.close(os.open(self.path, os.O_CREAT | os.O_RDWR, 0o600))
                conn = sqlite3.connect(self.path, timeout=30.0, isolation_level=None)
                try:
                    conn.execute("PRAGMA journal_mode=WAL")
                    conn.executescript(f"BEGIN IMMEDIATE;{_SCHEMA}COMMIT;")
                    _migrate(conn)
                finally:
                    conn.close()
            except (OSError, sqlite3.Error) as err:
                reason = err.strerror if isinstance(err, OSError) and err.strerror else err
                raise StoreError(f"accounts database {self.path}: {reason}; set VIPKB_ACCOUNTS to a file path "
                                 "in a writable directory") from err
            self._ready = True

    @contextmanager
    def _read(self) -> Iterator[sqlite3.Connection]:
        try:
            conn = self._connect()
            try:
                yield conn
            finally:
                conn.close()
        except sqlite3.Error as err:
            raise StoreError(f"accounts database {self.path}: {err}") from err

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        # BEGIN IMMEDIATE takes the write lock up front, so a read-then-write never fails half-way on a busy file.
        with self._read() as conn:
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")

    @staticmethod
    def _row(conn: sqlite3.Connection, name: str) -> sqlite3.Row:
        row = conn.execute("SELECT * FROM accounts WHERE name = ?", (name,)).fetchone()
        if row is None:
            raise UnknownResourceError(f"no account named {name!r}; `vipkb user list` shows the accounts")
        return row

    # -- accounts ----------------------------------------------------------------------------------------------

    def create_user(self, name: str, role: str, password: str | None = None) -> Account:
        """Create an account; without a password it can use API keys only.

        Raises
        ------
        AccountExistsError
            The name is taken.
        AccountError
            The name, role or password is not acceptable.
        """
        check_name(name)
        check_role(role)
        digest = generate_password_hash(check_password(password)) if password is not None else None
        with self._write() as conn:
            try:
                conn.execute("INSERT INTO accounts (name, role, password_hash, created) VALUES (?, ?, ?, ?)",
                             (name, role, digest, self._clock()))
            except sqlite3.IntegrityError:
                raise AccountExistsError(f"an account named {name!r} exists already; choose another name, "
                                         "or change that one with `vipkb user role|passwd`") from None
            return _account(self._row(conn, name))

    def get(self, name: str) -> Account:
        """The account called ``name``; :class:`~vipkb.errors.UnknownResourceError` if there is none."""
        with self._read() as conn:
            return _account(self._row(conn, name))

    def list(self) -> list[Account]:
        """Every account, by name."""
        with self._read() as conn:
            return [_account(r) for r in conn.execute("SELECT * FROM accounts ORDER BY name")]

    def _update(self, name: str, sql: str, *params: object) -> Account:
        with self._write() as conn:
            self._row(conn, name)
            conn.execute(sql, (*params, name))
            return _account(self._row(conn, name))

    def set_password(self, name: str, password: str | None) -> Account:
        """Replace the password (``None`` removes password login, API keys keep working)."""
        digest = generate_password_hash(check_password(password)) if password is not None else None
        return self._update(name, "UPDATE accounts SET password_hash = ? WHERE name = ?", digest)

    def set_role(self, name: str, role: str) -> Account:
        """Give the account another role."""
        return self._update(name, "UPDATE accounts SET role = ? WHERE name = ?", check_role(role))

    def disable(self, name: str) -> Account:
        """Refuse the account's password and keys until :meth:`enable`; nothing is deleted."""
        return self._update(name, "UPDATE accounts SET disabled = 1 WHERE name = ?")

    def enable(self, name: str) -> Account:
        """Undo :meth:`disable`."""
        return self._update(name, "UPDATE accounts SET disabled = 0 WHERE name = ?")

    def delete(self, name: str) -> None:
        """Delete the account and its API keys, so that none of them works again."""
        with self._write() as conn:
            self._row(conn, name)
            conn.execute("DELETE FROM api_keys WHERE account = ?", (name,))
            conn.execute("DELETE FROM accounts WHERE name = ?", (name,))

    def verify_password(self, name: str, password: str) -> Account | None:
        """The account if ``password`` is its password and it is enabled, else ``None``.

        An unknown name, an account without password and a disabled account cost one password hash as well,
        so the answer time does not tell whether the account exists.
        """
        with self._read() as conn:
            row = conn.execute("SELECT * FROM accounts WHERE name = ?", (name,)).fetchone()
        stored = row["password_hash"] if row is not None else None
        if not isinstance(password, str) or len(password) > MAX_PASSWORD_LENGTH:
            password = ""
        ok = check_password_hash(stored or _dummy_hash(), password)
        if not ok or stored is None or row["disabled"]:
            return None
        now = self._clock()
        with self._write() as conn:
            conn.execute("UPDATE accounts SET last_login = ? WHERE name = ?", (now, name))
        return replace(_account(row), last_login=_time(now))

    # -- API keys ----------------------------------------------------------------------------------------------

    def issue_key(self, name: str, label: str = "") -> tuple[KeyInfo, str]:
        """Create an API key for ``name``: its public info and the full key, which cannot be recovered later."""
        label = " ".join(label.split())
        if len(label) > MAX_LABEL_LENGTH:
            raise AccountError(f"a key label may have at most {MAX_LABEL_LENGTH} characters")
        with self._write() as conn:
            self._row(conn, name)
            for _ in range(5):  # a clash of 32-bit ids is rare; retry rather than fail
                key_id = secrets.token_hex(4)
                key = f"{KEY_PREFIX}_{key_id}_{secrets.token_urlsafe(32)}"
                try:
                    conn.execute("INSERT INTO api_keys (key_id, account, digest, label, created) VALUES (?,?,?,?,?)",
                                 (key_id, name, _digest(key), label, self._clock()))
                    break
                except sqlite3.IntegrityError:
                    continue
            else:  # pragma: no cover - five clashes in a row means the random source is broken
                raise StoreError("could not draw an unused API key id")
            row = conn.execute("SELECT * FROM api_keys WHERE key_id = ?", (key_id,)).fetchone()
        return _key_info(row), key

    def revoke_key(self, key_id: str) -> KeyInfo:
        """Revoke a key, by its id (or the full key); revoking twice is harmless."""
        match = _KEY.fullmatch(key_id)
        key_id = match.group(1) if match else key_id.removeprefix(f"{KEY_PREFIX}_")
        with self._write() as conn:
            conn.execute("UPDATE api_keys SET revoked = ? WHERE key_id = ? AND revoked IS NULL",
                         (self._clock(), key_id))
            row = conn.execute("SELECT * FROM api_keys WHERE key_id = ?", (key_id,)).fetchone()
        if row is None:
            raise UnknownResourceError(f"no API key with id {key_id!r}; `vipkb key list` shows the keys")
        return _key_info(row)

    def list_keys(self, name: str | None = None) -> list[KeyInfo]:
        """The keys of ``name``, or of every account, oldest first."""
        with self._read() as conn:
            if name is None:
                rows = conn.execute("SELECT * FROM api_keys ORDER BY created, key_id").fetchall()
            else:
                self._row(conn, name)
                rows = conn.execute("SELECT * FROM api_keys WHERE account = ? ORDER BY created, key_id",
                                    (name,)).fetchall()
        return [_key_info(r) for r in rows]

    def authenticate_key(self, key: str) -> Account | None:
        """The account owning ``key`` if the key is valid, not revoked and its account enabled, else ``None``."""
        match = _KEY.fullmatch(key) if isinstance(key, str) else None
        if match is None:
            return None
        with self._read() as conn:
            row = conn.execute(
                "SELECT k.digest, k.revoked, k.last_used, a.* FROM api_keys k JOIN accounts a ON a.name = k.account "
                "WHERE k.key_id = ?", (match.group(1),)).fetchone()
            # Compare even when the id is unknown, so that the time taken says nothing more than the answer.
            if not hmac.compare_digest(_digest(key), row["digest"] if row else "0" * 64) or row is None:
                return None
            if row["revoked"] is not None or row["disabled"]:
                return None
            now = self._clock()
            if row["last_used"] is None or now - row["last_used"] >= _LAST_USED_RESOLUTION_S:
                conn.execute("UPDATE api_keys SET last_used = ? WHERE key_id = ?", (now, match.group(1)))
        return _account(row)

    # -- failed logins -----------------------------------------------------------------------------------------

    def record_failure(self, subject: str) -> None:
        """Note a failed login for ``subject`` (a user name or a client address), for rate limiting."""
        now = self._clock()
        with self._write() as conn:
            conn.execute("DELETE FROM login_failures WHERE at < ?", (now - _FAILURE_RETENTION_S,))
            conn.execute("INSERT INTO login_failures (subject, at) VALUES (?, ?)", (subject, now))

    def recent_failures(self, subject: str, window_s: float) -> int:
        """How many failed logins ``subject`` had in the last ``window_s`` seconds."""
        with self._read() as conn:
            (n,) = conn.execute("SELECT COUNT(*) FROM login_failures WHERE subject = ? AND at > ?",
                                (subject, self._clock() - window_s)).fetchone()
        return n

    def clear_failures(self, subject: str) -> None:
        """Forget the failed logins of ``subject`` (after a successful one)."""
        with self._write() as conn:
            conn.execute("DELETE FROM login_failures WHERE subject = ?", (subject,))
