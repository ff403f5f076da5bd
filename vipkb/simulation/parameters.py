"""Simulator parameters: frozen dataclasses that describe and check themselves.

A simulator's parameters are one frozen, keyword-only dataclass whose fields
are declared with :func:`parameter`: the default, a one-line description,
the unit, the range and the allowed choices.  From that one declaration come
the validation in ``__post_init__``, the parsing of text values (CLI ``--set
te=20``, web forms), and the RDF description loaded into the knowledge base.

Examples
--------
>>> from dataclasses import dataclass
>>> from vipkb.namespaces import UNIT
>>> @dataclass(frozen=True, kw_only=True)
... class Echo(SimulationParameters):
...     te: float = parameter(20.0, doc="Echo time.", unit=UNIT.MilliSEC, minimum=0.1, maximum=500.0)
>>> Echo.from_mapping({"te": "30"}).te
30.0
>>> Echo(te=1000.0)
Traceback (most recent call last):
...
vipkb.errors.ParameterError: te = 1000.0 is above the maximum 500.0 ms (Echo time.)
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from rdflib import URIRef

from vipkb.errors import ParameterError

__all__ = ["ParameterSpec", "SimulationParameters", "parameter", "unit_symbol"]

_TYPES: dict[str, type] = {"float": float, "int": int, "bool": bool, "str": str}
_UNIT_SYMBOLS = {"MilliSEC": "ms", "SEC": "s", "DEG": "deg", "T": "T", "MilliM": "mm", "KiloV": "kV",
                 "HZ": "Hz", "MegaHZ": "MHz", "PERCENT": "%", "UNITLESS": "", "M-PER-SEC": "m/s"}


def unit_symbol(unit: str | None) -> str:
    """A short symbol for a QUDT unit IRI (``ms``), or ``""`` for none.

    >>> unit_symbol("http://qudt.org/vocab/unit/MilliSEC"), unit_symbol(None)
    ('ms', '')
    """
    if unit is None:
        return ""
    local = str(unit).rsplit("/", 1)[-1]
    return _UNIT_SYMBOLS.get(local, local)


@dataclass(frozen=True)
class ParameterSpec:
    """What a form field or a CLI option needs to know about one parameter."""

    name: str
    type: type
    default: Any
    doc: str
    unit: URIRef | None = None
    minimum: float | None = None
    maximum: float | None = None
    choices: tuple[str, ...] = ()

    @property
    def unit_symbol(self) -> str:
        """A short unit symbol for messages and labels (``ms``), or ``""``."""
        return unit_symbol(self.unit)

    def parse(self, text: str) -> Any:
        """Convert a text value (from a command line or a form) to this parameter's type."""
        if self.type is bool:
            lowered = text.strip().lower()
            if lowered in ("true", "1", "yes", "on"):
                return True
            if lowered in ("false", "0", "no", "off"):
                return False
            raise ParameterError(f"{self.name} = {text!r} is not a boolean; write true or false")
        try:
            return self.type(text.strip()) if self.type is not str else text
        except ValueError:
            raise ParameterError(f"{self.name} = {text!r} is not a valid {self.type.__name__}") from None

    def check(self, value: Any) -> Any:
        """Return ``value`` converted to the declared type, or raise :class:`ParameterError`."""
        unit = f" {self.unit_symbol}" if self.unit_symbol else ""
        if isinstance(value, str) and self.type is not str:
            value = self.parse(value)
        if self.type is float and isinstance(value, int | float) and not isinstance(value, bool):
            value = float(value)
        if self.type is int and isinstance(value, float) and value.is_integer():
            value = int(value)
        if not isinstance(value, self.type) or (self.type is not bool and isinstance(value, bool)):
            raise ParameterError(f"{self.name} = {value!r} is not a {self.type.__name__}")
        if self.type is float and not math.isfinite(value):
            raise ParameterError(f"{self.name} = {value!r} is not a finite number")
        if self.minimum is not None and value < self.minimum:
            raise ParameterError(f"{self.name} = {value!r} is below the minimum {self.minimum!r}{unit} ({self.doc})")
        if self.maximum is not None and value > self.maximum:
            raise ParameterError(f"{self.name} = {value!r} is above the maximum {self.maximum!r}{unit} ({self.doc})")
        if self.choices and value not in self.choices:
            raise ParameterError(f"{self.name} = {value!r} is not one of {', '.join(self.choices)}")
        return value


def parameter(default: Any, *, doc: str, unit: URIRef | None = None, minimum: float | None = None,
              maximum: float | None = None, choices: Sequence[str] = ()) -> Any:
    """Declare one simulator parameter as a dataclass field.

    Parameters
    ----------
    default
        The default value; its Python type (float, int, bool, str) is the parameter's type.
    doc
        One sentence saying what the parameter does (shown next to the form field).
    unit
        QUDT unit IRI (``vipkb.namespaces.UNIT.MilliSEC``), if the value has one.
    minimum, maximum
        Inclusive bounds of numeric parameters.
    choices
        Allowed values of a string parameter.
    """
    meta = {"vipkb": {"doc": doc, "unit": unit, "minimum": minimum, "maximum": maximum,
                      "choices": tuple(choices)}}
    return dataclasses.field(default=default, metadata=meta)


@dataclass(frozen=True, kw_only=True)
class SimulationParameters:
    """Base of every simulator's parameter dataclass.

    Subclasses are ``@dataclass(frozen=True, kw_only=True)`` and declare each
    field with :func:`parameter`.  Cross-field rules (echo time shorter than
    repetition time...) go in :meth:`check`, which raises
    :class:`~vipkb.errors.ParameterError`.
    """

    def __post_init__(self) -> None:
        for spec in self.specs():
            object.__setattr__(self, spec.name, spec.check(getattr(self, spec.name)))
        self.check()

    def check(self) -> None:
        """Rules between parameters; override in subclasses."""

    @classmethod
    def specs(cls) -> tuple[ParameterSpec, ...]:
        """One :class:`ParameterSpec` per field, in declaration order."""
        out = []
        for f in dataclasses.fields(cls):
            meta = f.metadata.get("vipkb")
            if meta is None:
                raise TypeError(f"{cls.__name__}.{f.name} is not declared with vipkb.simulation.parameter()")
            kind = type(f.default)
            if kind.__name__ not in _TYPES:
                raise TypeError(f"{cls.__name__}.{f.name}: the default must be a float, int, bool or str")
            out.append(ParameterSpec(name=f.name, type=kind, default=f.default, **meta))
        return tuple(out)

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any]) -> SimulationParameters:
        """Build from names to values (text or typed); unknown names are refused, listing the known ones."""
        known = {s.name: s for s in cls.specs()}
        unknown = sorted(set(values) - set(known))
        if unknown:
            raise ParameterError(f"unknown parameter(s) {', '.join(unknown)}; this simulator takes "
                                 f"{', '.join(known)}")
        try:
            return cls(**{k: known[k].check(v) for k, v in values.items()})
        except TypeError as err:  # a subclass not declared kw_only with defaults
            raise ParameterError(str(err)) from None

    def as_dict(self) -> dict[str, Any]:
        """Names to values, JSON-ready."""
        return {s.name: getattr(self, s.name) for s in self.specs()}
