"""Progress bars for every long step: one look for training, metrics and rendering.

On a terminal the bars redraw twice a second; when the output goes to a file or a
pipe (DVC logs, CI) they print a line at most every 30 seconds, so logs stay
readable while long work still shows its rate and ETA.
"""

from __future__ import annotations

import sys
from typing import Any

from tqdm.auto import tqdm

#: Seconds between redraws on a terminal, and between lines in a log file.
TERMINAL_INTERVAL = 0.5
LOG_INTERVAL = 30.0


def progress_bar(**kwargs: Any) -> tqdm:
    """A :class:`tqdm` bar on stderr with this project's refresh policy.

    Keyword arguments go to :class:`tqdm` (``total``, ``desc``, ``unit``, ...) and
    override the defaults (``dynamic_ncols``, ``mininterval``).
    """
    interval = TERMINAL_INTERVAL if sys.stderr.isatty() else LOG_INTERVAL
    return tqdm(**{"dynamic_ncols": True, "mininterval": interval, "file": sys.stderr,
                   **kwargs})
