"""Training logs: progress bar, dvclive metrics and TensorBoard summaries.

Scalars are logged with the training progress in kimg as step, to dvclive
(``out_dir/log/dvclive``: ``metrics.json`` and ``plots/metrics/<name>.tsv``, which
``dvc plots`` reads) and to TensorBoard (``out_dir/log/tensorboard``, step in images).
dvclive is told not to touch the project's ``dvc.yaml`` nor to save DVC experiments.

The logs are one run's history and survive interruptions: a resumed run keeps what
was logged up to its restored checkpoint and drops anything logged after it (by the
interrupted call, which will log it again), so no step is missing or repeated.
``log/run.json`` names the run (:func:`~sfkeras.saved.runs.run_key`) the
history belongs to; a fresh run, or a resumed run of another key, starts it afresh.
"""

from __future__ import annotations

import contextlib
import csv
import json
import os
import pathlib
import shutil
import time
from collections.abc import Iterator, Mapping, Sequence

import tensorflow as tf
from tensorflow.core.framework import summary_pb2
from tensorflow.core.util import event_pb2

from sfkeras.progress import progress_bar

#: TensorBoard's scalar-plugin tag, so that plain ``tf.summary.write`` events (which
#: need no ``tensorboard`` package at training time) show as scalars.
_SCALAR_METADATA = summary_pb2.SummaryMetadata(
    plugin_data=summary_pb2.SummaryMetadata.PluginData(plugin_name="scalars"))


class TrainingLogger:
    """Writes the scalars of a run; only the chief process should create one.

    Args:
        log_dir: ``out_dir/log``.
        total_kimg: training length, for the progress bar.
        run: the run key the logs belong to.
        resume_kimg: the kimg of the restored checkpoint, ``None`` for a fresh run.

    Attributes:
        continued: whether the existing history was continued (else it was cleared).
    """

    def __init__(self, log_dir: str | pathlib.Path, *, total_kimg: float, run: str,
                 resume_kimg: float | None):
        from dvclive import Live

        self.log_dir = pathlib.Path(log_dir)
        run_file = self.log_dir / "run.json"
        previous = json.loads(run_file.read_text())["run"] if run_file.is_file() else None
        self.continued = resume_kimg is not None and previous == run
        if self.continued:
            truncate_history(self.log_dir, resume_kimg)
        else:
            shutil.rmtree(self.log_dir / "tensorboard", ignore_errors=True)
        self.log_dir.mkdir(parents=True, exist_ok=True)
        run_file.write_text(json.dumps({"run": run}) + "\n")
        self.live = Live(str(self.log_dir / "dvclive"), resume=self.continued,
                         save_dvc_exp=False, dvcyaml=False)
        if self.continued:
            self.live.summary = dvclive_summary(self.log_dir / "dvclive")
        self.writer = tf.summary.create_file_writer(str(self.log_dir / "tensorboard"))
        start = resume_kimg if self.continued else 0.0
        self.progress = progress_bar(
            total=total_kimg, initial=start, unit="kimg", desc="train",
            bar_format="{desc}: {percentage:3.0f}%|{bar}| {n:.3f}/{total:g} kimg "
                       "[{elapsed}<{remaining}{postfix}]")
        self._start_kimg = start
        self._status = ""
        self._scalars: dict[str, str] = {}

    def log(self, kimg: float, scalars: Mapping[str, float]) -> None:
        """Record ``scalars`` (e.g. ``loss/G``, ``augment/p``, ``sec_per_kimg``) at ``kimg``."""
        self.live.step = round(kimg, 3)
        for name, value in scalars.items():
            self.live.log_metric(name, float(value))
        with self.writer.as_default(step=round(kimg * 1000)):
            for name, value in scalars.items():
                tf.summary.write(name, tf.constant(float(value), tf.float32),
                                 metadata=_SCALAR_METADATA)
        self.writer.flush()
        self.live.make_summary()

    def update_progress(self, kimg: float, scalars: Mapping[str, float]) -> None:
        """Advance the progress bar to ``kimg`` and show the speed and ``scalars`` on it.

        The bar shows kimg, its ETA, img/s and s/kimg (over this call's steps).
        """
        self.progress.update(kimg - self.progress.n)
        elapsed = self.progress.format_dict["elapsed"]
        done = kimg - self._start_kimg
        speed = {"img/s": f"{done * 1000 / elapsed:.0f}",
                 "s/kimg": f"{elapsed / done:.2f}"} if done > 0 and elapsed > 0 else {}
        self._scalars = {**speed, **{name: f"{value:.4g}" for name, value in scalars.items()}}
        self._show()

    @contextlib.contextmanager
    def status(self, text: str) -> Iterator[None]:
        """Show ``text`` on the progress bar while the block runs (e.g. an evaluation)."""
        self._status = text
        self._show()
        try:
            yield
        finally:
            self._status = ""
            self._show()

    def _show(self) -> None:
        postfix = ", ".join(f"{name}={value}" for name, value in self._scalars.items())
        self.progress.set_postfix_str(" | ".join(filter(None, [self._status, postfix])),
                                      refresh=True)

    def close(self) -> None:
        self.progress.close()
        self.writer.close()
        self.live.end()


class LossWindow:
    """The running means of the step statistics since the last log row, and its timing.

    The sums and counts belong to the run's state: :attr:`variables` go into its
    checkpoints (:meth:`store` before each save, :meth:`load` after a restore), so a run
    resumed between two log rows logs the same means as one never stopped. Sums are
    float64, added in step order.

    Args:
        names: the statistics it averages, in the order it reports them.
        nimg: the image count the window starts at.
    """

    def __init__(self, names: Sequence[str], nimg: int = 0):
        self.names = tuple(names)
        self._sums = dict.fromkeys(self.names, 0.0)
        self._counts = dict.fromkeys(self.names, 0)
        self._stored_sums = tf.Variable(tf.zeros(len(self.names), tf.float64),
                                        trainable=False, name="log_window_sums")
        self._stored_counts = tf.Variable(tf.zeros(len(self.names), tf.int64),
                                          trainable=False, name="log_window_counts")
        self._start_time, self._start_nimg = time.perf_counter(), nimg

    @property
    def variables(self) -> list[tf.Variable]:
        """The checkpointed state (sums and counts, in :attr:`names` order)."""
        return [self._stored_sums, self._stored_counts]

    def store(self) -> None:
        """Copy the sums and counts into :attr:`variables` (before a checkpoint is saved)."""
        self._stored_sums.assign([self._sums[name] for name in self.names])
        self._stored_counts.assign([self._counts[name] for name in self.names])

    def load(self, nimg: int) -> None:
        """Take the sums and counts from :attr:`variables` (after a restore at ``nimg``)."""
        sums, counts = self._stored_sums.numpy(), self._stored_counts.numpy()
        self._sums = {name: float(sums[i]) for i, name in enumerate(self.names)}
        self._counts = {name: int(counts[i]) for i, name in enumerate(self.names)}
        self._start_time, self._start_nimg = time.perf_counter(), nimg

    def add(self, stats: Mapping[str, float]) -> None:
        """Add one step's statistics (each a name of :attr:`names`)."""
        for name, value in stats.items():
            self._sums[name] += value
            self._counts[name] += 1

    def means(self) -> dict[str, float]:
        """The mean of each statistic over the window's steps (those that ran)."""
        return {name: self._sums[name] / self._counts[name] for name in self.names
                if self._counts[name]}

    def close(self, nimg: int) -> dict[str, float]:
        """The means and ``timing/sec_per_kimg`` at ``nimg``; the next window starts there."""
        now = time.perf_counter()
        row = {**self.means(), "timing/sec_per_kimg":
               (now - self._start_time) / max(nimg - self._start_nimg, 1) * 1000}
        self._sums = dict.fromkeys(self.names, 0.0)
        self._counts = dict.fromkeys(self.names, 0)
        self._start_time, self._start_nimg = now, nimg
        return row


def truncate_history(log_dir: pathlib.Path, kimg: float) -> None:
    """Drop everything logged after ``kimg`` from the dvclive TSVs and TensorBoard
    events of ``log_dir`` (rows at ``kimg`` itself are kept)."""
    for table in (log_dir / "dvclive" / "plots" / "metrics").rglob("*.tsv"):
        with table.open(newline="") as stream:
            reader = csv.DictReader(stream, delimiter="\t")
            rows = [row for row in reader if float(row["step"]) <= kimg + 1e-9]
        with table.open("w", newline="") as stream:
            writer = csv.DictWriter(stream, reader.fieldnames, delimiter="\t",
                                    lineterminator=os.linesep)
            writer.writeheader()
            writer.writerows(rows)
    _truncate_events(log_dir / "tensorboard", round(kimg * 1000))


def _truncate_events(folder: pathlib.Path, last_step: int) -> None:
    """Rewrite the TensorBoard event files of ``folder`` as one file holding the events
    up to ``last_step`` (in images), in their order."""
    files = sorted(folder.glob("events.out.tfevents.*"))
    if not files:
        return
    events = []
    for path in files:
        for record in tf.data.TFRecordDataset(str(path)):
            event = event_pb2.Event.FromString(record.numpy())
            if event.step <= last_step:
                events.append(record.numpy())
    merged = files[0].with_name(files[0].name + ".tmp")
    with tf.io.TFRecordWriter(str(merged)) as writer:
        for record in events:
            writer.write(record)
    for path in files:
        path.unlink()
    merged.rename(files[0])


def dvclive_summary(folder: pathlib.Path) -> dict:
    """dvclive's ``metrics.json`` content rebuilt from the last row of each TSV of
    ``folder`` (nested by the ``/`` of metric names, with the latest ``step``)."""
    summary: dict = {}
    step = 0.0
    metrics = folder / "plots" / "metrics"
    for table in sorted(metrics.rglob("*.tsv")):
        with table.open(newline="") as stream:
            rows = list(csv.DictReader(stream, delimiter="\t"))
        if not rows:
            continue
        *parents, name = table.relative_to(metrics).with_suffix("").parts
        node = summary
        for parent in parents:
            node = node.setdefault(parent, {})
        node[name] = float(rows[-1][name])
        step = max(step, float(rows[-1]["step"]))
    summary["step"] = step
    return summary
