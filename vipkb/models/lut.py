"""Look-up tables as CSV: ``label, tissue``, then one column per parameter.

A parameter column's header names the parameter kind (the ontology's local
name), an optional radiotracer in parentheses, an optional condition after
``@`` (field strength in T, or frequency in MHz) and the unit in brackets::

    label,tissue,T1@1.5T [ms],T2@1.5T [ms],ProtonDensity [1],MassDensity [kg/m3],
    ElementalComposition [mass fraction],RadioactiveConcentration(FDG) [Bq/m3]

Compositions are written ``H:0.102 C:0.143 N:0.034 ...`` (element symbol or
atomic number, mass fraction).  An empty cell means "no value" for that
tissue.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass, field

from vipkb.errors import ModelArchiveError
from vipkb.namespaces import UNIT, VIP

__all__ = ["Column", "LookUpTable", "ModelArchiveError", "Row", "read_lut", "write_lut"]


#: Unit symbols accepted in headers, and their QUDT units.
UNITS: dict[str, str] = {
    "ms": str(UNIT.MilliSEC), "s": str(UNIT.SEC), "1": str(UNIT.UNITLESS), "ppm": str(UNIT.PPM),
    "m-3": str(UNIT["PER-M3"]), "m/s": str(UNIT["M-PER-SEC"]), "dB/m": str(UNIT["DeciB-PER-M"]),
    "kg/m3": str(UNIT["KiloGM-PER-M3"]), "Bq/m3": str(UNIT["BQ-PER-M3"]), "mass fraction": str(UNIT.UNITLESS),
}
SYMBOLS = {v: k for k, v in UNITS.items() if k != "mass fraction"}

#: Parameter kinds a column may name.
KINDS = ("T1", "T2", "T2Star", "ProtonDensity", "Susceptibility", "ChemicalShift", "ScattererDensity",
         "ScattererReflectivity", "SpeedOfSound", "AcousticAttenuation", "ElementalComposition", "MassDensity",
         "RadioactiveConcentration")

#: Radiotracers a column may name (individuals of vip:Radiotracer).
RADIOTRACERS = ("FDG",)

ELEMENTS = ("H He Li Be B C N O F Ne Na Mg Al Si P S Cl Ar K Ca Sc Ti V Cr Mn Fe Co Ni Cu Zn Ga Ge As Se Br Kr "
            "Rb Sr Y Zr Nb Mo Tc Ru Rh Pd Ag Cd In Sn Sb Te I Xe Cs Ba La Ce Pr Nd Pm Sm Eu Gd Tb Dy Ho Er Tm Yb "
            "Lu Hf Ta W Re Os Ir Pt Au Hg Tl Pb Bi Po At Rn Fr Ra Ac Th Pa U Np Pu Am Cm Bk Cf").split()

_HEADER = re.compile(r"^(?P<kind>[A-Za-z0-9]+)(?:\((?P<tracer>[A-Za-z0-9]+)\))?"
                     r"(?:@(?P<cond>[0-9]+(?:\.[0-9]+)?)(?P<cunit>T|MHz))?\s*\[(?P<unit>[^\]]+)\]$")


@dataclass(frozen=True)
class Column:
    """One parameter column of a look-up table."""

    header: str
    kind: str
    unit: str
    field_strength: float | None = None
    frequency: float | None = None
    radiotracer: str | None = None

    @classmethod
    def parse(cls, header: str, source: str) -> Column:
        """Read a column header; raise :class:`ModelArchiveError` with the accepted grammar."""
        m = _HEADER.match(header.strip())
        if not m:
            raise ModelArchiveError(f"{source}: column {header!r} is not 'Kind[(tracer)][@1.5T|@1MHz] [unit]', "
                                    "e.g. 'T1@1.5T [ms]'")
        kind, unit = m["kind"], m["unit"].strip()
        if kind not in KINDS:
            raise ModelArchiveError(f"{source}: unknown parameter kind {kind!r} in column {header!r}; "
                                    f"use one of {', '.join(KINDS)}")
        if unit not in UNITS:
            raise ModelArchiveError(f"{source}: unknown unit {unit!r} in column {header!r}; "
                                    f"use one of {', '.join(UNITS)}")
        if m["tracer"] and m["tracer"] not in RADIOTRACERS:
            raise ModelArchiveError(f"{source}: unknown radiotracer {m['tracer']!r} in column {header!r}; "
                                    f"use one of {', '.join(RADIOTRACERS)}")
        cond = float(m["cond"]) if m["cond"] else None
        return cls(header=header.strip(), kind=kind, unit=UNITS[unit],
                   field_strength=cond if m["cunit"] == "T" else None,
                   frequency=cond if m["cunit"] == "MHz" else None, radiotracer=m["tracer"])

    @property
    def kind_iri(self) -> str:
        """The ontology IRI of the parameter kind."""
        return str(VIP[self.kind])


@dataclass(frozen=True)
class Row:
    """One tissue of a look-up table."""

    label: int
    tissue: str
    values: dict[str, float | tuple[tuple[int, float], ...]] = field(default_factory=dict)


@dataclass(frozen=True)
class LookUpTable:
    """A parsed look-up table: its parameter columns and one row per label."""

    columns: tuple[Column, ...]
    rows: tuple[Row, ...]

    def labels(self) -> set[int]:
        """Every label the table describes."""
        return {r.label for r in self.rows}


def parse_composition(cell: str, where: str) -> tuple[tuple[int, float], ...]:
    """Parse ``H:0.102 C:0.143`` into ((Z, fraction), ...)."""
    out = []
    for item in cell.split():
        sym, sep, frac = item.partition(":")
        if not sep:
            raise ModelArchiveError(f"{where}: composition item {item!r} is not 'Element:fraction'")
        z = int(sym) if sym.isdigit() else (ELEMENTS.index(sym) + 1 if sym in ELEMENTS else None)
        if z is None:
            raise ModelArchiveError(f"{where}: unknown element {sym!r}")
        try:
            out.append((z, float(frac)))
        except ValueError:
            raise ModelArchiveError(f"{where}: mass fraction {frac!r} is not a number") from None
    if not out:
        raise ModelArchiveError(f"{where}: empty composition")
    return tuple(out)


def read_lut(text: str, source: str) -> LookUpTable:
    """Parse a look-up table CSV.

    Raises
    ------
    ModelArchiveError
        For a bad header, a non-integer or non-positive label, a duplicate
        label or a value that is not a number.
    """
    reader = csv.reader(io.StringIO(text))
    try:
        header = next(reader)
    except StopIteration:
        raise ModelArchiveError(f"{source}: empty look-up table") from None
    if [h.strip().lower() for h in header[:2]] != ["label", "tissue"]:
        raise ModelArchiveError(f"{source}: the first two columns must be 'label,tissue'")
    columns = tuple(Column.parse(h, source) for h in header[2:])
    rows = []
    seen: set[int] = set()
    for lineno, cells in enumerate(reader, start=2):
        if not any(c.strip() for c in cells):
            continue
        where = f"{source}, line {lineno}"
        if len(cells) != len(header):
            raise ModelArchiveError(f"{where}: {len(cells)} cells, the header has {len(header)}")
        try:
            label = int(cells[0])
        except ValueError:
            raise ModelArchiveError(f"{where}: label {cells[0]!r} is not an integer") from None
        if label < 1:
            raise ModelArchiveError(f"{where}: label {label} must be >= 1 (0 is the background)")
        if label in seen:
            raise ModelArchiveError(f"{where}: label {label} appears twice")
        seen.add(label)
        values: dict = {}
        for col, cell in zip(columns, cells[2:], strict=True):
            cell = cell.strip()
            if not cell:
                continue
            if col.kind == "ElementalComposition":
                values[col.header] = parse_composition(cell, f"{where}, column {col.header!r}")
            else:
                try:
                    values[col.header] = float(cell)
                except ValueError:
                    raise ModelArchiveError(f"{where}: {cell!r} in column {col.header!r} is not a number") from None
        rows.append(Row(label=label, tissue=cells[1].strip(), values=values))
    return LookUpTable(columns=columns, rows=tuple(rows))


def write_lut(table: LookUpTable) -> str:
    """Render a look-up table back to CSV (inverse of :func:`read_lut`)."""
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\n")
    w.writerow(["label", "tissue", *(c.header for c in table.columns)])
    for row in table.rows:
        cells = [str(row.label), row.tissue]
        for c in table.columns:
            v = row.values.get(c.header)
            if v is None:
                cells.append("")
            elif isinstance(v, tuple):
                cells.append(" ".join(f"{ELEMENTS[z - 1]}:{f:g}" for z, f in v))
            else:
                cells.append(f"{v:g}")
        w.writerow(cells)
    return out.getvalue()
