"""The Classification tab inside the main window loads the shipped Omniglot init off the GUI thread."""


def test_switching_to_the_tab_loads_the_demo(window, qtbot):
    assert window.classification.demo is None
    with qtbot.waitSignal(window.classification_loaded, timeout=60_000):
        window.tabs.setCurrentIndex(window.classification_index)
    assert window.classification.demo is not None
    assert set(window.classification.demo.inits) == {"MAML", "pretrained", "ProtoNet", "Matching Net"}
