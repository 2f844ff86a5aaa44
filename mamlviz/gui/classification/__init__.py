"""Wiring: `tab = ClassificationTab(); tab.set_demo(FewShotDemo.from_files({"MAML": SHIPPED_OMNIGLOT_MAML}, data))`
(mamlviz.core.omniglot.fewshot_demo; load it off the GUI thread), then `window.tabs.addTab(tab, "Classification")`.
Without a demo the tab shows a hint; `set_task` / `set_predictions` take plain numpy arrays for any other source.
"""

from mamlviz.gui.classification.tab import ClassificationTab

__all__ = ["ClassificationTab"]
