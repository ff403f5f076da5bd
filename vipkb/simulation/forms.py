"""Simulation forms: the fields come from a simulator's RDF description, the checks from its plugin.

The web form for a simulator is generated from what the knowledge base says
about it (``vip:hasParameter``: type, default, bounds, unit, allowed values),
and what a user types is checked by the same :class:`ParameterSpec` rules as
``vipkb run -p NAME=VALUE``, so a value the CLI refuses is refused here with
the same message, next to its field.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from vipkb import queries
from vipkb.errors import ParameterError, UnknownResourceError
from vipkb.kb import KnowledgeBase
from vipkb.simulation.describe import simulator_iri
from vipkb.simulation.parameters import unit_symbol
from vipkb.simulation.registry import get_simulator

__all__ = ["Field", "FormCheck", "check_form", "form_fields"]

_INPUT = {"double": "number", "integer": "number", "boolean": "checkbox", "string": "text"}
_SEPARATOR = "\u001f"


@dataclass(frozen=True)
class Field:
    """One form field, as the simulator's description declares it.

    Attributes
    ----------
    name, doc
        Parameter name and its one-sentence description.
    type
        XSD local name: ``double``, ``integer``, ``boolean`` or ``string``.
    default
        The default, as text.
    minimum, maximum
        Inclusive bounds as text ("" when unbounded).
    unit
        Unit symbol ("" when unitless).
    choices
        Allowed values of a string parameter.
    """

    name: str
    doc: str
    type: str
    default: str
    minimum: str = ""
    maximum: str = ""
    unit: str = ""
    choices: tuple[str, ...] = ()

    @property
    def input_type(self) -> str:
        """The HTML input type."""
        return "select" if self.choices else _INPUT.get(self.type, "text")

    @property
    def step(self) -> str:
        """The HTML ``step`` of a number input (any value for reals)."""
        return "1" if self.type == "integer" else "any"


def form_fields(kb: KnowledgeBase, simulator: str) -> list[Field]:
    """The fields of ``simulator``'s form, in the plugin's declaration order when it is installed.

    Raises
    ------
    UnknownResourceError
        If the knowledge base does not describe that simulator.
    """
    rows = kb.store.query(queries.simulator_parameters(str(simulator_iri(simulator)))).rows
    if not rows:
        raise UnknownResourceError(f"the knowledge base describes no simulator {simulator!r} with parameters")
    fields = {}
    for r in rows:
        unit = r.get("unit")
        fields[r["name"].value] = Field(
            name=r["name"].value, doc=r["doc"].value if r.get("doc") else "", type=r["type"].value.rsplit("#", 1)[-1],
            default=r["default"].value, minimum=r["min"].value if r.get("min") else "",
            maximum=r["max"].value if r.get("max") else "", unit=unit_symbol(unit.value) if unit else "",
            choices=tuple(sorted(c for c in r["choices"].value.split(_SEPARATOR) if c)) if r.get("choices") else ())
    try:
        order = [s.name for s in get_simulator(simulator).Parameters.specs()]
    except UnknownResourceError:
        order = []
    return sorted(fields.values(), key=lambda f: (order.index(f.name) if f.name in order else len(order), f.name))


@dataclass(frozen=True)
class FormCheck:
    """What a submitted form gives: the typed values, or a message per field (``""`` for cross-field rules)."""

    values: dict[str, Any]
    errors: dict[str, str]

    @property
    def ok(self) -> bool:
        """Whether every value passed."""
        return not self.errors


def check_form(simulator: str, form: Mapping[str, str]) -> FormCheck:
    """Check the text of a simulator's form with the plugin's own rules (those of ``vipkb run -p``).

    Fields left empty take their defaults; a checkbox absent from the form is false.
    """
    cls = get_simulator(simulator)
    values: dict[str, Any] = {}
    errors: dict[str, str] = {}
    for spec in cls.Parameters.specs():
        text = form.get(spec.name)
        if spec.type is bool:
            text = "true" if text is not None and text.lower() in ("true", "on", "1", "yes") else "false"
        if text is None or text.strip() == "":
            continue
        try:
            values[spec.name] = spec.check(text)
        except ParameterError as err:
            errors[spec.name] = str(err)
    if not errors:
        try:
            values = cls().parameters(values).as_dict()
        except ParameterError as err:
            errors[""] = str(err)
    return FormCheck(values=values, errors=errors)
