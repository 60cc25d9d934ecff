"""A tiny Styleformer-C trains with the training loop and serves as a SavedModel."""

import dataclasses

import numpy as np
import tensorflow as tf
from training_setup import synthetic_dataset_fn, tiny_config

from sfkeras.config import GeneratorConfig
from sfkeras.export import export_generator
from sfkeras.images import to_uint8, z_from_seeds
from sfkeras.training.run import run_training

#: 8x8 Styleformer, 16x16 StyleGAN2 (the hand-over inside a 16x16 training config).
HYBRID = GeneratorConfig(resolution=16, num_layers=(1, 1), hidden=(32, 16), depth=16,
                         z_dim=32, w_dim=32, styleformer_max_resolution=8)


def test_tiny_hybrid_trains_and_exports(tmp_path):
    config = dataclasses.replace(tiny_config(), generator=HYBRID)
    trainer = run_training(config, synthetic_dataset_fn(config.train.batch_size),
                           tmp_path / "run", max_steps=3,
                           strategy=tf.distribute.get_strategy())
    assert int(trainer.step.numpy()) == 3
    weights = trainer.generator.synthesis.trainable_weights
    assert any("b16" in w.path for w in weights)
    assert all(np.isfinite(np.asarray(w)).all() for w in weights)

    artifacts = export_generator(tmp_path / "run" / "G_ema.keras", tmp_path / "export")
    assert set(artifacts) == {"saved_model", "litert", "onnx"}  # each checked on the way out
    saved_model = artifacts["saved_model"]
    z = z_from_seeds([0, 1], HYBRID.z_dim)
    served = tf.saved_model.load(str(saved_model)).signatures["serving_default"](
        z=tf.constant(z))["images"].numpy()
    expected = to_uint8(trainer.generator_ema(z, noise_mode="const"))
    assert np.abs(served.astype(int) - expected).max() <= 1
