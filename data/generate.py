"""Generate the bundled object models, deterministically (same bytes every run).

Run ``python data/generate.py [OUT]`` from anywhere; it rewrites ``data/models/<id>/``
(label maps as gzip-compressed NIfTI-1 with mtime 0, look-up tables as CSV,
``model.json``).  ``vipkb init`` imports these archives.

Every physical value carries its source in ``model.json``; values that no
published table gives are marked "Assumed: ..." with the reason, so a reader
knows which numbers to replace for quantitative work.
"""

from __future__ import annotations

import gzip
import json
import shutil
import sys
from pathlib import Path

import nibabel as nib
import numpy as np

OUT = Path(__file__).resolve().parent / "models"

# --- Sources ---------------------------------------------------------------

STANISZ = "https://doi.org/10.1002/mrm.20605"  # Stanisz et al., MRM 2005: T1/T2 at 1.5 T and 3 T
BAZELAIRE = "https://doi.org/10.1148/radiol.2303021331"  # de Bazelaire et al., Radiology 2004: abdomen 1.5/3 T
KWAN = "https://doi.org/10.1109/42.816072"  # Kwan, Evans, Pike, IEEE TMI 1999 (BrainWeb tissue table, 1.5 T)
NIST = "https://doi.org/10.18434/T4D01F"  # Hubbell & Seltzer, NIST X-ray attenuation tables (ICRU-44 tissues)
ICRU46 = "ICRU Report 46 (1992), Photon, electron, proton and neutron interaction data for body tissues"
DUCK = "Duck FA, Physical Properties of Tissue, Academic Press 1990, ISBN 0-12-222800-6"
WAGNER = "https://doi.org/10.1109/T-SU.1983.31404"  # Wagner et al. 1983: speckle statistics
ASSUMED_PD = "Assumed: relative proton density (water = 1) from typical water content; no published table used"
ASSUMED_SUV = ("Assumed: typical FDG SUV of the tissue, converted as SUV x 370 MBq / 70 kg x mass density; "
               "protocol scale after Boellaard et al. 2015, https://doi.org/10.1007/s00259-014-2961-x")
ASSUMED_US = ("Modelling choice: 1e10 scatterers/m3 (10 per mm3) gives fully developed speckle "
              "(many scatterers per resolution cell, Wagner et al. 1983); relative reflectivity sets B-mode contrast")

# --- Tissues -----------------------------------------------------------------
# MR: (T1, T2) in ms at 1.5 T and 3 T with their sources; PD relative to water.
# CT: ICRU-44/46 elemental mass fractions and densities (kg/m3).

COMPOSITION = {
    "water": (1000.0, "H:0.111894 O:0.888106", NIST),
    "adipose": (950.0, "H:0.114 C:0.598 N:0.007 O:0.278 Na:0.001 S:0.001 Cl:0.001", NIST),
    "muscle": (1050.0, "H:0.102 C:0.143 N:0.034 O:0.710 Na:0.001 P:0.002 S:0.003 Cl:0.001 K:0.004", NIST),
    "soft": (1060.0, "H:0.102 C:0.143 N:0.034 O:0.708 Na:0.002 P:0.003 S:0.003 Cl:0.002 K:0.003", NIST),
    "blood": (1060.0, "H:0.102 C:0.110 N:0.033 O:0.745 Na:0.001 P:0.001 S:0.002 Cl:0.003 K:0.002 Fe:0.001", NIST),
    "brain": (1040.0, "H:0.107 C:0.145 N:0.022 O:0.712 Na:0.002 P:0.004 S:0.002 Cl:0.003 K:0.003", NIST),
    "lung": (260.0, "H:0.103 C:0.105 N:0.031 O:0.749 Na:0.002 P:0.002 S:0.003 Cl:0.003 K:0.002", NIST),
    "bone": (1920.0, "H:0.034 C:0.155 N:0.042 O:0.435 Na:0.001 Mg:0.002 P:0.103 S:0.003 Ca:0.225", NIST),
    "liver": (1060.0, "H:0.102 C:0.139 N:0.030 O:0.716 Na:0.002 P:0.003 S:0.003 Cl:0.002 K:0.003", ICRU46),
    "kidney": (1050.0, "H:0.103 C:0.132 N:0.030 O:0.724 Na:0.002 P:0.002 S:0.002 Cl:0.002 K:0.002 Ca:0.001",
               ICRU46),
    "spleen": (1060.0, "H:0.103 C:0.113 N:0.032 O:0.741 Na:0.001 P:0.003 S:0.002 Cl:0.002 K:0.003", ICRU46),
}

TISSUES: dict[str, dict] = {
    # name: label, depicts, MR {(field): (T1, T2, source)}, PD, composition key, speed of sound, SUV, reflectivity
    "scalp": dict(label="scalp", depicts=["obo:UBERON_0000403"], pd=0.8, comp="soft", c=1540.0, suv=1.0, refl=0.8,
                  mr_note="skeletal muscle values stand for scalp soft tissue",
                  mr={1.5: (1008.0, 44.0, STANISZ), 3.0: (1412.0, 50.0, STANISZ)}),
    "skull": dict(label="skull", depicts=["obo:UBERON_0003129"], pd=0.1, comp="bone", c=3500.0, suv=0.6, refl=1.0,
                  mr_note="vertebral bone-marrow values stand for the skull's diploe",
                  mr={1.5: (549.0, 49.0, BAZELAIRE), 3.0: (586.0, 49.0, BAZELAIRE)}),
    "csf": dict(label="cerebrospinal fluid", depicts=["obo:UBERON_0001359"], pd=1.0, pd_src=KWAN, comp="water",
                c=1515.0,
                suv=0.3, refl=0.05, mr={1.5: (2569.0, 329.0, KWAN),
                                        3.0: (2569.0, 329.0, "Assumed: BrainWeb 1.5 T values (Kwan et al. 1999, "
                                                             "https://doi.org/10.1109/42.816072); free-water "
                                                             "relaxation varies little between 1.5 T and 3 T")}),
    "grey": dict(label="grey matter", depicts=["obo:UBERON_0002020"], pd=0.86, pd_src=KWAN, comp="brain",
                 c=1540.0, suv=8.0, refl=0.6, mr={1.5: (1124.0, 95.0, STANISZ), 3.0: (1820.0, 99.0, STANISZ)}),
    "white": dict(label="white matter", depicts=["obo:UBERON_0002316"], pd=0.77, pd_src=KWAN, comp="brain",
                  c=1540.0, suv=3.0, refl=0.7, mr={1.5: (884.0, 72.0, STANISZ), 3.0: (1084.0, 69.0, STANISZ)}),
    "glioma": dict(label="brain tumour", depicts=["vip:BrainTumour"], pd=0.9, comp="brain", c=1545.0, suv=10.0,
                   refl=1.2, mr={1.5: (1300.0, 150.0, None), 3.0: (1900.0, 140.0, None)},
                   mr_note="lengthened T1 and T2 of an oedematous high-grade tumour relative to grey matter"),
    "liver": dict(label="liver", depicts=["obo:UBERON_0002107"], pd=0.7, comp="liver", c=1570.0, suv=2.5,
                  refl=0.8, mr={1.5: (586.0, 46.0, BAZELAIRE), 3.0: (809.0, 34.0, BAZELAIRE)}),
    "liver-tumour": dict(label="liver tumour", depicts=["vip:LiverTumour"], pd=0.8, comp="liver", c=1580.0,
                         suv=6.0, refl=0.4, mr={1.5: (1000.0, 80.0, None), 3.0: (1250.0, 70.0, None)},
                         mr_note="hepatic metastasis, T1 and T2 longer than liver parenchyma"),
    "kidney": dict(label="kidney", depicts=["obo:UBERON_0002113"], pd=0.8, comp="kidney", c=1560.0, suv=3.0,
                   refl=0.6, mr={1.5: (966.0, 87.0, BAZELAIRE), 3.0: (1142.0, 76.0, BAZELAIRE)}),
    "spleen": dict(label="spleen", depicts=["obo:UBERON_0002106"], pd=0.8, comp="spleen", c=1565.0, suv=2.0,
                   refl=0.5, mr={1.5: (1057.0, 79.0, BAZELAIRE), 3.0: (1328.0, 61.0, BAZELAIRE)}),
    "spine": dict(label="vertebral column", depicts=["obo:UBERON_0001130"], pd=0.5, comp="bone", c=3500.0,
                  suv=1.5, refl=1.0, mr={1.5: (549.0, 49.0, BAZELAIRE), 3.0: (586.0, 49.0, BAZELAIRE)}),
    "lung": dict(label="lung", depicts=["obo:UBERON_0002048"], pd=0.1, comp="lung", c=650.0, suv=0.5, refl=1.0,
                 mr={1.5: (1100.0, 40.0, None), 3.0: (1300.0, 30.0, None)},
                 mr_note="lung parenchyma, low proton density, short T2"),
    "fat": dict(label="adipose tissue", depicts=["obo:UBERON_0001013"], pd=0.9, comp="adipose", c=1450.0, suv=0.4,
                refl=0.5, mr={1.5: (343.0, 58.0, BAZELAIRE), 3.0: (382.0, 68.0, BAZELAIRE)}),
    "muscle": dict(label="skeletal muscle", depicts=["obo:UBERON_0001134"], pd=0.8, comp="muscle", c=1580.0,
                   suv=0.8, refl=0.7, mr={1.5: (1008.0, 44.0, STANISZ), 3.0: (1412.0, 50.0, STANISZ)}),
    "blood": dict(label="blood pool", depicts=["obo:UBERON_0000178"], pd=0.9, comp="blood", c=1575.0, suv=1.8,
                  refl=0.05, mr={1.5: (1441.0, 290.0, STANISZ), 3.0: (1932.0, 275.0, STANISZ)}),
    "myocardium": dict(label="myocardium", depicts=["obo:UBERON_0002349"], pd=0.8, comp="muscle", c=1570.0,
                       suv=3.0, refl=0.8, mr={1.5: (1030.0, 40.0, STANISZ), 3.0: (1471.0, 47.0, STANISZ)}),
    "water": dict(label="water", depicts=["obo:CHEBI_15377"], pd=1.0, comp="water", c=1480.0, suv=1.0, refl=0.05,
                  mr_note="BrainWeb CSF values stand for the free water of the phantom",
                  mr={1.5: (2569.0, 329.0, KWAN), 3.0: (2569.0, 329.0, KWAN)}),
}


def _cylinder(shape, centre, radius, axis_half=None, zooms=(1.0, 1.0, 1.0)):
    """Boolean mask of a z-aligned cylinder (mm units)."""
    x, y, z = (np.arange(n) * dz for n, dz in zip(shape, zooms, strict=True))
    xx, yy, zz = np.meshgrid(x, y, z, indexing="ij")
    mask = (xx - centre[0]) ** 2 + (yy - centre[1]) ** 2 <= radius**2
    if axis_half is not None:
        mask &= np.abs(zz - centre[2]) <= axis_half
    return mask


def _ellipsoid(shape, centre, radii, zooms=(1.0, 1.0, 1.0)):
    """Boolean mask of an axis-aligned ellipsoid (mm units)."""
    x, y, z = (np.arange(n) * dz for n, dz in zip(shape, zooms, strict=True))
    xx, yy, zz = np.meshgrid(x, y, z, indexing="ij")
    return ((xx - centre[0]) / radii[0]) ** 2 + ((yy - centre[1]) / radii[1]) ** 2 + \
        ((zz - centre[2]) / radii[2]) ** 2 <= 1.0


def _nifti(data: np.ndarray, zooms) -> bytes:
    affine = np.diag([*zooms, 1.0])
    affine[:3, 3] = -np.array(data.shape) * np.array(zooms) / 2  # centre the volume on the scanner origin
    image = nib.Nifti1Image(data.astype(np.uint8), affine)
    image.header.set_xyzt_units("mm", "sec")
    return gzip.compress(image.to_bytes(), compresslevel=9, mtime=0)


def _lut(rows: list[tuple[int, str, str]], columns: list[str]) -> tuple[str, dict]:
    """A LUT CSV for (label, tissue key, material) rows, and the per-tissue sources of its columns."""
    lines = [",".join(["label", "tissue", *columns])]
    sources: dict[str, dict[str, str]] = {c: {} for c in columns}
    for label, key, material in rows:
        cells = [str(label), key]
        for col in columns:
            value, source = _value(TISSUES[material], col)
            cells.append(value)
            sources[col][key] = source
        lines.append(",".join(cells))
    return "\n".join(lines) + "\n", sources


def _rows(pairs: list[tuple[int, str]]) -> list[tuple[int, str, str]]:
    return [(label, name, name) for label, name in pairs]


def _value(t: dict, column: str) -> tuple[str, str]:
    """One tissue's value for one LUT column, with its citation."""
    kind = column.split("@")[0].split("(")[0].split(" ")[0]
    if kind in ("T1", "T2"):
        field = float(column.split("@")[1].split("T")[0])
        t1, t2, source = t["mr"][field]
        note = t.get("mr_note")
        if source is None:
            source = f"Assumed: {note}"
        elif note:
            source = f"{source} ({note})"
        return f"{t1 if kind == 'T1' else t2:g}", source
    if kind == "ProtonDensity":
        return f"{t['pd']:g}", t.get("pd_src", ASSUMED_PD)
    density, composition, source = COMPOSITION[t["comp"]]
    if kind == "MassDensity":
        return f"{density:g}", source
    if kind == "ElementalComposition":
        return composition, source
    if kind == "SpeedOfSound":
        return f"{t['c']:g}", DUCK
    if kind == "ScattererDensity":
        return "1e+10", ASSUMED_US
    if kind == "ScattererReflectivity":
        return f"{t['refl']:g}", ASSUMED_US
    if kind == "RadioactiveConcentration":
        return f"{t['suv'] * 370e6 / 70e3 * density * 1e3:.4g}", ASSUMED_SUV  # kg/m3 -> g/m3
    raise ValueError(column)


MR = ["T1@1.5T [ms]", "T2@1.5T [ms]", "T1@3T [ms]", "T2@3T [ms]", "ProtonDensity [1]"]
MR15 = ["T1@1.5T [ms]", "T2@1.5T [ms]", "ProtonDensity [1]"]
CT = ["MassDensity [kg/m3]", "ElementalComposition [mass fraction]"]
US = ["SpeedOfSound [m/s]", "ScattererDensity [m-3]", "ScattererReflectivity [1]"]
PET = ["RadioactiveConcentration(FDG) [Bq/m3]"]


def _write(folder: Path, meta: dict, files: dict[str, bytes]) -> None:
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    files = {**files, "model.json": (json.dumps(meta, indent=1, sort_keys=True) + "\n").encode()}
    for name, data in sorted(files.items()):
        (folder / name).write_bytes(data)


def _layers_meta(layers: list[tuple[str, str, str, str]]) -> list[dict]:
    return [{"name": n, "kind": k, "labels": f, "lut": lut} for n, k, f, lut in layers]


def _static(layers) -> list[dict]:
    return [{"index": 0, "instants": [{"index": 0, "layers": _layers_meta(layers)}]}]


def _tissues(names) -> dict:
    return {n: {"label": TISSUES[n]["label"], "depicts": TISSUES[n]["depicts"]} for n in names}


def _merge_sources(*sources: dict) -> dict:
    out: dict[str, dict[str, str]] = {}
    for s in sources:
        for col, by_tissue in s.items():
            out.setdefault(col, {}).update(by_tissue)
    return out


def brain(out: Path) -> None:
    """Brain, 1 mm voxels: scalp, skull, CSF, grey and white matter; a tumour in its own layer."""
    zooms, shape = (1.0, 1.0, 1.0), (160, 192, 150)
    c = (80.0, 96.0, 70.0)
    anatomy = np.zeros(shape, np.uint8)
    rings = [(1, "scalp", (72, 90, 66)), (2, "skull", (66, 84, 60)), (3, "csf", (61, 79, 55)),
             (4, "grey", (58, 76, 52)), (5, "white", (50, 67, 44))]
    for label, _, radii in rings:
        anatomy[_ellipsoid(shape, c, radii, zooms)] = label
    # Ventricles (CSF) inside the white matter.
    for dx in (-8.0, 8.0):
        anatomy[_ellipsoid(shape, (c[0] + dx, c[1] + 5, c[2] + 8), (5, 18, 8), zooms)] = 3
    tumour = np.zeros(shape, np.uint8)
    tumour[_ellipsoid(shape, (c[0] + 25, c[1] - 20, c[2] + 15), (9, 11, 8), zooms)] = 1
    columns = MR + CT + PET
    lut_a, src_a = _lut(_rows([(label, name) for label, name, _ in rings]), columns)
    lut_p, src_p = _lut(_rows([(1, "glioma")]), columns)
    meta = {"id": "brain", "label": "Brain with tumour", "dynamics": "static",
            "description": "Head with scalp, skull, CSF (with ventricles), grey and white matter at 1 mm, and a "
                           "brain tumour in a pathological layer. MR (1.5 T, 3 T), CT/X-ray and FDG PET parameters.",
            "license": "https://creativecommons.org/licenses/by/4.0/", "modalities": ["MR", "CT", "XRay", "PET"],
            "tissues": _tissues([n for _, n, _ in rings] + ["glioma"]), "sources": _merge_sources(src_a, src_p),
            "time_points": _static([("anatomy", "anatomical", "anatomy.nii.gz", "anatomy.csv"),
                                    ("tumour", "pathological", "tumour.nii.gz", "tumour.csv")])}
    _write(out / "brain", meta, {"anatomy.nii.gz": _nifti(anatomy, zooms), "tumour.nii.gz": _nifti(tumour, zooms),
                           "anatomy.csv": lut_a.encode(), "tumour.csv": lut_p.encode()})


def abdomen(out: Path) -> None:
    """Abdomen, 2 mm voxels: liver with a tumour, kidneys, spleen, spine, lungs, fat, soft tissue."""
    zooms, shape = (2.0, 2.0, 2.0), (180, 130, 110)
    body_c = (180.0, 130.0, 110.0)
    labels = np.zeros(shape, np.uint8)
    parts = [(1, "fat", _ellipsoid(shape, body_c, (170, 120, 200), zooms)),
             (2, "muscle", _ellipsoid(shape, body_c, (155, 105, 200), zooms)),
             (3, "lung", _ellipsoid(shape, (120, 130, 200), (55, 60, 45), zooms)
              | _ellipsoid(shape, (240, 130, 200), (55, 60, 45), zooms)),
             (4, "liver", _ellipsoid(shape, (115, 125, 120), (65, 55, 50), zooms)),
             (5, "spleen", _ellipsoid(shape, (255, 150, 125), (25, 35, 30), zooms)),
             (6, "kidney", _ellipsoid(shape, (125, 185, 70), (22, 28, 45), zooms)
              | _ellipsoid(shape, (235, 185, 70), (22, 28, 45), zooms)),
             (7, "spine", _cylinder(shape, (180, 205), 16, zooms=zooms))]
    for label, _, mask in parts:
        # Fat fills the body; every other part lies inside it.
        labels[mask if label == 1 else mask & (labels > 0)] = label
    lesion = np.zeros(shape, np.uint8)
    lesion[_ellipsoid(shape, (100, 110, 125), (14, 12, 12), zooms)] = 1
    names = [n for _, n, _ in parts]
    columns = MR + CT + US + PET
    lut_a, src_a = _lut(_rows([(label, n) for label, n, _ in parts]), columns)
    lut_p, src_p = _lut(_rows([(1, "liver-tumour")]), columns)
    meta = {"id": "abdomen", "label": "Abdomen with liver tumour", "dynamics": "static",
            "description": "Abdomen at 2 mm: subcutaneous fat, muscle wall, lungs (bases), liver, spleen, kidneys "
                           "and spine, with a liver tumour in a pathological layer. MR, CT/X-ray, ultrasound, PET.",
            "license": "https://creativecommons.org/licenses/by/4.0/",
            "modalities": ["MR", "Ultrasound", "CT", "XRay", "PET"],
            "tissues": _tissues(names + ["liver-tumour"]), "sources": _merge_sources(src_a, src_p),
            "time_points": _static([("anatomy", "anatomical", "anatomy.nii.gz", "anatomy.csv"),
                                    ("tumour", "pathological", "tumour.nii.gz", "tumour.csv")])}
    _write(out / "abdomen", meta, {"anatomy.nii.gz": _nifti(labels, zooms), "tumour.nii.gz": _nifti(lesion, zooms),
                             "anatomy.csv": lut_a.encode(), "tumour.csv": lut_p.encode()})


def heart(out: Path) -> None:
    """Beating heart, 3D+t: 10 instants over a 1 s cycle, the left ventricle contracting."""
    zooms, shape = (1.5, 1.5, 1.5), (80, 80, 64)
    c = (60.0, 60.0, 48.0)
    instants, files = [], {}
    n = 10
    for i in range(n):
        phase = i / n
        # Systole over the first 35 % of the cycle, then filling (raised-cosine ramps).
        if phase < 0.35:
            contraction = (1 - np.cos(np.pi * phase / 0.35)) / 2
        else:
            contraction = (1 + np.cos(np.pi * (phase - 0.35) / 0.65)) / 2
        cavity = 25.0 - 8.0 * contraction
        # Myocardial volume is conserved (incompressible): the wall thickens as the cavity shrinks.
        outer = (cavity**3 + (33.0**3 - 25.0**3)) ** (1 / 3)
        labels = np.full(shape, 1, np.uint8)  # surrounding tissue
        labels[_ellipsoid(shape, c, (outer, outer, outer * 1.6), zooms)] = 2  # myocardium
        labels[_ellipsoid(shape, c, (cavity, cavity, cavity * 1.6), zooms)] = 3  # blood pool
        name = f"heart_i{i}.nii.gz"
        files[name] = _nifti(labels, zooms)
        instants.append({"index": i, "time_s": round(phase, 3),
                         "layers": _layers_meta([("heart", "anatomical", name, "heart.csv")])})
    lut, sources = _lut(_rows([(1, "muscle"), (2, "myocardium"), (3, "blood")]), MR + US)
    files["heart.csv"] = lut.encode()
    meta = {"id": "beating-heart", "label": "Beating heart (left ventricle)", "dynamics": "moving",
            "description": "One 1 s cardiac cycle in 10 instants: the left ventricular cavity shrinks from 25 to "
                           "17 mm radius in systole while the myocardial wall thickens (volume conserved). MR and "
                           "ultrasound parameters.",
            "license": "https://creativecommons.org/licenses/by/4.0/", "modalities": ["MR", "Ultrasound"],
            "tissues": _tissues(["muscle", "myocardium", "blood"]), "sources": sources,
            "time_points": [{"index": 0, "instants": instants}]}
    _write(out / "beating-heart", meta, files)


def contrast_detail(out: Path) -> None:
    """Contrast-detail phantom: cylinders and spheres of several materials and sizes in water."""
    zooms, shape = (1.0, 1.0, 1.0), (200, 200, 60)
    labels = np.zeros(shape, np.uint8)
    labels[_cylinder(shape, (100, 100), 95, zooms=zooms)] = 1
    materials = ["fat", "muscle", "blood", "spine", "lung", "liver"]
    rows = [(1, "water", "water")]
    label = 2
    tissues = {"water": {"label": "water background", "depicts": TISSUES["water"]["depicts"]}}
    for row, material in enumerate(materials):
        for col, diameter in enumerate((4, 8, 16)):
            centre = (40 + 24 * row, 60 + 40 * col)
            labels[_cylinder(shape, centre, diameter / 2, zooms=zooms) & (labels == 1)] = label
            key = f"{material}-rod-{diameter}mm"
            tissues[key] = {"label": f"{TISSUES[material]['label']} rod, {diameter} mm",
                            "depicts": ["vip:Cylinder", *TISSUES[material]["depicts"]]}
            rows.append((label, key, material))
            label += 1
    for i, diameter in enumerate((5, 10, 20)):
        centre = (60 + 40 * i, 165, 30)
        labels[_ellipsoid(shape, centre, (diameter / 2,) * 3, zooms) & (labels == 1)] = label
        key = f"muscle-sphere-{diameter}mm"
        tissues[key] = {"label": f"muscle sphere, {diameter} mm", "depicts": ["vip:Sphere", "obo:UBERON_0001134"]}
        rows.append((label, key, "muscle"))
        label += 1
    columns = MR + CT + US + PET
    lut, sources = _lut(rows, columns)
    meta = {"id": "contrast-detail", "label": "Contrast-detail phantom", "dynamics": "static",
            "description": "A water cylinder (190 mm) holding rods of six tissue-equivalent materials at 4, 8 and "
                           "16 mm and muscle spheres of 5, 10 and 20 mm, in a geometrical layer. Parameters for "
                           "every modality.",
            "license": "https://creativecommons.org/licenses/by/4.0/",
            "modalities": ["MR", "Ultrasound", "CT", "XRay", "PET"], "tissues": tissues, "sources": sources,
            "time_points": _static([("geometry", "geometrical", "geometry.nii.gz", "geometry.csv")])}
    _write(out / "contrast-detail", meta, {"geometry.nii.gz": _nifti(labels, zooms), "geometry.csv": lut.encode()})


def partial_brain(out: Path) -> None:
    """Deliberately partial: anatomical layer only, MR (1.5 T) parameters only."""
    zooms, shape = (2.0, 2.0, 2.0), (80, 96, 75)
    c = (80.0, 96.0, 70.0)
    labels = np.zeros(shape, np.uint8)
    for label, radii in ((1, (61, 79, 55)), (2, (58, 76, 52)), (3, (50, 67, 44))):
        labels[_ellipsoid(shape, c, radii, zooms)] = label
    lut, sources = _lut(_rows([(1, "csf"), (2, "grey"), (3, "white")]), MR15)
    meta = {"id": "brain-mr-only", "label": "Brain, MR only (partial)", "dynamics": "static",
            "description": "CSF, grey and white matter at 2 mm with MR parameters at 1.5 T only: deliberately not "
                           "usable for CT, ultrasound or PET.",
            "license": "https://creativecommons.org/licenses/by/4.0/", "modalities": ["MR"],
            "tissues": _tissues(["csf", "grey", "white"]), "sources": sources,
            "time_points": _static([("anatomy", "anatomical", "anatomy.nii.gz", "anatomy.csv")])}
    _write(out / "brain-mr-only", meta, {"anatomy.nii.gz": _nifti(labels, zooms), "anatomy.csv": lut.encode()})


def main(out: Path = OUT) -> None:
    """Write every bundled model archive under ``out``."""
    for build in (brain, abdomen, heart, contrast_detail, partial_brain):
        build(out)
        print(f"generated {build.__name__}")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else OUT)
