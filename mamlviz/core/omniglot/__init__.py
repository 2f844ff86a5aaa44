"""Omniglot classification (Finn et al. 2017, section 5.2): the data loader, the conv net, N-way K-shot
tasks, the trainer's domain, the metric learners (`metric`: ProtoNet, Matching Net) and the app's
few-shot demos (`fewshot_demo`, `metric_demo`). Importing the package registers the domain."""

from mamlviz.core import registry
from mamlviz.core.omniglot.domain import SPEC

registry.register(SPEC)
