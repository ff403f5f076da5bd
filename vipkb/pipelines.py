"""Simulators as VIP pipelines: identifiers, parameter descriptors, and the input values of a launch.

Each simulator the knowledge base describes is a pipeline ``<name>/<version>``
(``mri/1.0``).  Its parameters are the simulator's own (type, default and
description from its RDF description, :func:`vipkb.simulation.forms.form_fields`)
plus four inputs saying what to simulate:

``model``
    a model archive (``.zip``) in the caller's file space, imported privately
    for the caller and then simulated, or
``modelIdentifier``
    a model of the catalog the caller can see (``id``, ``id/vN`` or its IRI);
``instant``
    ``TP/I`` (time point / instant) or ``all`` (every instant, the default);
``seed``
    the random seed (default 0).

Values arrive as text, the way the VIP client sends them, and are checked by
the simulator's own rules (:func:`vipkb.simulation.forms.check_form`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from vipkb.catalog import list_simulators
from vipkb.errors import ParameterError, UnknownResourceError
from vipkb.kb import KnowledgeBase
from vipkb.simulation.forms import Field, check_form, form_fields

__all__ = ["MODEL_ARCHIVE", "MODEL_ID", "Launch", "Pipeline", "PipelineParameter", "get_pipeline",
           "list_pipelines", "parse_inputs"]

MODEL_ARCHIVE, MODEL_ID, INSTANT, SEED = "model", "modelIdentifier", "instant", "seed"
#: VIP parameter types of the XSD types of simulator parameters.
_VIP_TYPE = {"double": "Double", "integer": "Int64", "boolean": "Boolean", "string": "String"}


@dataclass(frozen=True)
class PipelineParameter:
    """One input of a pipeline, as the VIP API describes it."""

    name: str
    type: str
    description: str
    is_optional: bool
    default: Any = None

    def as_dict(self) -> dict:
        """The VIP/CARMIN JSON object (``defaultValue`` always present, null when there is none)."""
        return {"name": self.name, "type": self.type, "description": self.description,
                "isOptional": self.is_optional, "isReturnedValue": False, "defaultValue": self.default}


@dataclass(frozen=True)
class Pipeline:
    """A simulator seen as a VIP pipeline."""

    simulator: str
    version: str
    label: str
    modality: str
    parameters: tuple[PipelineParameter, ...] = ()

    @property
    def identifier(self) -> str:
        """``<name>/<version>``, as VIP names pipelines."""
        return f"{self.simulator}/{self.version}"

    def as_dict(self, *, can_execute: bool, full: bool = False) -> dict:
        """The VIP/CARMIN JSON object; ``full`` adds the parameters."""
        out = {"identifier": self.identifier, "name": self.simulator, "version": self.version,
               "description": f"{self.label}: {self.modality} simulator of the Virtual Imaging Platform",
               "canExecute": can_execute}
        if full:
            out["parameters"] = [p.as_dict() for p in self.parameters]
        return out


def _typed_default(f: Field) -> Any:
    if f.type == "boolean":
        return f.default.lower() == "true"
    if f.type == "integer":
        return int(float(f.default))
    if f.type == "double":
        return float(f.default)
    return f.default


def _describe(f: Field) -> str:
    text = f.doc or f.name
    if f.unit:
        text += f" [{f.unit}]"
    if f.minimum or f.maximum:
        text += f" (from {f.minimum or '-inf'} to {f.maximum or 'inf'})"
    if f.choices:
        text += f" (one of: {', '.join(f.choices)})"
    return text


_INPUTS = (
    PipelineParameter(MODEL_ARCHIVE, "File", "A model archive (.zip) in your file space (/vip/Home/...): imported "
                      "privately for you, then simulated. Give this or modelIdentifier.", True),
    PipelineParameter(MODEL_ID, "String", "A model of the catalog: id, id/vN or IRI. Give this or model.", True),
    PipelineParameter(INSTANT, "String", "The instant to simulate, as TP/I (time point/instant), or 'all' for "
                      "every instant (a time series for dynamic models).", True, "all"),
    PipelineParameter(SEED, "Int64", "Random seed (the same seed and inputs give the same result).", True, 0),
)


def list_pipelines(kb: KnowledgeBase) -> list[Pipeline]:
    """Every simulator described in the knowledge base, as a pipeline (without parameters)."""
    return [Pipeline(simulator=s.iri.rsplit("/", 1)[-1], version=s.version, label=s.label, modality=s.modality)
            for s in list_simulators(kb)]


def get_pipeline(kb: KnowledgeBase, identifier: str) -> Pipeline:
    """The pipeline ``<name>/<version>`` with its parameters.

    Raises
    ------
    UnknownResourceError
        If no simulator of that name and version is described.
    """
    for p in list_pipelines(kb):
        if p.identifier == identifier:
            fields = tuple(PipelineParameter(f.name, _VIP_TYPE.get(f.type, "String"), _describe(f), False,
                                             _typed_default(f)) for f in form_fields(kb, p.simulator))
            return Pipeline(p.simulator, p.version, p.label, p.modality, _INPUTS + fields)
    known = ", ".join(p.identifier for p in list_pipelines(kb)) or "none"
    raise UnknownResourceError(f"no pipeline {identifier!r}; the pipelines are: {known}")


@dataclass(frozen=True)
class Launch:
    """What an execution's input values ask for, checked."""

    archive: str | None
    model: str | None
    instants: list[tuple[int, int]] | None
    seed: int
    values: dict[str, Any]
    #: The input values as text, as sent (recorded with the execution).
    inputs: dict[str, str]


def _text(name: str, value: Any) -> str:
    if isinstance(value, list):
        raise ParameterError(f"inputValues.{name}: one value per parameter (launch one execution per value)")
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None or isinstance(value, dict):
        raise ParameterError(f"inputValues.{name}: give a string, number or boolean")
    return str(value)


def parse_inputs(pipeline: Pipeline, input_values: Mapping[str, Any]) -> Launch:
    """Check the input values of a launch against the pipeline (and the simulator's own rules).

    Raises
    ------
    ParameterError
        Naming every problem: unknown parameters, wrong values, neither or both of model and modelIdentifier.
    """
    known = {p.name: p for p in pipeline.parameters}
    unknown = sorted(set(input_values) - set(known))
    if unknown:
        raise ParameterError(f"inputValues: {', '.join(unknown)} not parameters of {pipeline.identifier}; "
                             f"its parameters are {', '.join(known)}")
    inputs = {name: _text(name, value) for name, value in input_values.items()}
    archive, model = inputs.get(MODEL_ARCHIVE) or None, inputs.get(MODEL_ID) or None
    if (archive is None) == (model is None):
        raise ParameterError(f"inputValues: give exactly one of {MODEL_ARCHIVE} (an archive in your file space) "
                             f"or {MODEL_ID} (a model of the catalog)")
    instants = None
    instant = inputs.get(INSTANT, "all").strip()
    if instant != "all":
        tp, _, i = instant.partition("/")
        if not (tp.isdigit() and i.isdigit()):
            raise ParameterError(f"inputValues.{INSTANT}: {instant!r} is not TP/I (e.g. 0/0) nor 'all'")
        instants = [(int(tp), int(i))]
    seed_text = inputs.get(SEED, "0").strip()
    if not seed_text.isdigit():
        raise ParameterError(f"inputValues.{SEED}: {seed_text!r} is not a non-negative integer")
    form = {p.name: inputs.get(p.name, str(p.default).lower() if isinstance(p.default, bool) else str(p.default))
            for p in pipeline.parameters if p not in _INPUTS}
    checked = check_form(pipeline.simulator, form)
    if not checked.ok:
        raise ParameterError("inputValues: " + "; ".join(
            f"{name}: {message}" if name else message for name, message in sorted(checked.errors.items())))
    return Launch(archive=archive, model=model, instants=instants, seed=int(seed_text), values=checked.values,
                  inputs=inputs)
