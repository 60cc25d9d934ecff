"""TensorFlow's native start-up lines, kept off a command's stderr.

TensorFlow's C++ libraries write log lines straight to file descriptor 2. Those written
while TensorFlow starts come before absl's logging is set up and ignore
``TF_CPP_MIN_LOG_LEVEL``: "WARNING: All log messages before absl::InitializeLog() is
called are written to STDERR", the oneDNN and CPU-feature notices, and on every machine
without a GPU ``E0000 ... failed call to cuInit: INTERNAL: CUDA error``, which people
read as a failure.

:func:`start_tensorflow_quietly` imports TensorFlow and initialises its devices with
file descriptor 2 pointed at a temporary file, then writes back whatever of it is not
such a log line (a native crash message, say), and sets ``TF_CPP_MIN_LOG_LEVEL=3``
(where unset) so that TensorFlow's later log lines stay off too: its info and warning
lines, and error lines of optimisation passes that give up and leave the graph as it
was (Grappler's ``remapper failed: ... Mutation::Apply error`` on the discriminator's
gradients, for one); errors that stop a computation still raise Python exceptions. The
``sfkeras`` command line calls it unless ``--verbose`` or ``SFKERAS_VERBOSE=1``.
"""

from __future__ import annotations

import os
import re
import sys
import tempfile

#: Lines of TensorFlow's native start-up logging (absl / glog format and its notices).
LOG_LINE = re.compile(r"[IWEF]\d{4} \d\d:\d\d:[\d.]+ +\d+ [\w./-]+:\d+\] "
                      r"|WARNING: All log messages before absl::InitializeLog\(\)"
                      r"|To enable the following instructions: ")

#: ``SFKERAS_VERBOSE=1`` keeps TensorFlow's lines, as ``sfkeras --verbose`` does.
VERBOSE_VARIABLE = "SFKERAS_VERBOSE"


def start_tensorflow_quietly() -> None:
    """Import TensorFlow and find its devices, without its native start-up lines.

    Does nothing but set ``TF_CPP_MIN_LOG_LEVEL`` when TensorFlow is imported already.
    """
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    if "tensorflow" in sys.modules:
        return
    sys.stderr.flush()
    original = os.dup(2)
    with tempfile.TemporaryFile() as captured:
        os.dup2(captured.fileno(), 2)
        try:
            import tensorflow as tf

            tf.config.list_physical_devices()
        finally:
            os.dup2(original, 2)
            os.close(original)
            captured.seek(0)
            text = captured.read().decode(errors="replace")
            sys.stderr.write("".join(line for line in text.splitlines(keepends=True)
                                     if not LOG_LINE.match(line)))
            sys.stderr.flush()
