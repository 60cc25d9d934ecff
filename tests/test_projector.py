"""The projector on a tiny generator: the schedule, the noise penalty, and a projection
of the generator's own image that approaches its known w."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from sfkeras.cli import main
from sfkeras.config import GeneratorConfig
from sfkeras.models.generator import Generator
from sfkeras.render import projector
from sfkeras.render.figures import mapped_ws, synthesize

TINY = GeneratorConfig(resolution=16, num_layers=(1, 1), hidden=(16, 8), depth=8,
                       z_dim=8, w_dim=8)


def tiny_features():
    """A small random conv net standing in for the FID Inception (same interface)."""
    keras.utils.set_random_seed(1)
    images = keras.Input((None, None, 3))
    x = keras.layers.Rescaling(1 / 128, offset=-1.0)(images)
    first = keras.layers.Conv2D(8, 3, activation="relu")(x)
    second = keras.layers.Conv2D(16, 3, strides=2, activation="relu")(first)
    return keras.Model(images, [first, second])


def test_schedule_matches_the_original():
    schedule = projector.ProjectionSchedule(num_steps=100)
    assert schedule.learning_rate(0) == 0.0
    assert schedule.learning_rate(2) == pytest.approx(0.1 * 2 / 5)  # ramp up over 5 %
    assert schedule.learning_rate(50) == pytest.approx(0.1)
    assert schedule.learning_rate(90) == pytest.approx(0.1 * (0.5 - 0.5 * np.cos(0.4 * np.pi)))
    assert schedule.w_noise_scale(0, 2.0) == pytest.approx(2.0 * 0.05)
    assert schedule.w_noise_scale(75, 2.0) == 0.0


def test_noise_penalty_vanishes_without_autocorrelation():
    rows = np.tile([1.0, -1.0], 8)
    checker = (rows[:, None] * rows[None, :]).astype(np.float32)  # neighbours anticorrelated
    smooth = np.ones((16, 16), np.float32)
    assert float(projector.noise_regularization([tf.constant(smooth)])) > 1.0
    # a checkerboard is anticorrelated at 16x16 and pools to zeros below
    assert float(projector.noise_regularization([tf.constant(checker)])) == pytest.approx(2.0)
    tokens = tf.reshape(tf.constant(smooth), [256, 1])  # token layout [R*R, 1]
    assert float(projector.noise_regularization([tokens])) == pytest.approx(
        float(projector.noise_regularization([tf.constant(smooth)])))


def test_projection_of_a_generated_image_approaches_its_w(tmp_path):
    keras.utils.set_random_seed(2)  # an initialisation whose w the projection recovers
    generator = Generator(TINY, seed=0)
    true_ws = mapped_ws(generator, [3])[0]
    target = synthesize(generator, true_ws[None])[0]
    schedule = projector.ProjectionSchedule(num_steps=60, w_avg_samples=1000)
    projection = projector.project(generator, target, tiny_features(), schedule)
    assert projection.ws.shape == (60, generator.num_ws, TINY.w_dim)
    assert projection.distances[-1] < 0.5 * projection.distances[0]
    start_error = np.sqrt(np.mean((projection.ws[0] - true_ws) ** 2))
    errors = projector.known_w_errors(projection, true_ws, target)
    assert errors["w_rmse"] < 0.5 * start_error
    assert errors["psnr"] > 25.0

    paths = projector.save_projection(projection, target, generator, tmp_path, video=True)
    with np.load(paths["projected_w"]) as data:
        np.testing.assert_array_equal(data["w"], projection.ws[-1][None])
    assert paths["video"].name == "proj.mp4" and paths["video"].stat().st_size > 0


def test_project_command_reports_the_distance_to_a_known_w(tmp_path, monkeypatch, capsys):
    network = tmp_path / "G.keras"
    Generator(TINY, seed=0).save(network)
    monkeypatch.setattr("sfkeras.metrics.inception.load_fid_inception",
                        lambda weights=None: None)
    monkeypatch.setattr(projector, "inception_feature_model", lambda inception: tiny_features())
    assert main(["project", "--network", str(network), "--target-seed", "3", "--num-steps",
                 "10", "--out", str(tmp_path / "out")]) == 0
    out = capsys.readouterr().out
    assert "final distance" in out and "against the known w of seed 3" in out
    assert {p.name for p in (tmp_path / "out").iterdir()} == {
        "projected_w.npz", "target.png", "proj.png"}
    assert main(["generate", "--network", str(network), "--projected-w",
                 str(tmp_path / "out" / "projected_w.npz"), "--out", str(tmp_path / "g")]) == 0
    assert (tmp_path / "g" / "proj00.png").is_file()
