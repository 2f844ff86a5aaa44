"""Errors a user can act on; the CLI and the GUI show their message as one sentence."""


class MamlvizError(Exception):
    """Base class for every error mamlviz reports to a user."""


class ConfigError(MamlvizError):
    """An invalid setting (learning rate, sizes, device, ...)."""


class CheckpointError(MamlvizError):
    """A file that is not a valid mamlviz initialization."""


class TrainingDiverged(MamlvizError):
    """The training loss became non-finite; the last finite parameters are kept."""

    def __init__(self, iteration: int, message: str) -> None:
        super().__init__(message)
        self.iteration = iteration


class DataError(MamlvizError):
    """A data set or an input image that cannot be used (missing, damaged, wrong size, empty)."""
