"""Tiny configurations and synthetic data for the training tests."""

from __future__ import annotations

import tensorflow as tf

from sfkeras.config import (
    AugmentConfig,
    Config,
    DataConfig,
    DiscriminatorConfig,
    GeneratorConfig,
    TrainConfig,
)

RESOLUTION = 16


def tiny_config(c_dim: int = 0, **train_overrides) -> Config:
    """A 16x16 Styleformer (hidden 32, 16) and a small ``orig`` D, batch 4, no ADA;
    conditioned on ``c_dim`` classes."""
    train = {"batch_size": 4, "kimg": 1.0, "r1_gamma": 1.0, "d_reg_interval": 2,
             "ema_kimg": 0.01, "checkpoint_kimg": 0.008, "snapshot_kimg": 0.016,
             "log_kimg": 0.004, "strategy": "default", **train_overrides}
    return Config(
        data=DataConfig(resolution=RESOLUTION),
        generator=GeneratorConfig(resolution=RESOLUTION, num_layers=(1, 1), hidden=(32, 16),
                                  depth=16, z_dim=32, w_dim=32, c_dim=c_dim),
        discriminator=DiscriminatorConfig(architecture="orig", channel_base=256,
                                          channel_max=32, mbstd_group_size=2),
        augment=AugmentConfig(mode="noaug"),
        train=TrainConfig(**train),
    )


def synthetic_dataset_fn(global_batch: int, seed: int = 7, c_dim: int = 0):
    """``dataset_fn`` whose global batch at step ``s`` is a fixed function of ``s``.

    Replica ``r`` of ``R`` gets samples ``r, r + R, ...`` of each global batch (as the
    trainer slices latents); each input pipeline yields, per step, the batches of the
    replicas it feeds in replica order. Every replica count sees the same data. With
    ``c_dim``, batches are ``(images, labels)`` with uniform random ``int64`` labels.
    """

    def dataset_fn(context: tf.distribute.InputContext) -> tf.data.Dataset:
        total = context.num_replicas_in_sync
        replicas = total // context.num_input_pipelines
        first = context.input_pipeline_id * replicas

        def step_batches(step):
            key = tf.stack([tf.constant(seed, tf.int64), step])
            images = tf.random.stateless_uniform(
                [global_batch, RESOLUTION, RESOLUTION, 3], key, -1.0, 1.0)
            shares = tf.stack([images[r::total] for r in range(first, first + replicas)])
            if not c_dim:
                return tf.data.Dataset.from_tensor_slices(shares)
            labels = tf.random.stateless_uniform([global_batch], key + 1, 0, c_dim, tf.int64)
            label_shares = tf.stack([labels[r::total] for r in range(first, first + replicas)])
            return tf.data.Dataset.from_tensor_slices((shares, label_shares))

        return tf.data.Dataset.range(1 << 40).flat_map(step_batches)

    return dataset_fn
