"""Look-up tables as CSV: grammar, round trip and every malformed case."""

from __future__ import annotations

import pytest

from vipkb.models.lut import ModelArchiveError, read_lut, write_lut
from vipkb.namespaces import UNIT, VIP

GOOD = """label,tissue,T1@1.5T [ms],T2@1.5T [ms],ProtonDensity [1],MassDensity [kg/m3],ElementalComposition [mass fraction],RadioactiveConcentration(FDG) [Bq/m3],AcousticAttenuation@1MHz [dB/m]
1,csf,2569,329,1,1007,H:0.111 O:0.889,,
2,gm,833,83,0.86,1040,H:0.107 C:0.145 N:0.022 O:0.712 Na:0.002 P:0.004 S:0.002 Cl:0.003 K:0.003,5.6e+09,54
"""  # noqa: E501 - a CSV header is one line


def test_read_good_table():
    table = read_lut(GOOD, "lut.csv")
    assert table.labels() == {1, 2}
    t1 = table.columns[0]
    assert (t1.kind, t1.unit, t1.field_strength) == ("T1", str(UNIT.MilliSEC), 1.5)
    assert t1.kind_iri == str(VIP.T1)
    activity = table.columns[5]
    assert activity.radiotracer == "FDG" and activity.unit == str(UNIT["BQ-PER-M3"])
    assert table.columns[6].frequency == 1.0
    csf, gm = table.rows
    assert csf.values["ElementalComposition [mass fraction]"] == ((1, 0.111), (8, 0.889))
    assert "RadioactiveConcentration(FDG) [Bq/m3]" not in csf.values
    assert gm.values["T1@1.5T [ms]"] == 833.0


def test_round_trip():
    table = read_lut(GOOD, "lut.csv")
    assert read_lut(write_lut(table), "again.csv") == table


@pytest.mark.parametrize(("text", "message"), [
    ("", "empty look-up table"),
    ("id,name,T1@1.5T [ms]\n1,a,1\n", "the first two columns must be 'label,tissue'"),
    ("label,tissue,T1 at 1.5T\n1,a,1\n", "is not 'Kind"),
    ("label,tissue,T3@1.5T [ms]\n1,a,1\n", "unknown parameter kind 'T3'"),
    ("label,tissue,T1@1.5T [hours]\n1,a,1\n", "unknown unit 'hours'"),
    ("label,tissue,T1@1.5T [ms]\n1.5,a,1\n", "label '1.5' is not an integer"),
    ("label,tissue,T1@1.5T [ms]\n-2,a,1\n", "label -2 must be >= 1"),
    ("label,tissue,T1@1.5T [ms]\n0,a,1\n", "label 0 must be >= 1"),
    ("label,tissue,T1@1.5T [ms]\n1,a,1\n1,b,2\n", "label 1 appears twice"),
    ("label,tissue,T1@1.5T [ms]\n1,a,fast\n", "'fast' in column 'T1@1.5T [ms]' is not a number"),
    ("label,tissue,T1@1.5T [ms]\n1,a\n", "line 2: 2 cells, the header has 3"),
    ("label,tissue,ElementalComposition [mass fraction]\n1,a,Xx:1\n", "unknown element 'Xx'"),
    ("label,tissue,ElementalComposition [mass fraction]\n1,a,H=1\n", "is not 'Element:fraction'"),
])
def test_malformed_tables_are_refused(text, message):
    with pytest.raises(ModelArchiveError, match=message.replace("(", r"\(").replace(")", r"\)")
                       .replace("[", r"\[").replace("]", r"\]").replace(".", r"\.").replace("*", r"\*")):
        read_lut(text, "lut.csv")
