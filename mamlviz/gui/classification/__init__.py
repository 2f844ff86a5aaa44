"""Wiring: `tab = ClassificationTab(); tab.set_demo(ClassifierDemo.from_files({"MAML": ..., "ProtoNet": ...}, data))`
(mamlviz.core.omniglot.metric_demo, as `gui.shipped.load_omniglot_demo` does; load it off the GUI thread), then
`window.tabs.addTab(tab, "Classification")`. A plain `FewShotDemo` works too (SGD learners, no embedding view).
Without a demo the tab shows a hint; `set_task` / `set_predictions` take plain numpy arrays for any other source.
"""

from mamlviz.gui.classification.tab import ClassificationTab

__all__ = ["ClassificationTab"]
