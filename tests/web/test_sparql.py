"""The SPARQL 1.1 endpoint over HTTP, driven by SPARQLWrapper against a real waitress server."""

from __future__ import annotations

import csv
import io
import json
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator

import pytest
from SPARQLWrapper import CSV, JSON, JSONLD, N3, POST, POSTDIRECTLY, TSV, TURTLE, XML, SPARQLWrapper
from SPARQLWrapper.SPARQLExceptions import QueryBadFormed

from tests.web.conftest import served
from vipkb.accounts import AccountStore
from webapp import create_app

PREFIXES = "PREFIX vip: <https://w3id.org/vipkb/ontology#>\n"


@pytest.fixture(scope="module")
def accounts(tmp_path_factory) -> AccountStore:
    store = AccountStore(tmp_path_factory.mktemp("accounts") / "a.sqlite")
    store.create_user("ada", "administrator", "correct horse battery")
    store.create_user("uma", "user", "correct horse battery")
    return store


@pytest.fixture(scope="module")
def keys(accounts) -> dict[str, str]:
    return {name: accounts.issue_key(name)[1] for name in ("ada", "uma")}


@pytest.fixture(scope="module")
def server(web_kb, accounts) -> Iterator[str]:
    app = create_app({"TESTING": True, "SECRET_KEY": "t", "ACCOUNTS": accounts, "SPARQL_MAX_RESULTS": 500,
                      "SPARQL_TIMEOUT": 1.0}, kb=web_kb)
    with served(app) as url:
        yield url + "/sparql"


def _http(url: str, *, data: bytes | None = None, headers: dict | None = None) -> tuple[int, str, str]:
    """``(status, content type, body)`` of one request, the connection closed (urllib directly, for error cases)."""
    request = urllib.request.Request(url, data=data, headers=headers or {}, method="POST" if data else "GET")
    try:
        with urllib.request.urlopen(request) as response:
            return response.status, response.headers["Content-Type"], response.read().decode()
    except urllib.error.HTTPError as err:
        with err:
            return err.code, err.headers["Content-Type"], err.read().decode()


def _client(url: str, query: str, fmt=JSON, *, method=None, key: str | None = None) -> SPARQLWrapper:
    client = SPARQLWrapper(url)
    client.setQuery(query)
    client.setReturnFormat(fmt)
    if method is not None:
        client.setMethod(POST)
        if method == POSTDIRECTLY:
            client.setRequestMethod(POSTDIRECTLY)
    if key is not None:
        client.addCustomHttpHeader("apikey", key)
    return client


MODELS = "SELECT ?m WHERE { ?m a vip:ObjectModel } ORDER BY ?m"


@pytest.mark.parametrize("method", [None, "form", POSTDIRECTLY])
def test_select_by_get_form_and_direct_post(server, method):
    answer = _client(server, MODELS, method=method).queryAndConvert()
    models = [b["m"]["value"].rsplit("/model/", 1)[1] for b in answer["results"]["bindings"]]
    assert models == ["abdomen/v1", "beating-heart/v1", "brain-mr-only/v1", "brain/v1", "contrast-detail/v1"]


def test_results_in_every_format(server):
    xml = _client(server, MODELS, XML).queryAndConvert()
    assert len(xml.getElementsByTagName("result")) == 5
    table = list(csv.reader(io.StringIO(_client(server, MODELS, CSV).queryAndConvert().decode())))
    assert table[0] == ["m"] and len(table) == 6
    tsv = _client(server, MODELS, TSV).queryAndConvert().decode().splitlines()
    assert tsv[0] == "?m" and len(tsv) == 6
    assert _client(server, PREFIXES + "ASK { ?m a vip:ObjectModel }").queryAndConvert()["boolean"] is True


def _graph(client: SPARQLWrapper, fmt: str) -> list:
    # The raw answer, parsed by Oxigraph: rdflib's JSON-LD parser (used by SPARQLWrapper) warns of deprecations.
    import pyoxigraph as ox

    media = {JSONLD: "application/ld+json"}.get(fmt, "text/turtle")
    with client.query().response as response:
        assert response.headers["Content-Type"].startswith(media)
        return list(ox.parse(response.read(), format=ox.RdfFormat.from_media_type(media)))


@pytest.mark.parametrize("fmt", [TURTLE, N3, JSONLD])
def test_describe_and_construct_as_rdf(server, fmt):
    described = _graph(_client(server, "DESCRIBE <https://w3id.org/vipkb/simulator/mri>", fmt), fmt)
    assert len(described) > 20
    built = _client(server, PREFIXES + "CONSTRUCT { ?m a vip:ObjectModel } WHERE { ?m a vip:ObjectModel }", fmt)
    assert len(_graph(built, fmt)) == 5


def test_bad_queries_and_formats_get_specific_errors(server):
    with pytest.raises(QueryBadFormed, match="malformed SPARQL"):
        _client(server, "SELECT ?x WHERE { ?x").queryAndConvert()
    status, _, body = _http(server + "?" + urllib.parse.urlencode({"query": MODELS}), headers={"Accept": "image/png"})
    assert status == 406 and "offered: application/sparql-results+json" in body
    status, _, body = _http(server, data=b"x=1", headers={"Content-Type": "text/plain"})
    assert status == 415 and "application/sparql-query" in body
    status, _, body = _http(server, data=urllib.parse.urlencode({"update": "CLEAR ALL",
                                                                 "using-graph-uri": "urn:g"}).encode())
    assert status == 400 and "using-graph-uri" in body
    status, _, body = _http(server + "?" + urllib.parse.urlencode({"update": "CLEAR ALL"}))
    assert status == 405


def test_result_size_and_time_limits(server):
    status, kind, body = _http(server + "?" + urllib.parse.urlencode({"query": "SELECT * WHERE { ?s ?p ?o }"}),
                               headers={"Accept": "application/json"})
    assert status == 422 and json.loads(body)["errorMessage"].startswith("the result has more than 500 rows")
    # About 9 million string comparisons: several seconds, past the 1 s limit, but finite (the slot frees later).
    slow = """SELECT (COUNT(*) AS ?n) WHERE {
      { SELECT ?a WHERE { ?a ?p ?x } LIMIT 3000 } { SELECT ?b WHERE { ?b ?q ?y } LIMIT 3000 }
      FILTER (STR(?a) < STR(?b)) }"""
    started = time.monotonic()
    status, kind, body = _http(server + "?" + urllib.parse.urlencode({"query": slow}),
                               headers={"Accept": "application/json"})
    assert status == 503 and "1 s time limit" in json.loads(body)["errorMessage"]
    assert time.monotonic() - started < 10  # answered at the limit, not when the query ends


INSERT = PREFIXES + """INSERT DATA { GRAPH <https://w3id.org/vipkb/graph/notes> {
  <https://w3id.org/vipkb/note/1> <http://www.w3.org/2000/01/rdf-schema#label> "a note" } }"""
ASK_NOTE = "ASK { <https://w3id.org/vipkb/note/1> ?p ?o }"


def _update(server: str, key: str | None = None) -> tuple[int, str, str]:
    headers = {"Content-Type": "application/sparql-update", "Accept": "application/json"}
    if key is not None:
        headers["apikey"] = key
    return _http(server, data=INSERT.encode(), headers=headers)


def test_updates_are_for_administrators_only(server, keys):
    status, _, body = _update(server)
    assert status == 401 and "need an administrator" in body
    status, _, body = _update(server, keys["uma"])
    assert status == 403 and "only administrators" in body
    status, _, body = _update(server, "vk_00000000_" + "x" * 43)
    assert status == 401 and "invalid or revoked API key" in body
    assert _client(server, ASK_NOTE).queryAndConvert()["boolean"] is False  # nothing changed
    status, _, body = _update(server, keys["ada"])
    assert status == 200 and json.loads(body)["written"] == ["https://w3id.org/vipkb/graph/notes"]
    assert _client(server, ASK_NOTE).queryAndConvert()["boolean"] is True


def test_query_page_for_browsers(app):
    client = app.test_client()
    page = client.get("/sparql", headers={"Accept": "text/html"}).get_data(as_text=True)
    assert 'id="examples"' in page and "image-provenance" in page and "<textarea" in page
    example = client.get("/sparql?example=liver-tumour-mr", headers={"Accept": "text/html"}).get_data(as_text=True)
    assert "vip:LiverTumour" in example
    answered = client.get("/sparql", query_string={"query": MODELS},
                          headers={"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"}).get_data(as_text=True)
    assert 'id="results"' in answered and "5 row(s)" in answered and "contrast-detail/v1" in answered
    plain = client.get("/sparql", query_string={"query": MODELS}, headers={"Accept": "*/*"})
    assert plain.mimetype == "application/sparql-results+json" and len(plain.json["results"]["bindings"]) == 5
