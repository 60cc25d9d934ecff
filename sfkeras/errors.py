"""The errors sfkeras raises on purpose, one class per kind, each with its exit code.

Every exception the library raises deliberately (bad configuration, unusable data, an
unreadable or mismatched checkpoint, a diverged run, weights that cannot be imported,
an output that cannot be written, a run folder in use, a TensorFlow-only part called
under another Keras backend) derives from :class:`SfkerasError`.
Its message names the file or key at fault and the fix; ``sfkeras`` prints it as one
line on stderr and exits with the class's :attr:`~SfkerasError.exit_code`, so scripts
and DVC can tell the kinds apart. Library users catch the specific class (which also
derives from the matching builtin, e.g. :class:`ValueError`) or :class:`SfkerasError`.
"""

from __future__ import annotations

#: Exit status of a command stopped by SIGINT or SIGTERM (after saving what it could).
EXIT_INTERRUPTED = 130


class SfkerasError(Exception):
    """Base of every deliberate sfkeras error.

    Attributes:
        exit_code: the ``sfkeras`` command's exit status for this kind of error.
        kind: the words the command line prints before the message.
    """

    exit_code: int = 1
    kind: str = "error"


class OutputError(SfkerasError, OSError):
    """An output file or folder cannot be written (read-only, missing, full disk)."""

    exit_code = 7
    kind = "output error"


class RunFolderInUseError(SfkerasError, RuntimeError):
    """Another process is training into the same run folder."""

    exit_code = 8
    kind = "run folder in use"


class TrainingInterrupted(SfkerasError):
    """SIGINT or SIGTERM stopped training after its current step, with a checkpoint saved."""

    exit_code = EXIT_INTERRUPTED
    kind = "interrupted"


class BackendError(SfkerasError, RuntimeError):
    """A part of sfkeras that runs on TensorFlow only (data, training, export,
    ``tf.distribute``, SavedModels) was called while Keras runs on another backend."""

    exit_code = 9
    kind = "backend error"


class MissingFileError(SfkerasError, FileNotFoundError):
    """An input file or folder the command needs does not exist."""

    exit_code = 10
    kind = "missing file"


#: Exit status of an unexpected exception (a bug): one line, "rerun with --debug".
EXIT_UNEXPECTED = 1

#: Every exit status of the ``sfkeras`` command: ``(kind, meaning)``, the kind being the
#: words the command prints before the message. ``sfkeras --help`` prints this table and
#: a test checks that every :class:`SfkerasError` subclass appears in it under its kind.
EXIT_CODES: dict[int, tuple[str, str]] = {
    0: ("", "success"),
    EXIT_UNEXPECTED: ("unexpected error", "a bug: rerun with --debug and report the traceback"),
    2: ("configuration error", "a key of params.yaml or a command-line value is invalid "
        "(also argparse's usage errors)"),
    3: ("data error", "the data set cannot be read or prepared"),
    4: ("checkpoint error", "a run folder's checkpoints belong to another configuration, "
        "or none of them can be read"),
    5: ("training diverged", "a loss became NaN or infinite, or stayed beyond "
        "train.divergence_loss"),
    6: ("weights error", "a weights file or snapshot is unreadable, refused, or does not fit"),
    OutputError.exit_code: ("output error", "an output file or folder cannot be written"),
    RunFolderInUseError.exit_code: ("run folder in use", "another process trains into the "
                                    "same run folder"),
    BackendError.exit_code: ("backend error", "a TensorFlow-only part (data, training, "
                             "export) was called under another Keras backend"),
    MissingFileError.exit_code: ("missing file", "an input file or folder does not exist"),
    EXIT_INTERRUPTED: ("interrupted", "SIGINT or SIGTERM stopped training after a "
                       "checkpoint of its last step"),
}
