"""Training logs: progress line, dvclive metrics and TensorBoard summaries.

Scalars are logged with the training progress in kimg as step, to dvclive
(``out_dir/log/dvclive``: ``metrics.json`` and ``plots/metrics/<name>.tsv``, which
``dvc plots`` reads) and to TensorBoard (``out_dir/log/tensorboard``, step in images).
dvclive is told not to touch the project's ``dvc.yaml`` nor to save DVC experiments.
"""

from __future__ import annotations

import pathlib
from collections.abc import Mapping

import tensorflow as tf
from tensorflow.core.framework import summary_pb2

#: TensorBoard's scalar-plugin tag, so that plain ``tf.summary.write`` events (which
#: need no ``tensorboard`` package at training time) show as scalars.
_SCALAR_METADATA = summary_pb2.SummaryMetadata(
    plugin_data=summary_pb2.SummaryMetadata.PluginData(plugin_name="scalars"))


class TrainingLogger:
    """Writes the scalars of a run; only the chief process should create one.

    Args:
        log_dir: ``out_dir/log``.
        total_kimg: training length, for the progress line.
        resume: append to existing logs (a resumed run).
    """

    def __init__(self, log_dir: str | pathlib.Path, *, total_kimg: float, resume: bool):
        from dvclive import Live
        from tqdm import tqdm

        self.log_dir = pathlib.Path(log_dir)
        self.live = Live(str(self.log_dir / "dvclive"), resume=resume, save_dvc_exp=False,
                         dvcyaml=False)
        self.writer = tf.summary.create_file_writer(str(self.log_dir / "tensorboard"))
        self.progress = tqdm(total=total_kimg, unit="kimg", dynamic_ncols=True,
                             bar_format="{l_bar}{bar}| {n:.3f}/{total:.3f} kimg {postfix}")

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
        """Advance the progress line to ``kimg`` and show ``scalars`` on it."""
        self.progress.update(kimg - self.progress.n)
        self.progress.set_postfix({name: f"{value:.4g}" for name, value in scalars.items()},
                                  refresh=True)

    def close(self) -> None:
        self.progress.close()
        self.writer.close()
        self.live.end()
