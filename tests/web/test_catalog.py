"""The served catalog: models with facets and previews, simulators, simulated data, files."""

from __future__ import annotations

import html
import io
import re

import pytest
from PIL import Image

from vipkb.storage import FileCatalog


def _ids(html: str, table: str) -> list[str]:
    body = html.split(f'id="{table}"', 1)[1].split("</table>", 1)[0]
    return re.findall(r"<tr><td><a href=\"[^\"]+\">([^<]+)</a>", body)


def test_home_links_the_catalog(client):
    page = client.get("/").get_data(as_text=True)
    assert "5 object models" in page and "5 simulators" in page and "3 simulated data</a> from 1 run(s)" in page


@pytest.mark.parametrize("query, expected", [
    ("", ["abdomen", "beating-heart", "brain", "brain-mr-only", "contrast-detail"]),
    ("?ready=PET", ["abdomen", "brain", "contrast-detail"]),
    ("?dynamics=dynamic", ["beating-heart"]),
    ("?dynamics=static&layer_kind=pathological", ["abdomen", "brain"]),
    ("?region=abdominal+organ", ["abdomen", "contrast-detail"]),  # its liver-equivalent rods depict liver
    ("?text=ventricle", ["beating-heart"]),
])
def test_model_facets_and_search(client, query, expected):
    response = client.get("/models" + query)
    assert response.status_code == 200
    assert sorted(_ids(response.get_data(as_text=True), "models")) == expected


def test_model_page_shows_layers_legend_tissues_and_sliders(client):
    page = client.get("/models/brain").get_data(as_text=True)
    assert "Brain" in page or "brain" in page
    assert 'id="slice"' in page and 'id="instant"' not in page  # static: no instant slider
    assert page.count('class="preview"') == 2  # anatomical and tumour layers
    assert 'class="swatch"' in page and "grey matter" in page.lower()
    assert "T1@1.5T=" in page and "ready for: CT, MR, PET, XRay" in page
    heart = client.get("/models/beating-heart/v1?instant=3&z=5").get_data(as_text=True)
    assert 'id="instant"' in heart and 'value="3"' in heart and "i=3" in heart and "z=5" in heart


def test_previews_are_pngs_of_the_requested_slice(client):
    first = client.get("/models/brain/preview.png?layer=anatomy&z=10")
    assert first.status_code == 200 and first.mimetype == "image/png"
    assert Image.open(io.BytesIO(first.data)).size[0] > 0
    other = client.get("/models/brain/preview.png?layer=anatomy&z=40")
    assert other.data != first.data
    heart = [client.get(f"/models/beating-heart/preview.png?layer=heart&tp=0&i={i}").data for i in (0, 5)]
    assert heart[0] != heart[1]  # the heart moves


@pytest.mark.parametrize("url, status, message", [
    ("/models/brain/preview.png?layer=bones", 404, "no layer 'bones'"),
    ("/models/brain/preview.png?layer=anatomy&z=9999", 404, "outside"),
    ("/models/brain/preview.png?layer=anatomy&z=top", 400, "must be an integer"),
    ("/models/brain/preview.png", 400, "give the layer"),
    ("/models/liver", 404, "no model 'liver'"),
    ("/models/brain?instant=4", 404, "no instant 4"),
    ("/simulators/spect", 404, "no simulator 'spect'"),
    ("/data/nothing/here", 404, "no simulated data"),
    ("/files/model/none.bin", 404, "no logical file"),
])
def test_bad_requests_get_a_specific_error(client, url, status, message):
    page = client.get(url)
    assert page.status_code == status and message in html.unescape(page.get_data(as_text=True))
    as_json = client.get(url, headers={"Accept": "application/json"})
    assert as_json.status_code == status and as_json.json["errorCode"] == status
    assert message in as_json.json["errorMessage"]


def test_simulator_pages_list_parameters_and_compatible_models(client):
    listed = client.get("/simulators").get_data(as_text=True)
    assert sorted(_ids(listed, "simulators")) == ["ct", "mri", "pet", "radiography", "ultrasound"]
    ct = client.get("/simulators/ct").get_data(as_text=True)
    assert "<code>kvp</code>" in ct and "<td>kV</td>" in ct
    compatible = ct.split('id="compatible"', 1)[1]
    assert "beating-heart" not in compatible and "contrast-detail" in compatible and "abdomen" in compatible
    mri = html.unescape(client.get("/simulators/mri").get_data(as_text=True))
    assert "spin_echo | gradient_echo | inversion_recovery" in mri and "beating-heart/v1</a>: 10 instant(s)" in mri


def test_simulated_data_pages_show_previews_files_and_provenance(client, web_kb):
    listed = client.get("/data?modality=MR").get_data(as_text=True)
    ids = _ids(listed, "data")
    assert len(ids) == 3 and all(i.startswith("mri-contrast-detail-v1-") for i in ids)
    assert _ids(client.get("/data?modality=PET").get_data(as_text=True), "data") == []
    image = next(i for i in ids if i.endswith("/image"))
    page = client.get(f"/data/{image}").get_data(as_text=True)
    assert 'class="preview"' in page and "image.nii.gz" in page and "metadata.json" in page
    provenance = page.split('id="provenance"', 1)[1]
    assert "carol" in provenance and "version 1.0.0" in provenance and "matrix_readout=32" in provenance
    assert "contrast-detail/v1#tp0-i0" in provenance
    lfn = re.search(r'href="/files/(run/[^"]+/image.nii.gz)"', page).group(1)
    download = client.get(f"/files/{lfn}")
    assert download.status_code == 200 and download.data == FileCatalog(web_kb).read(lfn)
    assert "attachment" in download.headers["Content-Disposition"]
