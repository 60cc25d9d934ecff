"""ADA controller: p follows the overfitting heuristic of StyleGAN2-ADA."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf

from sfkeras.config.augment import AugmentConfig
from sfkeras.training.ada import AdaController
from sfkeras.training.augment import build_augment_pipe

BATCH = 32
STEP = BATCH * 4 / (500 * 1000)  # batch * interval / (kimg * 1000) with the defaults


def _controller(mode="ada", p=0.0, **fields):
    config = AugmentConfig(mode=mode, p=p, **fields)
    variable = None if mode == "noaug" else tf.Variable(p)
    return AdaController(config, BATCH, variable), variable


def _run(controller, logits, updates):
    """``updates`` adjustment periods of 4 steps, each step seeing ``logits``."""
    for _ in range(updates):
        for _ in range(4):
            controller.accumulate(tf.constant(logits))
        p = controller.update()
    return float(p)


def test_p_rises_while_d_overfits():
    controller, variable = _controller()
    logits = np.ones(BATCH, "float32")  # mean sign 1 > target 0.6
    assert _run(controller, logits, 3) == pytest.approx(3 * STEP)
    assert float(variable.numpy()) == pytest.approx(3 * STEP)


def test_p_falls_to_zero_and_never_below():
    controller, variable = _controller(p=2.5 * STEP)
    logits = np.where(np.arange(BATCH) % 2 == 0, 1.0, -1.0).astype("float32")  # mean sign 0
    assert _run(controller, logits, 2) == pytest.approx(0.5 * STEP)
    assert _run(controller, logits, 3) == 0.0
    assert float(variable.numpy()) == 0.0


def test_mean_sign_is_over_all_logits_since_the_last_update():
    controller, _ = _controller()
    for logits in ([1.0, 1.0, 1.0, 1.0], [1.0, -1.0, 0.0, -1.0]):
        controller.accumulate(tf.constant(logits))
    assert float(controller.overfitting()) == pytest.approx(3 / 8)
    assert float(controller.update()) == 0.0  # 0.375 < 0.6: would fall, clamped at 0
    assert float(controller.overfitting()) == 0.0  # statistics reset


def test_update_without_statistics_keeps_p():
    controller, _ = _controller(p=0.3)
    assert float(controller.update()) == pytest.approx(0.3)


def test_p_is_not_clamped_at_max_p_which_the_pipeline_applies():
    """Styleformer's aug_linformer clamps the probability used, not the stored p."""
    controller, _ = _controller(p=0.7, max_p=0.7)
    assert _run(controller, np.ones(BATCH, "float32"), 1) == pytest.approx(0.7 + STEP)


def test_fixed_mode_keeps_p():
    controller, variable = _controller(mode="fixed", p=0.4)
    assert _run(controller, np.ones(BATCH, "float32"), 2) == pytest.approx(0.4)
    assert float(variable.numpy()) == pytest.approx(0.4)


def test_noaug_mode_has_p_zero():
    controller, _ = _controller(mode="noaug")
    assert _run(controller, np.ones(BATCH, "float32"), 2) == 0.0
    with pytest.raises(ValueError, match="needs p"):
        AdaController(AugmentConfig(mode="noaug"), BATCH, tf.Variable(0.0))
    with pytest.raises(ValueError, match="needs p"):
        AdaController(AugmentConfig(mode="ada"), BATCH, None)


def test_works_inside_tf_function_with_config_speed():
    controller, variable = _controller(interval=2, kimg=0.064)  # step = 32 * 2 / 64 = 1
    accumulate = tf.function(controller.accumulate)
    update = tf.function(controller.update)
    accumulate(tf.ones([BATCH, 1]))
    assert float(update()) == pytest.approx(1.0)
    accumulate(-tf.ones([BATCH, 1]))
    assert float(update()) == 0.0
    assert float(variable.numpy()) == 0.0


def test_adjusts_the_pipeline_weight():
    config = AugmentConfig(mode="ada", p=0.1)
    pipe = build_augment_pipe(config, (8, 8, 3), seed=0)
    controller = AdaController(config, BATCH, pipe.p)
    controller.accumulate(tf.ones([BATCH]))
    controller.update()
    assert float(pipe.p.numpy()) == pytest.approx(0.1 + STEP)
