"""``train.mixed_precision``: float16 synthesis (float32 weights), float32 mapping and D."""

from __future__ import annotations

import keras
import numpy as np
import pytest
import tensorflow as tf
from training_setup import synthetic_dataset_fn, tiny_config

from sfkeras.config import GeneratorConfig
from sfkeras.training.run import run_training

pytestmark = pytest.mark.slow  # a traced training run (float16 is slow on CPUs)

#: Every generator path: Styleformer stages (Linformer at 16) and StyleGAN2 blocks.
GENERATOR = GeneratorConfig(resolution=16, start_resolution=4, num_layers=(1, 1, 1),
                            hidden=(16, 16, 8), depth=8, z_dim=16, w_dim=16,
                            linformer=True, linformer_dim=4, linformer_min_resolution=8,
                            styleformer_max_resolution=8, conv_clamp=256)


@pytest.fixture(scope="module")
def trainer(tmp_path_factory):
    config = tiny_config(mixed_precision=True, g_reg_interval=1, d_reg_interval=1,
                         pl_weight=2.0, style_mixing_prob=0.9)
    config = config.replace(generator=GENERATOR)
    return run_training(config, synthetic_dataset_fn(4), tmp_path_factory.mktemp("mp"),
                        max_steps=2)


def test_generators_compute_in_float16_discriminator_in_float32(trainer):
    assert keras.config.dtype_policy().name == "float32"  # restored after construction
    for generator in (trainer.generator, trainer.generator_ema):
        assert generator.synthesis.compute_dtype == "float16"
        assert generator.mapping.compute_dtype == "float32"  # as the original's
        assert {v.dtype for v in generator.trainable_variables} == {"float32"}
    assert trainer.discriminator.compute_dtype == "float32"
    assert isinstance(trainer.g_optimizer, keras.optimizers.LossScaleOptimizer)
    assert not isinstance(trainer.d_optimizer, keras.optimizers.LossScaleOptimizer)


def test_all_phases_train_with_finite_losses_and_weights(trainer):
    assert int(trainer.step.numpy()) == 2
    reals = next(iter(synthetic_dataset_fn(4)(tf.distribute.InputContext())))
    stats = trainer.run_step(reals)  # step 2: every phase again
    assert {"loss/G", "loss/D", "loss/pl_penalty", "loss/r1_penalty"} <= stats.keys()
    assert all(np.isfinite(value) for value in stats.values()), stats
    networks = (trainer.generator, trainer.generator_ema, trainer.discriminator)
    assert all(np.isfinite(np.asarray(v)).all() for n in networks for v in n.variables)
    images = trainer.generator_ema(np.zeros((2, GENERATOR.z_dim), np.float32))
    assert images.dtype == "float32" and np.isfinite(np.asarray(images)).all()
