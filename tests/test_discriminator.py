"""StyleGAN2 discriminator: parity with the original, import checks, mbstd, serialisation."""

import json

import keras
import numpy as np
import pytest
from conftest import load_fixture, to_numpy

from sfkeras.config.discriminator import DiscriminatorConfig
from sfkeras.convert.common import WeightImportError
from sfkeras.convert.discriminator import (
    discriminator_config_from_official,
    discriminator_table,
    import_official_discriminator,
)
from sfkeras.layers.discriminator import MinibatchStdDev
from sfkeras.models.discriminator import Discriminator, block_resolutions

TINY = DiscriminatorConfig(channel_base=64, channel_max=8, mbstd_group_size=2)


def official(name):
    """(config dict, state dict, NHWC images, logits) of a reference fixture."""
    data = load_fixture(name)
    state = {k[len("state/"):]: v for k, v in data.items() if k.startswith("state/")}
    return (json.loads(str(data["config"])), state, np.transpose(data["img"], (0, 2, 3, 1)),
            data["logits"])


def tiny_discriminator(architecture="resnet", resolution=16, **changes):
    model = Discriminator(resolution, TINY.replace(architecture=architecture, **changes))
    model.build((None, resolution, resolution, 3))
    return model


@pytest.mark.platform
@pytest.mark.cross_backend
@pytest.mark.parametrize("name", ["discriminator_orig32", "discriminator_resnet64"])
def test_logits_match_the_original(name):
    config, state, images, logits = official(name)
    model = import_official_discriminator(config, state)
    np.testing.assert_allclose(to_numpy(model(images)), logits, atol=1e-4, rtol=0)


def test_config_from_official():
    resolution, section = discriminator_config_from_official(
        {"resolution": 64, "architecture": "resnet", "channel_base": 2048, "channel_max": 64,
         "conv_clamp": 256, "mbstd_group_size": 4})
    assert resolution == 64
    assert section == DiscriminatorConfig(architecture="resnet", channel_base=2048,
                                          channel_max=64, conv_clamp=256.0, mbstd_group_size=4)


def test_import_reports_missing_unexpected_and_misshaped():
    config, state, _, _ = official("discriminator_orig32")
    broken = dict(state)
    del broken["b16.conv0.bias"]
    broken["b32.skip.weight"] = np.zeros((64, 64, 1, 1), "float32")
    broken["b4.fc.weight"] = np.zeros((64, 512), "float32")
    with pytest.raises(WeightImportError) as error:
        import_official_discriminator(config, broken)
    message = str(error.value)
    assert "missing (1): b16.conv0.bias" in message
    assert "unexpected (1): b32.skip.weight" in message
    assert "mis-shaped (1): b4.fc.weight" in message


@pytest.mark.parametrize("architecture", ["orig", "skip", "resnet"])
def test_import_table_covers_every_variable_once(architecture):
    model = tiny_discriminator(architecture)
    table = discriminator_table(model)
    targets = [id(target.variable) for target in table.values()]
    assert len(set(targets)) == len(targets) == len(model.weights)
    assert all(name.startswith(("b16.", "b8.", "b4.")) for name in table)


def reference_mbstd(x, group_size):
    """The original's MinibatchStdLayer on NHWC (one feature map)."""
    n = x.shape[0]
    group = min(group_size, n)
    y = x.reshape(group, n // group, *x.shape[1:]).astype(np.float64)
    std = np.sqrt(y.var(axis=0) + 1e-8).mean(axis=(1, 2, 3))  # [n / G]
    feature = np.tile(std, group)[:, None, None, None] * np.ones((*x.shape[:3], 1))
    return np.concatenate([x, feature], axis=-1)


@pytest.mark.parametrize("batch,group_size", [(8, 4), (6, 2), (2, 4), (3, 4)])
def test_minibatch_stddev_groups(rng, batch, group_size):
    x = rng.standard_normal((batch, 4, 4, 5)).astype("float32")
    got = to_numpy(MinibatchStdDev(group_size)(x))
    np.testing.assert_allclose(got, reference_mbstd(x, group_size), rtol=1e-5)


def test_minibatch_stddev_batch_not_divisible_by_group():
    with pytest.raises(ValueError, match="batch of 6 is not divisible by the group size 4"):
        MinibatchStdDev(4)(np.zeros((6, 4, 4, 2), "float32"))


@pytest.mark.tensorflow
def test_minibatch_stddev_dynamic_batch(rng):
    import tensorflow as tf

    x = rng.standard_normal((6, 4, 4, 2)).astype("float32")
    layer = MinibatchStdDev(3)
    traced = tf.function(layer, input_signature=[tf.TensorSpec((None, 4, 4, 2))])
    np.testing.assert_allclose(to_numpy(traced(x)), reference_mbstd(x, 3), rtol=1e-5)


@pytest.mark.tensorflow
def test_traced_with_dynamic_batch(rng):
    import tensorflow as tf

    model = tiny_discriminator("skip")
    images = rng.standard_normal((4, 16, 16, 3)).astype("float32")
    traced = tf.function(model, input_signature=[tf.TensorSpec((None, 16, 16, 3))])
    np.testing.assert_allclose(to_numpy(traced(images)), to_numpy(model(images)), atol=1e-6)


def test_cifar_parameter_count_equals_the_originals():
    """The original's CIFAR D (channel_base 32768, channel_max 512, 32x32, orig): 20.7M."""
    def conv(cin, cout, k, bias=True):
        return cin * cout * k * k + (cout if bias else 0)

    channels = {res: min(32768 // res, 512) for res in (32, 16, 8, 4)}
    expected = conv(3, channels[32], 1)  # b32.fromrgb
    for res in (32, 16, 8):
        expected += conv(channels[res], channels[res], 3)  # conv0
        expected += conv(channels[res], channels[res // 2], 3)  # conv1
    c4 = channels[4]
    expected += conv(c4 + 1, c4, 3) + (c4 * 16 * c4 + c4) + (c4 + 1)  # conv, fc, out
    model = Discriminator(32, DiscriminatorConfig(architecture="orig"))
    model.build((None, 32, 32, 3))
    assert model.count_params() == expected == 20_720_641


def test_stl10_resolution_ends_in_a_6x6_epilogue(rng):
    assert block_resolutions(48) == [48, 24, 12]
    model = tiny_discriminator("resnet", resolution=48)
    assert model.epilogue.name == "b6"
    assert model(rng.standard_normal((2, 48, 48, 3)).astype("float32")).shape == (2, 1)


@pytest.mark.parametrize("resolution", [4, 6, 40, 100])
def test_unsupported_resolutions_fail_clearly(resolution):
    with pytest.raises(ValueError, match=f"resolution {resolution} is not supported"):
        Discriminator(resolution, TINY)


@pytest.mark.parametrize("architecture", ["orig", "skip", "resnet"])
def test_keras_file_round_trip(tmp_path, rng, architecture):
    model = tiny_discriminator(architecture, conv_clamp=None, mbstd_channels=2)
    images = rng.standard_normal((4, 16, 16, 3)).astype("float32")
    path = tmp_path / "d.keras"
    model.save(path)
    loaded = keras.saving.load_model(path)
    assert loaded.discriminator_config == model.discriminator_config
    np.testing.assert_array_equal(to_numpy(loaded(images)), to_numpy(model(images)))


@pytest.mark.tensorflow
def test_gradients_second_order(rng):
    """R1 needs d/dtheta ||dD/dx||^2: nested tapes give finite, non-zero gradients."""
    import tensorflow as tf

    model = tiny_discriminator("resnet")
    images = tf.constant(rng.standard_normal((4, 16, 16, 3)).astype("float32"))
    with tf.GradientTape() as outer:
        with tf.GradientTape() as inner:
            inner.watch(images)
            logits_sum = tf.reduce_sum(model(images))
        image_grads = inner.gradient(logits_sum, images)
        penalty = tf.reduce_mean(tf.reduce_sum(tf.square(image_grads), axis=(1, 2, 3)))
    variables = model.trainable_variables
    grads = outer.gradient(penalty, variables)
    # D is piecewise linear in x except for mbstd, so dD/dx depends on a bias only through
    # mbstd: exactly the biases after it (epilogue conv, fc, out) get no gradient.
    unreached = [v.path for v, g in zip(variables, grads, strict=True)
                 if g is None or not np.any(g)]
    epilogue = model.epilogue
    assert unreached == [epilogue.conv.bias.path, epilogue.fc.bias.path, epilogue.out.bias.path]
    assert all(np.isfinite(g).all() for g in grads if g is not None)


@pytest.mark.tensorflow
def test_loss_gradients_match_the_original():
    """D's gradients of the original's Dmain (logistic) and Dreg (lazy R1) losses.

    Compared per tensor by relative Frobenius error. One pre-activation of the fixture
    (real sample 0, b32.conv0, channel 21) is 1e-7 from the leaky-ReLU kink, so float32
    rounding decides its branch and moves sample 0's R1 penalty by 6e-5 relative: the
    R1 gradients agree to about 1.5e-3 (this port in float32 and float64 agree to 1e-5).
    """
    import tensorflow as tf

    data = load_fixture("train_step32")
    state = {k[len("D/"):]: v for k, v in data.items() if k.startswith("D/")}
    model = import_official_discriminator(json.loads(str(data["disc_config"])), state)
    real = tf.constant(np.transpose(data["real_img"], (0, 2, 3, 1)))
    fake = tf.constant(np.transpose(data["gen_img"], (0, 2, 3, 1)))
    r1_scale = float(data["r1_gamma"]) / 2 * int(data["reg_interval"])
    with tf.GradientTape(persistent=True) as tape:
        loss_main = (tf.reduce_mean(tf.nn.softplus(model(fake)))
                     + tf.reduce_mean(tf.nn.softplus(-model(real))))
        with tf.GradientTape() as inner:
            inner.watch(real)
            real_logits_sum = tf.reduce_sum(model(real))
        r1_penalty = tf.reduce_sum(tf.square(inner.gradient(real_logits_sum, real)), axis=(1, 2, 3))
        loss_reg = tf.reduce_mean(r1_penalty) * r1_scale
    np.testing.assert_allclose(r1_penalty.numpy(), data["r1_penalty"], rtol=1e-4)
    table = discriminator_table(model)
    for phase, loss, tolerance in (("Dmain", loss_main, 1e-3), ("Dreg", loss_reg, 3e-3)):
        for name, target in table.items():
            expected = target.transform(data[f"grad_{phase}/{name}"])
            got = tape.gradient(loss, target.variable)
            got = np.zeros_like(expected) if got is None else to_numpy(got)
            error = np.linalg.norm(got - expected)
            assert error <= tolerance * np.linalg.norm(expected), f"{phase} gradient of {name}"
