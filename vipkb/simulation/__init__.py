"""The simulator plugin interface: what a simulator is, how it is found and run.

* :mod:`~vipkb.simulation.plugin`: the :class:`Simulator` base class and :class:`SimulationResult`;
* :mod:`~vipkb.simulation.montecarlo`: :class:`BatchedSimulator`, seeded batches that merge exactly;
* :mod:`~vipkb.simulation.parameters`: frozen parameter dataclasses (:func:`parameter`);
* :mod:`~vipkb.simulation.instant`: :class:`ModelInstant`, a model instant as arrays;
* :mod:`~vipkb.simulation.registry`: discovery through the ``vipkb.simulators`` entry points;
* :mod:`~vipkb.simulation.describe`: the RDF description generated from a simulator class;
* :mod:`~vipkb.simulation.runner`: registration in the knowledge base, loading instants, running.
"""

from vipkb.simulation.instant import ModelInstant, ParameterKey, Tissue
from vipkb.simulation.montecarlo import BatchedSimulator, PartialResult, batch_rng, merge_partials
from vipkb.simulation.parameters import ParameterSpec, SimulationParameters, parameter
from vipkb.simulation.plugin import RawData, SimulationResult, Simulator, nifti_image
from vipkb.simulation.registry import get_simulator, list_simulators, refresh_simulators

__all__ = ["BatchedSimulator", "ModelInstant", "ParameterKey", "ParameterSpec", "PartialResult", "RawData",
           "SimulationParameters", "SimulationResult", "Simulator", "Tissue", "batch_rng", "get_simulator",
           "list_simulators", "merge_partials", "nifti_image", "parameter", "refresh_simulators"]
