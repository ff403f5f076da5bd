"""Image simulators (MRI, ultrasound, CT/X-ray, PET) as plugins of the core.

Simulators depend on the core's small plugin interface only; they arrive
with the simulator issues and register under the ``vipkb.simulators``
entry-point group.
"""
