"""The built-in image simulators, plugins of the core like any other.

Each depends on the core's plugin interface (:mod:`vipkb.simulation`) only
and is registered under the ``vipkb.simulators`` entry-point group (and in
:data:`vipkb.simulation.registry.BUILTINS`, so a checkout finds them too):

* :mod:`simulators.mri`: MRI (``mri``);
* :mod:`simulators.xray`: CT (``ct``) and projection radiography (``radiography``).
"""
