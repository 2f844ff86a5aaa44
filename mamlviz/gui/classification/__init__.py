"""Wiring: `tab = ClassificationTab(); tab.set_demo(ClassifierDemo.from_files({"MAML": ..., "ProtoNet": ...}, data))`
(mamlviz.core.omniglot.metric_demo, as `gui.shipped.load_omniglot_demo` does; load it off the GUI thread), then
`window.tabs.addTab(tab, "Classification")`. A plain `FewShotDemo` works too (SGD learners, no embedding view).
Without a demo the tab shows a hint; `set_task` / `set_predictions` take plain numpy arrays for any other source.
`set_settings(gui.shipped.omniglot_settings())` fills its Task box; `setting_chosen` asks for a setting's demo
(the window loads it with `load_omniglot_demo(setting)` and passes it to `set_demo(demo, setting)`).
"""

from mamlviz.gui.classification.tab import ClassificationTab

__all__ = ["ClassificationTab"]
