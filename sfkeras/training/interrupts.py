"""Stop training cleanly on SIGINT (Ctrl-C) or SIGTERM.

Inside :func:`stop_on_signals`, the first SIGINT or SIGTERM only records a request:
the training loop finishes its current step, saves a checkpoint, closes the logs and
raises :class:`~sfkeras.errors.TrainingInterrupted` (exit status 130), and the same
command resumes from that checkpoint. A second signal interrupts at once (Python's
default behaviour is restored after the first one). Outside the block, and in threads
other than the main one, nothing changes.
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator

from sfkeras.errors import TrainingInterrupted

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)

_received: list[signal.Signals] = []


@contextlib.contextmanager
def stop_on_signals() -> Iterator[None]:
    """Turn SIGINT and SIGTERM into stop requests (:func:`stop_requested`) in the block."""
    if threading.current_thread() is not threading.main_thread():
        yield  # signal handlers can only be installed from the main thread
        return
    previous = {number: signal.getsignal(number) for number in STOP_SIGNALS}

    def request_stop(number, frame):
        _received.append(signal.Signals(number))
        for other, handler in previous.items():  # a second signal acts at once
            signal.signal(other, handler)

    _received.clear()
    for number in STOP_SIGNALS:
        signal.signal(number, request_stop)
    try:
        yield
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)
        _received.clear()


def stop_requested() -> bool:
    """Whether a stop signal arrived in the current :func:`stop_on_signals` block."""
    return bool(_received)


def raise_if_stop_requested(step: int, checkpoint: str | None) -> None:
    """Raise :class:`TrainingInterrupted` (naming ``checkpoint``) if a stop was requested."""
    if not _received:
        return
    saved = f"checkpoint {checkpoint} saved" if checkpoint else "no checkpoint saved"
    raise TrainingInterrupted(f"{_received[0].name} at step {step}: stopped after the "
                              f"step, {saved}; run the same command to resume")
