"""The REST API against its own OpenAPI document: schemathesis generates requests for every operation and checks
that none crashes the server (5xx) and every answer matches the document (status, content type, body schema)."""

from __future__ import annotations

import re

import hypothesis
import pytest
import schemathesis
from openapi_spec_validator import validate
from schemathesis.specs.openapi import checks as openapi_checks

from tests.web.conftest import PASSWORD, kb_copy
from vipkb.accounts import AccountStore
from webapp import create_app
from webapp.rest.openapi import document

CHECKS = [schemathesis.checks.not_a_server_error, openapi_checks.status_code_conformance,
          openapi_checks.content_type_conformance, openapi_checks.response_schema_conformance]


@pytest.fixture(scope="module")
def api(seeded_kb, tmp_path_factory):
    root = tmp_path_factory.mktemp("openapi")
    kb = kb_copy(seeded_kb, root)
    accounts = AccountStore(root / "accounts.sqlite")
    accounts.create_user("fuzz", "user", PASSWORD)
    key = accounts.issue_key("fuzz")[1]
    app = create_app({"TESTING": True, "SECRET_KEY": "t", "ACCOUNTS": accounts, "RUN_BACKEND": "inline"}, kb=kb)
    return app, key


def test_the_document_is_valid_openapi():
    validate(document())


def test_the_server_keeps_to_its_document(api):
    """Every operation, with generated valid and invalid-but-parseable inputs (schemathesis's own pytest loader
    does not run under pytest 9, so the operations are driven through hypothesis directly)."""
    app, key = api
    schema = schemathesis.openapi.from_wsgi("/rest/openapi.json", app)
    operations = [result.ok() for result in schema.get_all_operations()]
    documented = {(op.method.upper(), op.path) for op in operations}
    served = {(method, re.sub(r"<(?:path:)?(\w+)>", r"{\1}", rule.rule.removeprefix("/rest")))
              for rule in app.url_map.iter_rules()
              if rule.endpoint.startswith("rest.") and rule.endpoint != "rest.openapi"
              for method in rule.methods - {"HEAD", "OPTIONS"}}
    assert documented == served  # every route of the API is in the document, and nothing else
    calls = []
    for operation in operations:
        @hypothesis.given(case=operation.as_strategy())
        @hypothesis.settings(max_examples=25, deadline=None, suppress_health_check=list(hypothesis.HealthCheck),
                             derandomize=True, database=None)
        def check(case):
            calls.append(case.call_and_validate(headers={"apikey": key}, checks=CHECKS).status_code)

        check()
    assert len(calls) > 10 * len(operations) and any(200 <= c < 300 for c in calls) and 400 in calls
