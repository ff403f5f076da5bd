"""``vipkb user`` and ``vipkb key``: accounts and API keys, a thin layer over :mod:`vipkb.accounts`.

These commands never open the knowledge base: they only need the accounts
database named by ``VIPKB_ACCOUNTS``, so a fresh install gets its first
administrator before anything else is set up.
"""

from __future__ import annotations

import sys

import click

from vipkb.accounts import MIN_PASSWORD_LENGTH, ROLES, AccountStore
from vipkb.cli import _FORMAT, _emit, _fail, guarded
from vipkb.config import Settings

__all__ = ["key", "user"]

_ROLE = click.Choice(ROLES)
_PASSWORD_STDIN = click.option("--password-stdin", is_flag=True,
                               help="Read the password from the first line of standard input (for scripts).")
_USER_COLUMNS = [("name", "user"), ("role", "role"), ("status", "status"), ("password", "password"),
                 ("created", "created"), ("last_login", "last sign-in")]
_KEY_COLUMNS = [("key_id", "key id"), ("account", "user"), ("label", "label"), ("status", "status"),
                ("created", "created"), ("last_used", "last used")]


def _store() -> AccountStore:
    return AccountStore(Settings.from_env().accounts_path)


def _read_password(from_stdin: bool) -> str:
    if from_stdin:
        line = sys.stdin.readline().rstrip("\r\n")
        if not line:
            _fail("--password-stdin: standard input is empty; pipe the password, e.g. `printf %s \"$PW\" | ...`")
        return line
    return click.prompt(f"Password (at least {MIN_PASSWORD_LENGTH} characters)", hide_input=True,
                        confirmation_prompt=True)


@click.group()
def user() -> None:
    """User accounts of the web platform (in $VIPKB_ACCOUNTS, not in the knowledge base)."""


@user.command("add")
@click.argument("name")
@click.option("--role", type=_ROLE, default="user", show_default=True, help="administrator > annotator > user.")
@_PASSWORD_STDIN
@click.option("--no-password", is_flag=True, help="No password login: the account uses API keys only.")
@guarded
def user_add(name: str, role: str, password_stdin: bool, no_password: bool) -> None:
    """Create the account NAME; asks for its password twice unless --password-stdin or --no-password."""
    if password_stdin and no_password:
        raise click.UsageError("--password-stdin and --no-password exclude each other")
    store = _store()
    password = None if no_password else _read_password(password_stdin)
    account = store.create_user(name, role, password)
    click.echo(f"created {account.role} {account.name!r} in {store.path}")


@user.command("passwd")
@click.argument("name")
@_PASSWORD_STDIN
@guarded
def user_passwd(name: str, password_stdin: bool) -> None:
    """Set a new password for NAME."""
    store = _store()
    store.get(name)  # say "no account" before asking for a password
    store.set_password(name, _read_password(password_stdin))
    click.echo(f"password of {name!r} changed")


@user.command("role")
@click.argument("name")
@click.argument("role", type=_ROLE)
@guarded
def user_role(name: str, role: str) -> None:
    """Give NAME the role ROLE."""
    account = _store().set_role(name, role)
    click.echo(f"{account.name!r} is now {account.role}")


@user.command("disable")
@click.argument("name")
@guarded
def user_disable(name: str) -> None:
    """Refuse NAME's password and API keys until `vipkb user enable NAME`."""
    _store().disable(name)
    click.echo(f"{name!r} disabled")


@user.command("enable")
@click.argument("name")
@guarded
def user_enable(name: str) -> None:
    """Let a disabled account log in again."""
    _store().enable(name)
    click.echo(f"{name!r} enabled")


@user.command("remove")
@click.argument("name")
@guarded
def user_remove(name: str) -> None:
    """Delete the account NAME and its API keys."""
    _store().delete(name)
    click.echo(f"{name!r} removed, with its API keys")


@user.command("list")
@_FORMAT
@guarded
def user_list(fmt: str) -> None:
    """List the accounts with their role and status."""
    records = [a.as_dict() for a in _store().list()]
    if fmt != "json":
        for r in records:
            r["status"] = "disabled" if r["disabled"] else "enabled"
            r["password"] = "yes" if r["has_password"] else "no"
    _emit(records, _USER_COLUMNS, fmt)


@click.group()
def key() -> None:
    """API keys of the web platform: issue, list, revoke."""


@key.command("issue")
@click.argument("name")
@click.option("--label", default="", help="What the key is for, e.g. 'nightly campaign on the cluster'.")
@guarded
def key_issue(name: str, label: str) -> None:
    """Issue an API key for NAME and print it, once.

    The key alone goes to standard output, so that scripts can capture it;
    the reminder that it cannot be shown again goes to standard error.
    """
    info, plain = _store().issue_key(name, label)
    click.echo(plain)
    click.echo(f"API key {info.key_id} for {info.account!r}: store it now, it cannot be shown again "
               f"(`vipkb key revoke {info.key_id}` withdraws it)", err=True)


@key.command("revoke")
@click.argument("key_id")
@guarded
def key_revoke(key_id: str) -> None:
    """Revoke the API key KEY_ID (as listed by `vipkb key list`)."""
    info = _store().revoke_key(key_id)
    click.echo(f"API key {info.key_id} of {info.account!r} revoked")


@key.command("list")
@click.argument("name", required=False)
@_FORMAT
@guarded
def key_list(name: str | None, fmt: str) -> None:
    """List the API keys (of NAME, or of everyone); secrets are never shown."""
    records = [k.as_dict() for k in _store().list_keys(name)]
    if fmt != "json":
        for r in records:
            r["status"] = "active" if r["active"] else "revoked"
            r["last_used"] = r["last_used"] or "-"
    _emit(records, _KEY_COLUMNS, fmt)
