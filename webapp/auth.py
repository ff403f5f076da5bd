"""Who is calling: browser sign-in, API keys, roles, CSRF protection.

A request is authenticated either by an ``apikey`` header (programs) or by
the session cookie (browsers); :func:`current_account` answers the
:class:`~vipkb.accounts.Account` or ``None``.  The session holds only the
account name and a session version: the account is read again on every
request, so disabling an account or changing its role takes effect at the
next request.  An invalid or revoked key is a 401, never a silent fall back
to anonymous access.

Every form ``POST`` (``PUT``, ``PATCH``, ``DELETE``) must carry the CSRF token
(``{{ csrf_token() }}`` in the form, or an ``X-CSRFToken`` header), unless it
is authenticated by an API key (a header a browser never sends by itself) or
its view is marked with :func:`csrf_exempt`.  A program without a session
therefore writes only with an API key.

Other blueprints guard their views with :func:`require_role`::

    @bp.post("/annotations")
    @require_role("annotator")
    def annotate(): ...

Failed sign-ins are rate limited per name and per client address, before the
password is even checked.  Behind a reverse proxy, wrap the app in werkzeug's
``ProxyFix`` so that ``request.remote_addr`` is the client's, not the proxy's.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar
from urllib.parse import urlsplit

from flask import Blueprint, Flask, abort, current_app, g, redirect, render_template, request, session, url_for
from flask_wtf.csrf import CSRFProtect

from vipkb.accounts import Account, AccountStore, check_role
from vipkb.config import Settings
from vipkb.errors import CredentialsError, TooManyFailuresError, UnknownResourceError
from webapp.errors import error_json, wants_json

__all__ = ["API_KEY_HEADER", "LOGIN_WINDOW_S", "MAX_LOGIN_FAILURES", "bp", "check_credentials", "csrf",
           "csrf_exempt", "current_account", "get_accounts", "init_app", "require_role", "safe_next"]

F = TypeVar("F", bound=Callable[..., Any])

#: The request header carrying an API key (``vk_<id>_<secret>``).
API_KEY_HEADER = "apikey"
#: Failed sign-ins tolerated per name and per client address within :data:`LOGIN_WINDOW_S`.
MAX_LOGIN_FAILURES = 5
LOGIN_WINDOW_S = 15 * 60
#: One message for every failed sign-in, so that it does not tell which accounts exist.
LOGIN_FAILED = "wrong name or password"
TOO_MANY = "too many failed sign-ins; try again in a quarter of an hour"
# Bumped when the session's layout changes, which signs everybody out instead of misreading old cookies.
_SESSION_FORMAT = 1
# Longer than any valid name (32): enough to rate-limit a guessed name without storing arbitrary input.
_MAX_SUBJECT = 64

bp = Blueprint("auth", __name__)
csrf = CSRFProtect()


def get_accounts() -> AccountStore:
    """The account store of the current app."""
    return current_app.extensions["accounts"]


def current_account() -> Account | None:
    """The account making the current request, ``None`` when anonymous."""
    return g.get("account")


def csrf_exempt(view: F) -> F:
    """Mark a view as accepting unsafe methods without a CSRF token (e.g. a read-only SPARQL protocol ``POST``).

    Only for views that change nothing on behalf of the session's account: an exempt view can be triggered by
    any web page the signed-in user visits.
    """
    view._vipkb_csrf_exempt = True  # type: ignore[attr-defined]
    return view


def require_role(role: str) -> Callable[[F], F]:
    """Decorate a view so that only accounts with ``role`` (or a higher one) reach it.

    Anonymous callers get a 401 (a browser ``GET`` is redirected to the sign-in page, coming back afterwards);
    signed-in callers without the role get a 403.  Neither message says more than that.

    Parameters
    ----------
    role
        One of :data:`vipkb.accounts.ROLES`; an unknown role raises :class:`~vipkb.errors.AccountError` at
        import time, not at request time.
    """
    check_role(role)

    def decorate(view: F) -> F:
        @functools.wraps(view)
        def guarded(*args: Any, **kwargs: Any) -> Any:
            account = current_account()
            if account is None:
                if request.method in ("GET", "HEAD") and API_KEY_HEADER not in request.headers and not wants_json():
                    return redirect(url_for("auth.login", next=_here()))
                abort(401, "sign in, or send an API key in the apikey header")
            if not account.can(role):
                abort(403, f"this needs the {role} role")
            return view(*args, **kwargs)

        return guarded  # type: ignore[return-value]

    return decorate


def _here() -> str:
    query = request.query_string.decode("latin-1")
    return f"{request.path}?{query}" if query else request.path


def safe_next(target: str | None) -> str | None:
    """``target`` if it is a path on this site, else ``None``: the sign-in page must not redirect elsewhere.

    >>> safe_next("/models?text=brain"), safe_next("//evil.example"), safe_next("https://evil.example/")
    ('/models?text=brain', None, None)
    """
    if not target or not target.startswith("/") or target.startswith("//"):
        return None
    # Browsers read a backslash as a slash and drop tabs and newlines, so "/\evil" or "/\t/evil" leave the site.
    if "\\" in target or any(ord(c) < 0x20 or ord(c) == 0x7F for c in target):
        return None
    parts = urlsplit(target)
    return None if parts.scheme or parts.netloc else target


def _session_version(account: Account) -> str:
    # The creation time ties a session to this account, not to a later one created under the same name.
    created = account.created.timestamp() if account.created else 0.0
    return f"{_SESSION_FORMAT}:{created:.6f}"


def _session_account() -> Account | None:
    name = session.get("account")
    if not isinstance(name, str):
        return None
    try:
        account = get_accounts().get(name)
    except UnknownResourceError:
        account = None
    if account is None or account.disabled or session.get("version") != _session_version(account):
        session.clear()
        return None
    return account


def _csrf_check() -> None:
    if not current_app.config["WTF_CSRF_ENABLED"] or request.endpoint is None:
        return  # no view: the request ends in a 404 or 405 anyway
    view = current_app.view_functions.get(request.endpoint)
    if getattr(view, "_vipkb_csrf_exempt", False):
        return
    csrf.protect()


@bp.before_app_request
def _load_account():
    """Put the caller's account in ``g.account``; refuse a bad API key and an unsafe request without CSRF token."""
    g.account = None
    key = request.headers.get(API_KEY_HEADER)
    if key is not None:
        account = get_accounts().authenticate_key(key)
        if account is None:
            # Always JSON: a key is sent by programs.  Same message for malformed, unknown, revoked, disabled.
            return error_json(401, "invalid or revoked API key")
        g.account = account
        return None
    _csrf_check()
    g.account = _session_account()
    return None


def _failure_subjects(name: str) -> tuple[str, str]:
    return f"name:{name[:_MAX_SUBJECT]}", f"ip:{request.remote_addr or '?'}"


def check_credentials(name: str, password: str) -> Account:
    """The account of a name and password (sign-in form, REST ``authenticate``), rate limited.

    Raises
    ------
    CredentialsError
        401 with one message for every wrong name or password (it does not tell which accounts exist); 429 once
        :data:`MAX_LOGIN_FAILURES` failures per name or client address happened within :data:`LOGIN_WINDOW_S`,
        checked before the password so that a guesser learns nothing more.
    """
    accounts = get_accounts()
    subjects = _failure_subjects(name)
    if any(accounts.recent_failures(s, LOGIN_WINDOW_S) >= MAX_LOGIN_FAILURES for s in subjects):
        raise TooManyFailuresError(TOO_MANY)
    account = accounts.verify_password(name, password)
    if account is None:
        for subject in subjects:
            accounts.record_failure(subject)
        raise CredentialsError(LOGIN_FAILED)
    accounts.clear_failures(subjects[0])
    return account


@bp.route("/login", methods=["GET", "POST"])
def login():
    """The sign-in form; on success the session starts afresh and the browser goes back where it was."""
    target = safe_next(request.values.get("next"))
    if request.method == "GET":
        return render_template("auth/login.html", next=target, name="", message=None)
    name = request.form.get("name", "").strip().lower()
    try:
        account = check_credentials(name, request.form.get("password", ""))
    except CredentialsError as err:
        page = render_template("auth/login.html", next=target, name=name, message=str(err))
        return page, err.http_status, ({"Retry-After": str(LOGIN_WINDOW_S)} if err.http_status == 429 else {})
    # A new session on sign-in: whatever id or token an attacker may have planted before is dropped.
    session.clear()
    session["account"] = account.name
    session["version"] = _session_version(account)
    return redirect(target or url_for("catalog.home"))


@bp.post("/logout")
def logout():
    """End the session (a POST with the CSRF token, so another site cannot sign the user out)."""
    session.clear()
    return redirect(url_for("catalog.home"))


def init_app(app: Flask) -> None:
    """Open the account store, protect forms against CSRF, harden the session cookie, load the caller."""
    accounts = app.config.get("ACCOUNTS")
    if not isinstance(accounts, AccountStore):
        accounts = AccountStore(Settings.from_env().accounts_path)
    app.extensions["accounts"] = accounts

    app.config["SESSION_COOKIE_HTTPONLY"] = True
    if app.config.get("SESSION_COOKIE_SAMESITE") != "Strict":
        app.config["SESSION_COOKIE_SAMESITE"] = "Lax"
    # False by default so that the platform works on http://127.0.0.1; set VIPKB_SESSION_COOKIE_SECURE=true
    # whenever it is served over HTTPS.
    app.config["SESSION_COOKIE_SECURE"] = bool(app.config.get("SESSION_COOKIE_SECURE", False))

    csrf.init_app(app)
    # Flask-WTF's own check cannot exempt API-key requests; _load_account runs it instead.
    app.config["WTF_CSRF_CHECK_DEFAULT"] = False
    app.register_blueprint(bp)  # with it the before_app_request loader and the template context


@bp.app_context_processor
def _template_context() -> dict[str, Any]:
    return {"current_account": current_account()}
