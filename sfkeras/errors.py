"""The errors sfkeras raises on purpose, one class per kind, each with its exit code.

Every exception the library raises deliberately (bad configuration, unusable data, an
unreadable or mismatched checkpoint, a diverged run, weights that cannot be imported,
an output that cannot be written, a run folder in use, a TensorFlow-only part called
under another Keras backend) derives from :class:`SfkerasError`.
Its message names the file or key at fault and the fix; ``sfkeras`` prints it as one
line on stderr and exits with the class's :attr:`~SfkerasError.exit_code`, so scripts
and DVC can tell the kinds apart. Library users catch the specific class (which also
derives from the matching builtin, e.g. :class:`ValueError`) or :class:`SfkerasError`.

Every error class is defined here, and only here is an ``exit_code`` assigned;
:data:`EXIT_CODES` is built from the classes. The modules that raise an error import
it from here (some re-export it where users import it from, e.g.
``sfkeras.config.ConfigError``).
"""

from __future__ import annotations

#: Exit status of a command stopped by SIGINT or SIGTERM (after saving what it could).
EXIT_INTERRUPTED = 130

#: Exit status of an unexpected exception (a bug): one line, "rerun with --debug".
EXIT_UNEXPECTED = 1


class SfkerasError(Exception):
    """Base of every deliberate sfkeras error.

    Attributes:
        exit_code: the ``sfkeras`` command's exit status for this kind of error.
        kind: the words the command line prints before the message.
    """

    exit_code: int = 1
    kind: str = "error"


class ConfigError(SfkerasError, ValueError):
    """A configuration value is unknown, mistyped or inconsistent.

    Attributes:
        key: dotted path of the offending key, e.g. ``"model.hidden"``.
        message: what is wrong and how to fix it.
    """

    exit_code = 2
    kind = "configuration error"

    def __init__(self, key: str, message: str):
        self.key = key
        self.message = message
        super().__init__(f"{key}: {message}" if key else message)


class DataError(SfkerasError, RuntimeError):
    """A data source or prepared data set cannot be used; the message says what to do."""

    exit_code = 3
    kind = "data error"


class CheckpointError(SfkerasError):
    """A checkpoint cannot be used to resume or to load a generator."""

    exit_code = 4
    kind = "checkpoint error"


class CheckpointMismatchError(CheckpointError, ValueError):
    """The checkpoint folder belongs to a run with a different configuration."""


class UnreadableCheckpointError(CheckpointError, RuntimeError):
    """No checkpoint of a folder can be read."""


class TrainingDiverged(SfkerasError, FloatingPointError):
    """A training loss became NaN or infinite, or stayed beyond ``train.divergence_loss``;
    the last checkpoint is kept as it was."""

    exit_code = 5
    kind = "training diverged"


class WeightsError(SfkerasError, ValueError):
    """Weights (a state dict, a snapshot, the FID Inception) cannot be read or used."""

    exit_code = 6
    kind = "weights error"


class WeightImportError(WeightsError):
    """A state dict does not fit the network: lists missing, unexpected, mis-shaped names."""


class TorchPickleError(WeightsError):
    """A PyTorch file is unreadable, inconsistent, or asks for a global we refuse."""


class TorchScriptError(TorchPickleError):
    """A file is not a readable TorchScript archive, or asks for a forbidden global."""


class SnapshotError(TorchPickleError):
    """A snapshot pickle is unreadable, refused, or lacks what the caller needs."""


class InceptionWeightsError(WeightsError):
    """The FID Inception weights cannot be obtained, or are not the expected file."""


class OutputError(SfkerasError, OSError):
    """An output file or folder cannot be written (read-only, missing, full disk)."""

    exit_code = 7
    kind = "output error"


class RunFolderInUseError(SfkerasError, RuntimeError):
    """Another process is training into the same run folder."""

    exit_code = 8
    kind = "run folder in use"


class BackendError(SfkerasError, RuntimeError):
    """A part of sfkeras that runs on TensorFlow only (data, training, export,
    ``tf.distribute``, SavedModels) was called while Keras runs on another backend."""

    exit_code = 9
    kind = "backend error"


class ExportError(SfkerasError, RuntimeError):
    """An export format's converter or runtime is not installed, or an exported artifact
    does not compute the generator's images."""

    exit_code = 11
    kind = "export error"


class MissingFileError(SfkerasError, FileNotFoundError):
    """An input file or folder the command needs does not exist."""

    exit_code = 10
    kind = "missing file"


class TrainingInterrupted(SfkerasError):
    """SIGINT or SIGTERM stopped training after its current step, with a checkpoint saved."""

    exit_code = EXIT_INTERRUPTED
    kind = "interrupted"


def _row(error: type[SfkerasError], meaning: str) -> tuple[int, tuple[str, str]]:
    """One entry of :data:`EXIT_CODES`: the class's code and kind, with ``meaning``."""
    return error.exit_code, (error.kind, meaning)


#: Every exit status of the ``sfkeras`` command: ``(kind, meaning)``, the kind being the
#: words the command prints before the message. ``sfkeras --help`` prints this table and
#: tests check it against every :class:`SfkerasError` subclass and README's table.
EXIT_CODES: dict[int, tuple[str, str]] = dict([
    (0, ("", "success")),
    (EXIT_UNEXPECTED, ("unexpected error",
                       "a bug: rerun with --debug and report the traceback")),
    _row(ConfigError, "a key of params.yaml or a command-line value is invalid "
         "(also argparse's usage errors)"),
    _row(DataError, "the data set cannot be read or prepared"),
    _row(CheckpointError, "a run folder's checkpoints belong to another configuration, "
         "or none of them can be read"),
    _row(TrainingDiverged, "a loss became NaN or infinite, or stayed beyond "
         "train.divergence_loss"),
    _row(WeightsError, "a weights file or snapshot is unreadable, refused, or does not fit"),
    _row(OutputError, "an output file or folder cannot be written"),
    _row(RunFolderInUseError, "another process trains into the same run folder"),
    _row(BackendError, "a TensorFlow-only part (data, training, export) was called under "
         "another Keras backend"),
    _row(MissingFileError, "an input file or folder does not exist"),
    _row(ExportError, "an export format's packages are missing, or an exported file does "
         "not reproduce the generator"),
    _row(TrainingInterrupted, "SIGINT or SIGTERM stopped training after a checkpoint of "
         "its last step"),
])
