"""The errors sfkeras raises on purpose, one class per kind, each with its exit code.

Every exception the library raises deliberately (bad configuration, unusable data, an
unreadable or mismatched checkpoint, a diverged run, weights that cannot be imported,
an output that cannot be written, a run folder in use) derives from :class:`SfkerasError`.
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
