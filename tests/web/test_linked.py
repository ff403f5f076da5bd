"""Dereferenceable IRIs: RDF by content negotiation, pages for browsers."""

from __future__ import annotations

import json

import pyoxigraph as ox
import pytest

from vipkb.namespaces import BASE

VIP = "https://w3id.org/vipkb/ontology#"
RDF_TYPE = "http://www.w3.org/1999/02/22-rdf-syntax-ns#type"


def _triples(response) -> set[tuple[str, str, str]]:
    fmt = ox.RdfFormat.from_media_type(response.mimetype)
    return {(t.subject.value, t.predicate.value, t.object.value) for t in ox.parse(response.data, format=fmt)}


@pytest.fixture(scope="module")
def run_id(web_kb) -> str:
    from vipkb.runs import list_runs

    return list_runs(web_kb)[0].id


@pytest.mark.parametrize("media_type", ["text/turtle", "application/n-triples", "application/ld+json",
                                        "application/rdf+xml"])
def test_a_model_version_in_every_rdf_syntax(client, media_type):
    response = client.get("/model/brain/v1", headers={"Accept": media_type})
    assert response.status_code == 200 and response.mimetype == media_type and "Accept" in response.vary
    triples = _triples(response)
    model = f"{BASE}model/brain/v1"
    assert (model, RDF_TYPE, VIP + "ObjectModel") in triples
    assert (model, VIP + "hasTimePoint", model + "#tp0") in triples  # its structure comes with it
    assert (model, VIP + "readyFor", VIP + "MR") in triples  # and what the reasoner inferred
    if media_type == "application/ld+json":
        assert isinstance(json.loads(response.data), list | dict)


def test_browsers_get_pages(client, run_id):
    assert client.get("/model/brain/v1", headers={"Accept": "text/html"}).headers["Location"] == "/models/brain/v1"
    simulator = client.get("/simulator/mri", headers={"Accept": "text/html,*/*;q=0.8"})
    assert simulator.status_code == 303 and simulator.headers["Location"] == "/simulators/mri"
    run = client.get(f"/run/{run_id}", headers={"Accept": "text/html"})
    assert run.status_code == 303 and run.headers["Location"] == f"/runs/{run_id}"
    agent = client.get("/agent/carol", headers={"Accept": "text/html"})
    assert agent.status_code == 200 and 'id="description"' in agent.get_data(as_text=True)
    ontology = client.get("/ontology", headers={"Accept": "text/html"}).get_data(as_text=True)
    assert "SimulationRun" in ontology


def test_runs_data_files_people_and_the_ontology(client, run_id):
    run = _triples(client.get(f"/run/{run_id}", headers={"Accept": "text/turtle"}))
    assert (f"{BASE}run/{run_id}", RDF_TYPE, VIP + "SimulationRun") in run
    assert any(p == VIP + "hasTask" for _, p, _ in run)
    data = client.get(f"/data/{run_id}/image", headers={"Accept": "application/n-triples"})
    assert (f"{BASE}data/{run_id}/image", RDF_TYPE, VIP + "SimulatedData") in _triples(data)
    assert client.get(f"/data/{run_id}/image", headers={"Accept": "text/html"}).mimetype == "text/html"
    lfn = f"run/{run_id}/image.nii.gz"
    catalogued = _triples(client.get(f"/file/{lfn}", headers={"Accept": "text/turtle"}))
    assert (f"{BASE}file/{lfn}", VIP + "logicalName", lfn) in catalogued
    assert sum(p == VIP + "hasReplica" for _, p, _ in catalogued) == 2
    person = _triples(client.get("/agent/carol", headers={"Accept": "text/turtle"}))
    assert (f"{BASE}run/{run_id}", "http://www.w3.org/ns/prov#wasAssociatedWith", f"{BASE}agent/carol") in person
    concept = _triples(client.get("/model/brain", headers={"Accept": "text/turtle"}))
    assert (f"{BASE}model/brain/v1", "http://purl.org/dc/terms/isVersionOf", f"{BASE}model/brain") in concept
    ontology = client.get("/ontology")
    assert ontology.mimetype == "text/turtle" and ("https://w3id.org/vipkb/ontology", RDF_TYPE,
                                                   "http://www.w3.org/2002/07/owl#Ontology") in _triples(ontology)


def test_unknown_iris_are_404(client):
    for path in ("/run/nope", "/model/nope/v9", "/agent/nobody", "/file/run/x/y.bin"):
        response = client.get(path, headers={"Accept": "text/turtle"})
        assert response.status_code == 404 and "nothing is known about" in response.get_data(as_text=True)
