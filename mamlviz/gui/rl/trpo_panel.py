"""The training monitor's panel for 2D navigation: TRPO's figures of each iteration (`monitor.MetricPanel`).

`Nav2dDomain`'s TRPO learner reports '{algo}/kl', the mean KL divergence between the policy before and after the
accepted step, and '{algo}/line_search', how many times the line search halved the step before accepting it (−1:
no step was accepted, θ unchanged). The bound is the default trust region (`RLConfig.max_kl`).
"""

from __future__ import annotations

from mamlviz.core.config import RLConfig
from mamlviz.gui.monitor import MetricPanel, MetricPlot, register_panel

DEFAULTS = RLConfig()
NO_STEP = -1.0
"""The learner's line-search figure when no step was accepted."""

PANEL = MetricPanel(
    domain="nav2d",
    caption=(
        "TRPO, each iteration: how far the policy moved (KL, within the trust region) and how often the line "
        "search halved the step. Hover a plot for more."
    ),
    plots=(
        MetricPlot(
            metric="kl",
            title="KL divergence of the accepted step",
            axis="mean KL (nats)",
            tooltip=(
                "Mean KL divergence KL(π_old ‖ π_new) between the policy before and after this iteration's TRPO "
                "step, over the sampled states (nats).\nTRPO only accepts a step that keeps it under the dashed "
                f"trust-region bound δ = {DEFAULTS.max_kl:g}; 0 means no step was taken."
            ),
            bound=DEFAULTS.max_kl,
            bound_label=f"max KL δ = {DEFAULTS.max_kl:g} (trust region)",
        ),
        MetricPlot(
            metric="line_search",
            title="Line search: backtracking steps",
            axis="halvings of the step",
            tooltip=(
                "How many times the backtracking line search shrank TRPO's proposed step (each time to "
                f"{DEFAULTS.ls_backtrack:g}×) before it improved the surrogate loss within the KL bound.\n"
                f"0: the full step was accepted; 'none': no step in {DEFAULTS.ls_steps} tries was, and the "
                "policy did not change this iteration."
            ),
            labels={NO_STEP: "none"},
            integer=True,
        ),
    ),
)

register_panel(PANEL)
