"""Standalone views that explain the MAML family; each takes numpy arrays from `mamlviz.core.sinusoid.diagnostics`."""
