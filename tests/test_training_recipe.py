"""The StyleGAN2-ADA recipe pieces: lazy-regularisation Adam, EMA, phase schedule, losses."""

from __future__ import annotations

import types

import keras
import numpy as np
import pytest
import tensorflow as tf

from sfkeras.config import AugmentConfig, Config, TrainConfig
from sfkeras.training.cadence import crossed
from sfkeras.training.distribute import per_replica_batch
from sfkeras.training.ema import ema_beta, update_ema
from sfkeras.training.loss import LossSettings, StyleGAN2Loss, phases_at
from sfkeras.training.optim import TorchAdam, build_lazy_adam, lazy_adam_settings
from sfkeras.training.trainer import Trainer, nan_to_num


def test_lazy_adam_settings_follow_the_original():
    g = lazy_adam_settings(0.0025, (0.0, 0.99), 1e-8, reg_interval=4)
    d = lazy_adam_settings(0.0025, (0.0, 0.99), 1e-8, reg_interval=16)
    assert g.learning_rate == pytest.approx(0.0025 * 4 / 5)
    assert (g.beta_1, g.beta_2) == pytest.approx((0.0, 0.99 ** (4 / 5)))
    assert d.learning_rate == pytest.approx(0.0025 * 16 / 17)
    assert d.beta_2 == pytest.approx(0.99 ** (16 / 17))
    optimizer = build_lazy_adam(0.0025, (0.0, 0.99), 1e-8, 16, name="D_adam")
    assert isinstance(optimizer, TorchAdam)
    assert float(optimizer.learning_rate) == pytest.approx(d.learning_rate)
    assert optimizer.beta_2 == pytest.approx(d.beta_2)


def test_torch_adam_uses_pytorch_update(rng):
    lr, beta_1, beta_2, eps = 0.01, 0.5, 0.9, 1e-3  # large eps: Keras' placement differs
    start = rng.normal(size=5).astype(np.float32)
    grads = rng.normal(size=(3, 5)).astype(np.float32)
    variable = keras.Variable(start)
    optimizer = TorchAdam(learning_rate=lr, beta_1=beta_1, beta_2=beta_2, epsilon=eps)
    m = v = np.zeros(5)
    expected = start.astype(np.float64)
    for t, g in enumerate(grads, start=1):
        optimizer.apply([tf.constant(g)], [variable])
        m = beta_1 * m + (1 - beta_1) * g
        v = beta_2 * v + (1 - beta_2) * g**2
        m_hat, v_hat = m / (1 - beta_1**t), v / (1 - beta_2**t)
        expected = expected - lr * m_hat / (np.sqrt(v_hat) + eps)
    np.testing.assert_allclose(variable.numpy(), expected, rtol=1e-5)


def test_ema_beta_ramp_up_and_half_life():
    assert float(ema_beta(32, tf.constant(0), 500.0, 0.05)) == 0.0  # G_ema = G at the start
    ramped = float(ema_beta(32, tf.constant(10_000), 500.0, 0.05))
    assert ramped == pytest.approx(0.5 ** (32 / 500.0))
    assert float(ema_beta(32, tf.constant(10**9), 500.0, 0.05)) == pytest.approx(
        0.5 ** (32 / 500_000.0))
    assert float(ema_beta(64, tf.constant(0), 20.0, None)) == pytest.approx(0.5 ** (64 / 20_000))


def test_update_ema_lerps_weights_and_copies_buffers():
    def network(value):
        layer = keras.layers.BatchNormalization()
        layer.build((None, 2))
        for variable in layer.variables:
            variable.assign(np.full(variable.shape, value, np.float32))
        return layer

    ema, model = network(1.0), network(3.0)
    update_ema(ema, model, tf.constant(0.25))
    for variable in ema.trainable_variables:
        np.testing.assert_allclose(variable.numpy(), 3.0 + (1.0 - 3.0) * 0.25)
    for variable in ema.non_trainable_variables:
        np.testing.assert_allclose(variable.numpy(), 3.0)


def test_phase_schedule():
    train = TrainConfig(g_reg_interval=4, d_reg_interval=16, pl_weight=0.0, r1_gamma=0.01)
    schedule = [phases_at(step, train) for step in range(33)]
    assert ["Dreg" in s.key for s in schedule].count(True) == 3  # steps 0, 16, 32
    assert "Dreg" in schedule[16].key and "Dreg" not in schedule[15].key
    assert not any("Greg" in s.key for s in schedule)  # pl off: Greg does nothing
    with_pl = TrainConfig(pl_weight=2.0, g_reg_interval=4)
    assert ["Greg" in phases_at(s, with_pl).key for s in range(5)] == [1, 0, 0, 0, 1]
    assert "Dreg" not in phases_at(0, TrainConfig(r1_gamma=0.0)).key


def test_nan_to_num_matches_torch():
    grads = tf.constant([np.nan, np.inf, -np.inf, 3e5, -2.0])
    np.testing.assert_array_equal(nan_to_num(grads), [0.0, 1e5, -1e5, 3e5, -2.0])


def test_crossed_interval():
    assert crossed(9_990, 10_010, 10.0)
    assert not crossed(10_000, 10_020, 10.0)
    assert crossed(0, 4, 0.004)


class _StubGenerator:
    """Mapping: ``ws[n, i] = z[n, 0]`` for every i; synthesis: mean of ws as an image."""

    num_ws = 6

    class _Mapping:
        def __call__(self, z, c=None, update_w_avg=False):
            return tf.tile(z[:, None, :1], [1, _StubGenerator.num_ws, 1])

    def __init__(self):
        self.mapping = self._Mapping()


def test_style_mixing_takes_a_suffix_of_ws_from_a_second_latent():
    loss = StyleGAN2Loss(_StubGenerator(), None, LossSettings(global_batch=4, r1_gamma=0.0,
                                                              style_mixing_prob=1.0))
    z = tf.constant(np.arange(1, 5, dtype=np.float32)[:, None])
    ws = loss.generator.mapping(z)
    cutoffs = set()
    for seed in range(20):
        mixed = loss._mix_styles(ws, z, tf.constant([seed, 0], tf.int64)).numpy()[..., 0]
        cutoff = int(np.argmax(mixed[0] != mixed[0, 0])) or _StubGenerator.num_ws
        np.testing.assert_array_equal(mixed[:, :cutoff], np.repeat(z.numpy(), cutoff, axis=1))
        assert np.all(mixed[:, cutoff:] != z.numpy())
        cutoffs.add(cutoff)
    assert cutoffs <= set(range(1, _StubGenerator.num_ws)) and len(cutoffs) > 2


def test_r1_penalty_is_the_squared_input_gradient():
    weights = tf.constant(np.arange(12, dtype=np.float32).reshape(1, 2, 2, 3))

    def discriminator(images):  # linear: d logits / d x = weights
        return tf.reduce_sum(images * weights, axis=[1, 2, 3])[:, None]

    loss = StyleGAN2Loss(None, discriminator, LossSettings(global_batch=3, r1_gamma=4.0))
    reals = tf.zeros([3, 2, 2, 3])
    per_sample, penalty, logits = loss.discriminator_r1(reals, tf.constant([0, 0], tf.int64))
    np.testing.assert_allclose(penalty, [np.sum(weights.numpy() ** 2)] * 3)
    np.testing.assert_allclose(per_sample, penalty * 2.0)
    assert logits.shape == (3,)


def test_ada_adjusts_p_after_every_interval_steps():
    train, augment = TrainConfig(), AugmentConfig(mode="ada", interval=4)
    assert [phases_at(s, train, augment).ada_update for s in range(8)] == [
        False, False, False, True, False, False, False, True]
    assert not phases_at(3, train, AugmentConfig(mode="fixed")).ada_update


def test_global_batch_must_split_over_replicas():
    two_replicas = types.SimpleNamespace(num_replicas_in_sync=2)
    assert per_replica_batch(two_replicas, 32) == 16
    with pytest.raises(ValueError, match="not divisible by the 2 replicas"):
        per_replica_batch(two_replicas, 5)


def test_xla_needs_a_single_replica():
    two_replicas = types.SimpleNamespace(num_replicas_in_sync=2)
    with pytest.raises(ValueError, match="train.xla"):
        Trainer(Config(train=TrainConfig(xla=True)), two_replicas)
