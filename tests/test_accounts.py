"""Accounts, roles, passwords and API keys (vipkb.accounts), and the `vipkb user` / `vipkb key` commands."""

from __future__ import annotations

import json
import sqlite3
import stat
import threading
from pathlib import Path

import pytest
from click.testing import CliRunner

from vipkb.accounts import Account, AccountStore
from vipkb.cli import main
from vipkb.config import Settings
from vipkb.errors import AccountError, AccountExistsError, UnknownResourceError, VipkbError

PASSWORD = "correct horse battery staple"


class FakeClock:
    """Seconds since the epoch that only move when told to."""

    def __init__(self, now: float = 1_700_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def store(tmp_path: Path, clock: FakeClock) -> AccountStore:
    return AccountStore(tmp_path / "private" / "accounts.sqlite", clock=clock)


@pytest.fixture
def cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    # The knowledge base points at a file, so a command that tried to open it would fail loudly.
    (tmp_path / "not-a-kb").write_text("")
    monkeypatch.setenv("VIPKB_HOME", str(tmp_path / "not-a-kb"))
    monkeypatch.setenv("VIPKB_ACCOUNTS", str(tmp_path / "cli" / "accounts.sqlite"))
    for var in ("VIPKB_STORE", "VIPKB_STORE_UPDATE", "VIPKB_STORE_GSP", "VIPKB_STORAGE"):
        monkeypatch.delenv(var, raising=False)
    return CliRunner()


def test_settings_name_the_accounts_database():
    assert Settings().accounts_path == Path("var/accounts.sqlite")
    assert Settings.from_env({"VIPKB_ACCOUNTS": "/srv/vip/acc.db"}).accounts_path == Path("/srv/vip/acc.db")


def test_create_list_get_and_roles(store):
    assert store.list() == []
    admin = store.create_user("root.admin", "administrator")
    store.create_user("ana", "annotator")
    store.create_user("bob", "user")
    assert [(a.name, a.role) for a in store.list()] == [("ana", "annotator"), ("bob", "user"),
                                                        ("root.admin", "administrator")]
    assert store.get("bob").role == "user" and not admin.has_password
    assert admin.created is not None and admin.created.timestamp() == 1_700_000_000.0
    assert [admin.can(r) for r in ("user", "annotator", "administrator")] == [True, True, True]
    assert [store.get("ana").can(r) for r in ("user", "annotator", "administrator")] == [True, True, False]
    assert [store.get("bob").can(r) for r in ("user", "annotator", "administrator")] == [True, False, False]
    assert store.set_role("bob", "annotator").can("annotator")
    assert not store.disable("ana").can("user")
    assert store.enable("ana").can("annotator")
    with pytest.raises(AccountError, match="not one of user, annotator, administrator"):
        admin.can("admin")
    store.delete("bob")
    with pytest.raises(UnknownResourceError, match="no account named 'bob'"):
        store.get("bob")
    with pytest.raises(LookupError):
        store.set_role("nobody", "user")


def test_database_file_is_private_and_outside_the_kb(store):
    store.list()
    assert store.path.is_file()
    assert stat.S_IMODE(store.path.stat().st_mode) == 0o600


def test_password_right_wrong_unknown_disabled(store):
    store.create_user("alice", "user", password=PASSWORD)
    assert store.get("alice").has_password
    assert store.verify_password("alice", PASSWORD) == store.get("alice")
    assert store.verify_password("alice", PASSWORD + "!") is None
    assert store.verify_password("mallory", PASSWORD) is None
    store.disable("alice")
    assert store.verify_password("alice", PASSWORD) is None
    store.enable("alice")
    store.set_password("alice", "a whole new passphrase")
    assert store.verify_password("alice", PASSWORD) is None
    assert store.verify_password("alice", "a whole new passphrase") is not None
    store.set_password("alice", None)
    assert store.verify_password("alice", "a whole new passphrase") is None


def test_a_sign_in_is_recorded(store, clock):
    store.create_user("ann", "user", "a long enough passphrase")
    assert store.get("ann").last_login is None
    store.verify_password("ann", "wrong passphrase, long")
    assert store.get("ann").last_login is None  # failures are counted elsewhere, never as a sign-in
    clock.now += 100
    assert store.verify_password("ann", "a long enough passphrase").last_login.timestamp() == clock.now
    assert store.get("ann").last_login.timestamp() == clock.now
    assert store.get("ann").as_dict()["last_login"].startswith("20")


def test_a_database_of_the_first_version_is_migrated_in_place(tmp_path, clock):
    path = tmp_path / "old.sqlite"
    conn = sqlite3.connect(path)
    conn.executescript("""CREATE TABLE accounts (name TEXT PRIMARY KEY, role TEXT NOT NULL, password_hash TEXT,
        disabled INTEGER NOT NULL DEFAULT 0, created REAL NOT NULL);
        INSERT INTO accounts VALUES ('old', 'administrator', NULL, 0, 1700000000.0);
        PRAGMA user_version = 1;""")
    conn.close()
    store = AccountStore(path, clock=clock)
    old = store.get("old")
    assert (old.role, old.last_login) == ("administrator", None)
    store.set_password("old", "a long enough passphrase")
    assert store.verify_password("old", "a long enough passphrase").last_login is not None
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == 2
    conn.close()


def test_password_is_stored_hashed(store):
    store.create_user("alice", "user", password=PASSWORD)
    stored = b"".join(p.read_bytes() for p in store.path.parent.iterdir())
    assert PASSWORD.encode() not in stored and b"scrypt:" in stored


@pytest.mark.parametrize("password", ["short", "elevenchars", " " * 20, "x" * 1025])
def test_weak_password_refused(store, password):
    with pytest.raises(AccountError) as err:
        store.create_user("alice", "user", password=password)
    assert isinstance(err.value, ValueError) and err.value.http_status == 400
    with pytest.raises(UnknownResourceError):
        store.get("alice")


def test_weak_password_message_is_actionable(store):
    store.create_user("alice", "user")
    with pytest.raises(AccountError, match="at least 12 characters .this one has 6."):
        store.set_password("alice", "hunter")


@pytest.mark.parametrize("name", ["", "a", "Alice", "-alice", ".alice", "al ice", "al/ice", "a" * 33, "élodie"])
def test_bad_names_refused(store, name):
    with pytest.raises(AccountError, match="is not 2-32 characters"):
        store.create_user(name, "user")


def test_good_names_accepted(store):
    for name in ("al", "j.smith", "x_y-z", "0day", "a" * 32):
        assert store.create_user(name, "user").name == name


def test_bad_role_refused(store):
    with pytest.raises(AccountError, match="role 'admin' is not one of"):
        store.create_user("alice", "admin")
    with pytest.raises(AccountError):
        store.set_role(store.create_user("alice", "user").name, "root")


def test_duplicate_user(store):
    store.create_user("alice", "user")
    with pytest.raises(AccountExistsError, match="exists already") as err:
        store.create_user("alice", "administrator")
    assert isinstance(err.value, AccountError) and isinstance(err.value, VipkbError)
    assert err.value.http_status == 409
    assert store.get("alice").role == "user"


def test_key_issue_authenticate_revoke(store, clock):
    store.create_user("bot", "annotator")
    info, key = store.issue_key("bot", label="nightly  campaign")
    assert key.startswith(f"vk_{info.key_id}_") and len(key) > 40
    assert info.label == "nightly campaign" and info.active and info.last_used is None
    assert store.authenticate_key(key) == store.get("bot")
    assert store.list_keys("bot")[0].last_used.timestamp() == clock.now
    assert store.authenticate_key(key[:-1] + ("A" if key[-1] != "A" else "B")) is None
    assert store.authenticate_key(f"vk_{info.key_id}_" + "x" * 43) is None
    assert store.authenticate_key("vk_00000000_" + key.split("_", 2)[2]) is None
    assert store.authenticate_key("") is None and store.authenticate_key("Bearer nothing") is None
    revoked = store.revoke_key(info.key_id)
    assert not revoked.active and revoked.revoked is not None
    assert store.authenticate_key(key) is None
    assert store.revoke_key(info.key_id).revoked == revoked.revoked  # idempotent
    with pytest.raises(UnknownResourceError, match="no API key with id"):
        store.revoke_key("deadbeef")


def test_last_used_is_written_at_most_once_a_minute(store, clock):
    store.create_user("bot", "user")
    _, key = store.issue_key("bot")
    store.authenticate_key(key)
    first = clock.now
    clock.now += 30
    store.authenticate_key(key)
    assert store.list_keys()[0].last_used.timestamp() == first
    clock.now += 31
    store.authenticate_key(key)
    assert store.list_keys()[0].last_used.timestamp() == clock.now


def test_revoke_by_full_key(store):
    store.create_user("bot", "user")
    info, key = store.issue_key("bot")
    assert store.revoke_key(key).key_id == info.key_id
    assert store.authenticate_key(key) is None


def test_disabled_or_deleted_accounts_keys_refused(store):
    store.create_user("bot", "user")
    _, key = store.issue_key("bot")
    store.disable("bot")
    assert store.authenticate_key(key) is None
    store.enable("bot")
    assert store.authenticate_key(key) is not None
    store.delete("bot")
    assert store.authenticate_key(key) is None
    store.create_user("bot", "user")  # a new account of the same name does not inherit the old keys
    assert store.authenticate_key(key) is None and store.list_keys("bot") == []


def test_keys_listed_per_account(store):
    store.create_user("a1", "user")
    store.create_user("b1", "user")
    ka, _ = store.issue_key("a1")
    kb, _ = store.issue_key("b1")
    assert [k.key_id for k in store.list_keys("a1")] == [ka.key_id]
    assert {k.key_id for k in store.list_keys()} == {ka.key_id, kb.key_id}
    with pytest.raises(UnknownResourceError):
        store.list_keys("c1")
    with pytest.raises(UnknownResourceError):
        store.issue_key("c1")


def test_key_is_stored_hashed(store):
    store.create_user("bot", "user")
    _, key = store.issue_key("bot")
    secret = key.split("_", 2)[2]
    stored = b"".join(p.read_bytes() for p in store.path.parent.iterdir())
    assert stored and key.encode() not in stored and secret.encode() not in stored


def test_failure_counting_window(store, clock):
    for _ in range(3):
        store.record_failure("alice")
        clock.now += 10
    store.record_failure("10.0.0.7")
    assert store.recent_failures("alice", window_s=60) == 3
    assert store.recent_failures("alice", window_s=25) == 2
    assert store.recent_failures("10.0.0.7", window_s=60) == 1
    assert store.recent_failures("bob", window_s=60) == 0
    clock.now += 3600
    assert store.recent_failures("alice", window_s=60) == 0
    clock.now -= 3600
    store.clear_failures("alice")
    assert store.recent_failures("alice", window_s=3600) == 0
    assert store.recent_failures("10.0.0.7", window_s=3600) == 1


def test_old_failures_are_pruned(store, clock):
    store.record_failure("alice")
    clock.now += 2 * 24 * 3600
    store.record_failure("bob")
    assert store.recent_failures("alice", window_s=10 * 24 * 3600) == 0


def test_concurrent_key_issue_from_eight_threads(store):
    store.create_user("bot", "user")
    keys: list[str] = []
    errors: list[BaseException] = []
    lock = threading.Lock()

    def work() -> None:
        try:
            for _ in range(10):
                _, key = store.issue_key("bot")
                assert store.authenticate_key(key) is not None
                store.record_failure("10.0.0.1")
                with lock:
                    keys.append(key)
        except BaseException as err:  # collected: an exception in a thread would otherwise pass unnoticed
            errors.append(err)

    threads = [threading.Thread(target=work) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert len(set(keys)) == 80 and len(store.list_keys("bot")) == 80
    assert store.recent_failures("10.0.0.1", window_s=60) == 80


def test_account_is_frozen():
    account = Account(name="ana", role="user")
    with pytest.raises(AttributeError):
        account.role = "administrator"  # type: ignore[misc]


# -- command line ----------------------------------------------------------------------------------------------


def _accounts(tmp_path: Path) -> AccountStore:
    return AccountStore(tmp_path / "cli" / "accounts.sqlite")


def test_cli_user_round_trip(cli, tmp_path):
    added = cli.invoke(main, ["user", "add", "root", "--role", "administrator", "--password-stdin"],
                       input=PASSWORD + "\n")
    assert added.exit_code == 0, added.output
    assert "created administrator 'root'" in added.output
    store = _accounts(tmp_path)
    assert store.verify_password("root", PASSWORD).can("administrator")
    assert cli.invoke(main, ["user", "add", "ana", "--role", "annotator", "--no-password"]).exit_code == 0
    listed = json.loads(cli.invoke(main, ["user", "list", "--format", "json"]).output)
    assert [(u["name"], u["role"], u["has_password"]) for u in listed] == [("ana", "annotator", False),
                                                                           ("root", "administrator", True)]
    assert cli.invoke(main, ["user", "role", "ana", "user"]).exit_code == 0
    assert cli.invoke(main, ["user", "disable", "ana"]).exit_code == 0
    table = cli.invoke(main, ["user", "list"]).output
    assert "disabled" in next(line for line in table.splitlines() if line.startswith("ana "))
    assert cli.invoke(main, ["user", "enable", "ana"]).exit_code == 0
    assert store.get("ana") == Account(name="ana", role="user", created=store.get("ana").created)
    assert cli.invoke(main, ["user", "passwd", "root", "--password-stdin"], input="another long one\n").exit_code == 0
    assert store.verify_password("root", "another long one") is not None
    assert cli.invoke(main, ["user", "remove", "ana"]).exit_code == 0
    assert [a.name for a in store.list()] == ["root"]


def test_cli_prompts_twice_for_the_password(cli, tmp_path):
    result = cli.invoke(main, ["user", "add", "root", "--role", "administrator"], input=f"{PASSWORD}\n{PASSWORD}\n")
    assert result.exit_code == 0, result.output
    assert "Repeat for confirmation" in result.output and PASSWORD not in result.output
    assert _accounts(tmp_path).verify_password("root", PASSWORD) is not None


def test_cli_keys(cli, tmp_path):
    cli.invoke(main, ["user", "add", "bot", "--no-password"])
    issued = cli.invoke(main, ["key", "issue", "bot", "--label", "cluster"])
    assert issued.exit_code == 0, issued.output
    key = issued.stdout.strip()
    assert "cannot be shown again" in issued.stderr and key not in issued.stderr
    store = _accounts(tmp_path)
    assert store.authenticate_key(key).name == "bot"
    key_id = key.split("_")[1]
    for fmt in ("table", "csv", "json"):
        listed = cli.invoke(main, ["key", "list", "bot", "--format", fmt])
        assert listed.exit_code == 0 and key_id in listed.output
        assert key.split("_", 2)[2] not in listed.output
    assert json.loads(cli.invoke(main, ["key", "list", "--format", "json"]).output)[0]["label"] == "cluster"
    revoked = cli.invoke(main, ["key", "revoke", key_id])
    assert revoked.exit_code == 0 and "revoked" in revoked.output
    assert store.authenticate_key(key) is None
    assert "revoked" in cli.invoke(main, ["key", "list"]).output


@pytest.mark.parametrize(("args", "stdin", "message"), [
    (["user", "add", "Bad Name", "--no-password"], None, "is not 2-32 characters"),
    (["user", "add", "root", "--password-stdin"], "short\n", "at least 12 characters"),
    (["user", "add", "root", "--password-stdin"], "", "standard input is empty"),
    (["user", "add", "taken", "--no-password"], None, "exists already"),
    (["user", "role", "nobody", "user"], None, "no account named 'nobody'"),
    (["user", "passwd", "nobody", "--password-stdin"], PASSWORD + "\n", "no account named 'nobody'"),
    (["user", "remove", "nobody"], None, "no account named 'nobody'"),
    (["key", "issue", "nobody"], None, "no account named 'nobody'"),
    (["key", "revoke", "deadbeef"], None, "no API key with id 'deadbeef'"),
    (["key", "list", "nobody"], None, "no account named 'nobody'"),
])
def test_cli_errors_are_one_line(cli, args, stdin, message):
    cli.invoke(main, ["user", "add", "taken", "--no-password"])
    result = cli.invoke(main, args, input=stdin)
    assert result.exit_code == 1, result.output
    assert result.stderr.startswith("Error: ") and message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.output
