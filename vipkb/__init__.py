"""VIPKB: a knowledge base and simulation platform for medical image simulation.

The core package: the store behind the knowledge base, namespaces, document
parsing, SHACL validation, reasoning and the ``vipkb`` command line.
"""

from vipkb.config import Settings
from vipkb.errors import VipkbError
from vipkb.kb import KnowledgeBase

__all__ = ["KnowledgeBase", "Settings", "VipkbError", "__version__"]
__version__ = "0.1.0"
