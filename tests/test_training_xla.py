"""``train.xla``: the whole step compiled with XLA, augmentation included."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf
from training_setup import synthetic_dataset_fn, tiny_config

from sfkeras.config import AugmentConfig
from sfkeras.training.augment import AugmentPipe
from sfkeras.training.trainer import Trainer

pytestmark = pytest.mark.slow  # XLA compiles two kinds of step


def _steps(xla: bool) -> list[dict[str, float]]:
    """Two steps (with and without R1) of a tiny config with fixed bgc augmentation."""
    config = tiny_config(xla=xla, d_reg_interval=2).replace(
        augment=AugmentConfig(mode="fixed", pipeline="bgc", p=0.5))
    trainer = Trainer(config, tf.distribute.get_strategy())
    assert trainer.augment.branch_free == xla
    reals = iter(synthetic_dataset_fn(4)(tf.distribute.InputContext()))
    return [trainer.run_step(next(reals)) for _ in range(2)]


def test_xla_step_with_augmentation_trains():
    """Both kinds of step compile and give finite losses of the usual size.

    XLA's stateless random numbers come from another algorithm than TensorFlow's
    CPU kernels (``auto_select``), so latents and augmentations, hence the exact
    losses, differ from the plain step's.
    """
    compiled, plain = _steps(xla=True), _steps(xla=False)
    assert "loss/r1_penalty" in compiled[0] and "loss/r1_penalty" not in compiled[1]
    for xla_stats, stats in zip(compiled, plain, strict=True):
        assert xla_stats.keys() == stats.keys()
        assert all(np.isfinite(value) for value in xla_stats.values())
        np.testing.assert_allclose(xla_stats["loss/G"], stats["loss/G"], rtol=0.2)


def test_branch_free_pipe_gives_the_same_images():
    images = tf.random.stateless_uniform([4, 16, 16, 3], [1, 2], -1.0, 1.0)
    for p in (0.0, 0.5):
        pipes = [AugmentPipe(p=p, branch_free=branch_free) for branch_free in (False, True)]
        outputs = [pipe(images, seed=tf.constant([3, 4])) for pipe in pipes]
        np.testing.assert_allclose(outputs[0], outputs[1], atol=1e-6)
    restored = AugmentPipe.from_config(pipes[1].get_config())
    assert restored.branch_free
