"""Sinusoid regression (Finn et al. 2017, section 5.1): its tasks, the playground, the diagnostics and insights,
the evaluation protocol and the trainer's domain. Importing the package registers the domain."""

from mamlviz.core import registry
from mamlviz.core.sinusoid.domain import SPEC

registry.register(SPEC)
