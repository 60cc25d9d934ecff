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


class SfkerasError(Exception):
    """Base of every deliberate sfkeras error.

    Attributes:
        exit_code: the ``sfkeras`` command's exit status for this kind of error.
        kind: the words the command line prints before the message.
    """

    exit_code: int = 1
    kind: str = "error"


class BackendError(SfkerasError, RuntimeError):
    """A part of sfkeras that runs on TensorFlow only (data, training, export,
    ``tf.distribute``, SavedModels) was called while Keras runs on another backend."""

    exit_code = 7
    kind = "backend error"


#: Exit status of a command stopped by SIGINT or SIGTERM (after saving what it could).
EXIT_INTERRUPTED = 130
