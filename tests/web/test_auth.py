"""Sign-in, API keys, roles and CSRF protection of the web platform (CSRF stays enabled throughout)."""

from __future__ import annotations

import re
import shutil
import sqlite3
from pathlib import Path

import pytest
from flask import jsonify

from tests.web.conftest import PASSWORD, csrf_token, login
from vipkb.accounts import ROLES, AccountStore
from vipkb.errors import AccountError
from webapp import create_app
from webapp.auth import LOGIN_FAILED, LOGIN_WINDOW_S, csrf_exempt, current_account, require_role, safe_next

#: One account per role.
NAMES = {"user": "ursula", "annotator": "anna", "administrator": "adam"}


class Clock:
    """A settable clock for the account store, so that rate-limit windows pass instantly."""

    def __init__(self) -> None:
        self.now = 1_700_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture(scope="module")
def accounts_template(tmp_path_factory) -> Path:
    # Hashing passwords is slow on purpose: hash them once, and give each test a copy of the database.
    path = tmp_path_factory.mktemp("accounts") / "a.sqlite"
    store = AccountStore(path, clock=Clock())
    for role, name in NAMES.items():
        store.create_user(name, role, PASSWORD)
    with sqlite3.connect(path) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    return path


@pytest.fixture
def accounts(accounts_template, tmp_path, clock) -> AccountStore:
    shutil.copyfile(accounts_template, tmp_path / "a.sqlite")
    return AccountStore(tmp_path / "a.sqlite", clock=clock)


def _whoami():
    account = current_account()
    return jsonify(name=account.name if account else None, role=account.role if account else None)


def _ok():
    return "ok"


@pytest.fixture
def app(web_kb, accounts):
    """A fresh app per test: test-only routes must be added before its first request."""
    app = create_app({"TESTING": True, "SECRET_KEY": "test", "ACCOUNTS": accounts}, kb=web_kb)
    app.add_url_rule("/_test/whoami", "whoami", _whoami)
    app.add_url_rule("/_test/write", "write", _whoami, methods=["POST"])
    app.add_url_rule("/_test/exempt", "exempt", csrf_exempt(lambda: "ok"), methods=["POST"])
    for role in ROLES:
        app.add_url_rule(f"/_test/{role}", f"needs_{role}", require_role(role)(_ok))
    return app


def _whoami_name(client, **kwargs) -> str | None:
    return client.get("/_test/whoami", **kwargs).get_json()["name"]


def _message(response) -> str | None:
    found = re.search(r'<p class="error"[^>]*>([^<]*)</p>', response.get_data(as_text=True))
    return found.group(1) if found else None


# -- signing in and out ----------------------------------------------------------------------------------------

def test_login_starts_a_session_shown_in_the_header(client):
    assert "Sign in" in client.get("/").get_data(as_text=True)
    response = login(client, "ursula")
    assert response.status_code == 302 and response.headers["Location"] == "/"
    assert _whoami_name(client) == "ursula"
    page = client.get("/").get_data(as_text=True)
    assert "ursula" in page and "Sign out" in page


def test_session_cookie_is_httponly_and_samesite_lax(client):
    cookies = login(client, "ursula").headers.getlist("Set-Cookie")
    session_cookie = next(c for c in cookies if c.startswith("session="))
    assert "HttpOnly" in session_cookie and "SameSite=Lax" in session_cookie
    assert "Secure" not in session_cookie  # served on http://127.0.0.1 by default


def test_login_renews_the_session(client):
    with client.session_transaction() as s:
        s["planted"] = "by an attacker"
    login(client, "ursula")
    with client.session_transaction() as s:
        assert "planted" not in s and s["account"] == "ursula"


@pytest.mark.parametrize("name, password", [
    ("ursula", "not the right password"),
    ("nobody", PASSWORD),
    ("Not A Valid Name!", PASSWORD),
])
def test_failed_login_says_the_same_whatever_the_reason(client, accounts, name, password):
    response = login(client, name, password)
    assert response.status_code == 401
    assert _message(response) == LOGIN_FAILED
    assert _whoami_name(client) is None


def test_disabled_account_cannot_sign_in_and_is_told_nothing_more(client, accounts):
    accounts.disable("ursula")
    response = login(client, "ursula")
    assert response.status_code == 401 and _message(response) == LOGIN_FAILED


def test_login_without_csrf_token_is_refused(client):
    response = client.post("/login", data={"name": "ursula", "password": PASSWORD})
    assert response.status_code == 400
    assert _whoami_name(client) is None


def test_logout_needs_the_csrf_token(client):
    login(client, "ursula")
    assert client.post("/logout").status_code == 400
    assert _whoami_name(client) == "ursula"
    response = client.post("/logout", data={"csrf_token": csrf_token(client, "/")})
    assert response.status_code == 302
    assert _whoami_name(client) is None


@pytest.mark.parametrize("target", [
    "//evil.example/x", "http://evil.example/", "https://evil.example", "/\\evil.example", "\\\\evil.example",
    "/\t/evil.example", "javascript:alert(1)", "evil.example", "",
])
def test_login_refuses_to_redirect_off_site(client, target):
    response = login(client, "ursula", next=target)
    assert response.status_code == 302 and response.headers["Location"] == "/"
    assert safe_next(target) is None


def test_login_returns_to_the_page_that_asked(client):
    response = client.get("/_test/user?x=1")
    assert response.status_code == 302
    login_url = response.headers["Location"]
    assert login_url.startswith("/login?next=")
    page = client.get(login_url).get_data(as_text=True)
    target = re.search(r'name="next" value="([^"]+)"', page).group(1)
    assert target == "/_test/user?x=1"
    response = login(client, "ursula", next=target)
    assert response.headers["Location"] == "/_test/user?x=1"
    assert client.get("/_test/user?x=1").get_data(as_text=True) == "ok"


# -- rate limiting ---------------------------------------------------------------------------------------------

def test_sixth_attempt_on_a_name_is_refused_even_with_the_right_password(client):
    # Each failure from its own address, so that only the per-name limit can trigger.
    for i in range(5):
        assert login(client, "ursula", "wrong password!", ip=f"10.0.0.{i}").status_code == 401
    response = login(client, "ursula", ip="10.0.0.99")
    assert response.status_code == 429
    assert int(response.headers["Retry-After"]) == LOGIN_WINDOW_S
    assert _whoami_name(client) is None
    assert login(client, "anna", ip="10.0.0.99").status_code == 302  # other names are not affected


def test_an_address_with_five_failures_is_refused_for_every_name(client):
    for i in range(5):
        assert login(client, f"guess{i}", PASSWORD, ip="192.0.2.7").status_code == 401
    response = login(client, "anna", ip="192.0.2.7")
    assert response.status_code == 429 and "Retry-After" in response.headers
    assert login(client, "anna", ip="192.0.2.8").status_code == 302  # other addresses are not affected


def test_the_limit_lifts_after_the_window(client, clock):
    for i in range(5):
        login(client, "ursula", "wrong password!", ip=f"10.0.0.{i}")
    assert login(client, "ursula").status_code == 429
    clock.now += LOGIN_WINDOW_S + 1
    assert login(client, "ursula").status_code == 302


def test_success_clears_the_names_failures(client):
    for i in range(4):
        login(client, "ursula", "wrong password!", ip=f"10.0.1.{i}")
    assert login(client, "ursula", ip="10.0.1.50").status_code == 302
    for i in range(4):
        login(client, "ursula", "wrong password!", ip=f"10.0.2.{i}")
    assert login(client, "ursula", ip="10.0.2.50").status_code == 302  # 8 failures in all, 4 since success


# -- sessions follow the account -------------------------------------------------------------------------------

def test_disabled_account_session_stops_at_the_next_request(client, accounts):
    login(client, "ursula")
    assert _whoami_name(client) == "ursula"
    accounts.disable("ursula")
    assert _whoami_name(client) is None
    accounts.enable("ursula")
    assert _whoami_name(client) is None  # the session was dropped, not suspended


def test_role_change_takes_effect_at_the_next_request(client, accounts):
    login(client, "ursula")
    assert client.get("/_test/annotator").status_code == 403
    accounts.set_role("ursula", "annotator")
    assert client.get("/_test/annotator").status_code == 200


def test_session_does_not_carry_over_to_a_recreated_account(client, accounts, clock):
    login(client, "ursula")
    accounts.delete("ursula")
    clock.now += 1
    accounts.create_user("ursula", "administrator", "another long passphrase")
    assert _whoami_name(client) is None


# -- API keys --------------------------------------------------------------------------------------------------

def test_api_key_identifies_the_caller_without_a_session(client, accounts):
    _, key = accounts.issue_key("anna", "tests")
    response = client.get("/_test/whoami", headers={"apikey": key})
    assert response.get_json() == {"name": "anna", "role": "annotator"}
    assert not response.headers.getlist("Set-Cookie")


def test_api_key_requests_need_no_csrf_token_but_sessions_do(client, accounts):
    _, key = accounts.issue_key("anna")
    assert client.post("/_test/write", headers={"apikey": key}).get_json()["name"] == "anna"
    assert client.post("/_test/write", json={}).status_code == 400  # a program without key or session
    login(client, "ursula")
    assert client.post("/_test/write").status_code == 400
    assert client.post("/_test/write", headers={"X-CSRFToken": csrf_token(client, "/")}).get_json()["name"] == "ursula"


def test_an_exempt_view_takes_posts_without_token(client):
    assert client.post("/_test/exempt").status_code == 200
    assert client.post("/_test/write").status_code == 400


def _bad_keys(accounts: AccountStore) -> dict[str, str]:
    revoked_info, revoked = accounts.issue_key("anna")
    accounts.revoke_key(revoked_info.key_id)
    _, of_disabled = accounts.issue_key("adam")
    accounts.disable("adam")
    _, valid = accounts.issue_key("ursula")
    return {"malformed": "letmein", "unknown": "vk_deadbeef_" + "A" * 43, "revoked": revoked,
            "of a disabled account": of_disabled, "tampered": valid[:-1] + ("B" if valid[-1] != "B" else "C")}


def test_invalid_or_revoked_key_is_a_401_in_json(client, accounts):
    for why, key in _bad_keys(accounts).items():
        response = client.get("/_test/whoami", headers={"apikey": key, "Accept": "text/html"})
        assert response.status_code == 401, why
        assert response.get_json() == {"errorCode": 401, "errorMessage": "invalid or revoked API key"}, why


def test_a_bad_key_does_not_fall_back_to_the_session(client):
    login(client, "ursula")
    assert client.get("/_test/whoami", headers={"apikey": "vk_deadbeef_" + "A" * 43}).status_code == 401


# -- roles -----------------------------------------------------------------------------------------------------

MATRIX = [(caller, needed) for caller in ROLES for needed in ROLES]


@pytest.mark.parametrize("needed", ROLES)
def test_anonymous_is_401_for_programs_and_sent_to_sign_in_from_a_browser(client, needed):
    response = client.get(f"/_test/{needed}", headers={"Accept": "application/json"})
    assert response.status_code == 401 and response.get_json()["errorCode"] == 401
    response = client.get(f"/_test/{needed}", headers={"Accept": "text/html"})
    assert response.status_code == 302 and response.headers["Location"] == f"/login?next=/_test/{needed}"


def _expected(caller: str, needed: str) -> int:
    return 200 if ROLES.index(caller) >= ROLES.index(needed) else 403


@pytest.mark.parametrize("caller, needed", MATRIX)
def test_require_role_with_a_session(client, caller, needed):
    login(client, NAMES[caller])
    response = client.get(f"/_test/{needed}", headers={"Accept": "application/json"})
    assert response.status_code == _expected(caller, needed)
    if response.status_code == 403:
        assert response.get_json() == {"errorCode": 403, "errorMessage": f"this needs the {needed} role"}


@pytest.mark.parametrize("caller, needed", MATRIX)
def test_require_role_with_an_api_key(client, accounts, caller, needed):
    _, key = accounts.issue_key(NAMES[caller])
    response = client.get(f"/_test/{needed}", headers={"apikey": key})
    assert response.status_code == _expected(caller, needed)


def test_require_role_rejects_an_unknown_role_at_once():
    with pytest.raises(AccountError):
        require_role("admin")
