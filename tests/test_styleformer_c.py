"""Styleformer-C: Styleformer stages up to styleformer_max_resolution, StyleGAN2 stages above."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from sfkeras.config import preset_config
from sfkeras.config.generator import GeneratorConfig
from sfkeras.layers.stylegan2 import StyleGAN2Stage
from sfkeras.models.generator import Generator, parameter_counts

#: 8x8 and 16x16 Styleformer, 32x32 (two blocks) and 64x64 StyleGAN2.
TINY = GeneratorConfig(resolution=64, start_resolution=8, num_layers=(1, 1, 2, 1),
                       hidden=(32, 16, 16, 8), depth=16, z_dim=16, w_dim=16,
                       styleformer_max_resolution=16)

#: What every block of TINY reads, written out from the ws convention (one w per
#: encoder layer, two per StyleGAN2 block, a resolution's ToRGB reading the index after
#: its last layer): block name -> (ws of its layers, ws of its ToRGB or None).
TINY_READS = {
    "b8_0": ({0}, 1),
    "b16_0": ({1}, 2),
    "b32_0": ({2, 3}, None),
    "b32_1": ({4, 5}, 6),
    "b64_0": ({6, 7}, 8),
}


def stylegan2_parameters(config: GeneratorConfig) -> int:
    """Trainable parameters of the StyleGAN2 part, counted as in the original's modules."""
    w_dim, total = config.w_dim, 0
    resolutions = config.block_resolutions
    for i, (res, blocks, out) in enumerate(zip(resolutions, config.num_layers, config.hidden,
                                               strict=True)):
        if config.is_styleformer(res):
            continue
        handed_over = config.is_styleformer(resolutions[i - 1])
        prev = config.hidden[i] if handed_over else config.hidden[i - 1]
        for k in range(blocks):
            for cin in (prev if k == 0 else out, out):  # affine, weight, bias, noise_strength
                total += (w_dim * cin + cin) + out * cin * 9 + out + 1
        total += (w_dim * out + out) + config.img_channels * out + config.img_channels  # ToRGB
    return total


@pytest.mark.parametrize("preset", ["clevr", "cityscapes", "afhq_cat"])
def test_preset_builds_and_generates_at_full_resolution(preset, record_property):
    config = preset_config(preset).generator
    counts = parameter_counts(config)
    record_property("parameters", counts)
    print(f"{preset}: {counts}")
    generator = Generator(config, seed=0)
    synthesis = generator.synthesis
    stylegan2 = [s for s in synthesis.stages if isinstance(s, StyleGAN2Stage)]
    assert [s.resolution for s in stylegan2] == [r for r in config.block_resolutions if r > 32]
    sg2_count = sum(int(np.prod(v.shape)) for s in stylegan2 for v in s.trainable_weights)
    assert sg2_count == stylegan2_parameters(config)
    z = np.random.default_rng(0).standard_normal((1, config.z_dim)).astype("float32")
    image = np.asarray(generator(z, noise_mode="const"))
    assert image.shape == (1, config.resolution, config.resolution, 3)
    assert np.isfinite(image).all()


@pytest.fixture(scope="module")
def tiny():
    return Generator(TINY, seed=5)


def _ws(seed=0, batch=2):
    return np.random.default_rng(seed).standard_normal((batch, TINY.num_ws, TINY.w_dim)).astype(
        "float32")


def test_tiny_hybrid_ws_layout(tiny):
    assert TINY.num_ws == 12  # 1 + 1 + 2*2 + 2*1 layer ws, plus 4 ToRGB ws
    stages = tiny.synthesis.stages
    assert [type(s).__name__ for s in stages] == ["StyleformerStage"] * 2 + ["StyleGAN2Stage"] * 2
    assert [s.num_ws for s in stages] == [2, 2, 5, 3]
    assert not stages[1].upsample  # the StyleGAN2 stage up-samples the handed-over map
    assert stages[2].blocks[0].conv0.kernel.shape == (3, 3, 16, 16)
    assert stages[3].blocks[0].conv0.kernel.shape == (3, 3, 16, 8)


def test_style_mixing_across_the_hand_over_changes_only_the_expected_blocks(tiny):
    ws = _ws()
    base = tiny.synthesis.blocks_outputs(ws, noise_mode="const")
    assert list(base) == list(TINY_READS)
    for index in range(TINY.num_ws):
        mixed = ws.copy()
        mixed[:, index] = _ws(seed=1)[:, index]
        outputs = tiny.synthesis.blocks_outputs(mixed, noise_mode="const")
        x_seen = img_seen = False  # whether an earlier layer / image input read `index`
        for name, (layers, torgb) in TINY_READS.items():
            x_seen = x_seen or index in layers
            if torgb is not None:
                img_seen = img_seen or x_seen or index == torgb
            (x0, img0), (x1, img1) = base[name], outputs[name]
            assert np.array_equal(np.asarray(x0), np.asarray(x1)) != x_seen, (index, name)
            assert np.array_equal(np.asarray(img0), np.asarray(img1)) != img_seen, (index, name)


def test_truncating_the_unread_ws_changes_nothing(tiny):
    z = np.random.default_rng(2).standard_normal((2, TINY.z_dim)).astype("float32")
    tiny.mapping.w_avg.assign(np.full((TINY.w_dim,), 0.5, "float32"))
    full = np.asarray(tiny(z, noise_mode="const"))
    # Truncating only ws that nothing reads (9..11) changes nothing.
    every = np.asarray(tiny(z, truncation_psi=0.5, truncation_cutoff=12, noise_mode="const"))
    cut = np.asarray(tiny(z, truncation_psi=0.5, truncation_cutoff=9, noise_mode="const"))
    np.testing.assert_array_equal(every, cut)
    assert not np.allclose(full, cut)


def test_tiny_hybrid_round_trips_through_keras_file(tiny, tmp_path):
    z = np.random.default_rng(3).standard_normal((2, TINY.z_dim)).astype("float32")
    for stage in tiny.synthesis.stages[2:]:
        for block in stage.blocks:
            block.conv0.noise_strength.assign(0.1)
    path = tmp_path / "tiny.keras"
    tiny.save(path)
    loaded = keras.saving.load_model(path)
    np.testing.assert_array_equal(np.asarray(loaded(z, noise_mode="const")),
                                  np.asarray(tiny(z, noise_mode="const")))


def test_tiny_hybrid_trains_and_traces_with_dynamic_batch(tiny):
    z = np.random.default_rng(4).standard_normal((2, TINY.z_dim)).astype("float32")
    with tf.GradientTape() as tape:
        loss = tf.reduce_mean(tf.square(tiny(z, training=True)))
    grads = tape.gradient(loss, tiny.synthesis.trainable_weights)
    named = {v.path: g for v, g in zip(tiny.synthesis.trainable_weights, grads, strict=True)}
    assert all(g is not None and np.isfinite(np.asarray(g)).all() for g in named.values())
    assert any("b64" in path for path in named)

    serve = tf.function(lambda z: tiny(z, noise_mode="const"),
                        input_signature=[tf.TensorSpec((None, TINY.z_dim), tf.float32)])
    np.testing.assert_allclose(np.asarray(serve(z)), np.asarray(tiny(z, noise_mode="const")),
                               atol=1e-5)
