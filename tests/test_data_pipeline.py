"""The input pipeline: value range, shapes, x-flip, determinism, sharding, distribution."""

from __future__ import annotations

import pathlib
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import tensorflow as tf

from sfkeras.config.data import DataConfig, ShapesSourceConfig
from sfkeras.data import DataError, iterate_uint8, load, num_images, prepare_dataset

RESOLUTION = 16
NUM_TRAIN = 24


def _prepare(root: pathlib.Path, images_per_shard: int) -> pathlib.Path:
    config = DataConfig(name="shapes", resolution=RESOLUTION, images_per_shard=images_per_shard,
                        shapes=ShapesSourceConfig(num_train=NUM_TRAIN, num_test=4))
    return prepare_dataset(config, root, progress=False)


@pytest.fixture(scope="module")
def prepared(tmp_path_factory) -> pathlib.Path:
    """24 training images in 4 shards of 6."""
    return _prepare(tmp_path_factory.mktemp("sharded"), images_per_shard=6)


@pytest.fixture(scope="module")
def single_shard(tmp_path_factory) -> pathlib.Path:
    return _prepare(tmp_path_factory.mktemp("single"), images_per_shard=NUM_TRAIN)


@pytest.fixture(scope="module")
def uint8_images(prepared) -> np.ndarray:
    return np.concatenate(list(iterate_uint8(prepared, batch_size=10)))


def _batches(dataset: tf.data.Dataset, count: int | None = None) -> list[np.ndarray]:
    return [np.asarray(batch) for batch in dataset.take(-1 if count is None else count)]


def _keys(images: np.ndarray) -> set[bytes]:
    """Identities of ``[-1, 1]`` images (their uint8 pixels' bytes)."""
    return {np.round((image + 1.0) * 127.5).astype(np.uint8).tobytes() for image in images}


def test_iterate_uint8_yields_every_image_once_in_order(prepared, uint8_images):
    sizes = [batch.shape[0] for batch in iterate_uint8(prepared, batch_size=10)]
    assert sizes == [10, 10, 4] and uint8_images.dtype == np.uint8
    assert uint8_images.shape == (NUM_TRAIN, RESOLUTION, RESOLUTION, 3)
    assert num_images(prepared) == NUM_TRAIN
    first = np.concatenate(list(iterate_uint8(prepared, batch_size=4, max_images=6)))
    np.testing.assert_array_equal(first, uint8_images[:6])


def test_images_are_float32_nhwc_in_minus_one_to_one(prepared, uint8_images):
    dataset = load(prepared, batch_size=8, shuffle=False, repeat=False)
    assert dataset.element_spec == tf.TensorSpec([8, RESOLUTION, RESOLUTION, 3], tf.float32)
    images = np.concatenate(_batches(dataset))
    np.testing.assert_allclose(images, uint8_images / 127.5 - 1.0, atol=1e-6)
    assert images.min() >= -1.0 and images.max() <= 1.0


def test_shuffle_is_a_permutation_and_deterministic_for_a_seed(prepared, uint8_images):
    def epoch(seed):
        return np.concatenate(_batches(load(prepared, batch_size=6, seed=seed, repeat=False)))

    first, again, other = epoch(0), epoch(0), epoch(1)
    np.testing.assert_array_equal(first, again)
    assert not np.array_equal(first, other)
    assert _keys(first) == _keys(uint8_images / 127.5 - 1.0)
    assert not np.array_equal(first, uint8_images / 127.5 - 1.0)


def test_repeat_reshuffles_each_epoch(prepared):
    batches = _batches(load(prepared, batch_size=NUM_TRAIN, seed=3), count=2)
    assert _keys(batches[0]) == _keys(batches[1])
    assert not np.array_equal(batches[0], batches[1])


def test_drop_remainder(prepared):
    kept = _batches(load(prepared, batch_size=10, shuffle=False, repeat=False,
                         drop_remainder=False))
    dropped = _batches(load(prepared, batch_size=10, shuffle=False, repeat=False))
    assert [len(b) for b in kept] == [10, 10, 4] and [len(b) for b in dropped] == [10, 10]


def test_mirror_flips_some_images_left_right(prepared, uint8_images):
    reference = uint8_images / 127.5 - 1.0
    images = np.concatenate(_batches(load(prepared, batch_size=8, shuffle=False, repeat=False,
                                          mirror=True, seed=5)))
    flipped = [not np.allclose(image, ref, atol=1e-6)
               for image, ref in zip(images, reference, strict=True)]
    for image, ref, flip in zip(images, reference, flipped, strict=True):
        np.testing.assert_allclose(image, ref[:, ::-1] if flip else ref, atol=1e-6)
    assert 0 < sum(flipped) < NUM_TRAIN
    again = np.concatenate(_batches(load(prepared, batch_size=8, shuffle=False, repeat=False,
                                         mirror=True, seed=5)))
    np.testing.assert_array_equal(images, again)


def test_labels_are_refused_when_the_data_set_has_none(prepared):
    with pytest.raises(DataError, match="no labels"):
        load(prepared, batch_size=4, with_labels=True)


def test_missing_split_or_folder_is_a_clear_error(prepared, tmp_path):
    with pytest.raises(DataError, match="no split 'validation'"):
        load(prepared, "validation", batch_size=4)
    with pytest.raises(DataError, match="run the prepare stage"):
        load(tmp_path, batch_size=4)


@pytest.mark.parametrize("fixture", ["prepared", "single_shard"])
def test_input_contexts_split_the_data_between_pipelines(request, fixture, uint8_images):
    """By shard (4 shards) or, with a single shard, by record: disjoint, complete shares."""
    path = request.getfixturevalue(fixture)
    shares = []
    for pipeline in range(2):
        context = tf.distribute.InputContext(num_input_pipelines=2, input_pipeline_id=pipeline,
                                             num_replicas_in_sync=2)
        dataset = load(path, batch_size=8, repeat=False, input_context=context)
        batches = _batches(dataset)
        assert {len(batch) for batch in batches} == {4}  # the per-replica batch
        shares.append(_keys(np.concatenate(batches)))
    assert not shares[0] & shares[1]
    assert shares[0] | shares[1] == _keys(uint8_images / 127.5 - 1.0)


MIRRORED_SCRIPT = """
import sys
import numpy as np
import tensorflow as tf

cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(
    cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
from sfkeras.data import load_distributed

strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
assert strategy.num_replicas_in_sync == 2
dataset = load_distributed(strategy, sys.argv[1], batch_size=8, seed=1)
seen = []
for step, batch in zip(range(3), dataset):
    replicas = strategy.experimental_local_results(batch)
    assert len(replicas) == 2, len(replicas)
    for images in replicas:
        assert tuple(images.shape) == (4, 16, 16, 3), images.shape
        seen.extend(image.tobytes() for image in np.asarray(images))
assert len(seen) == 24 and len(set(seen)) == 24, (len(seen), len(set(seen)))
print("ok")
"""


def test_mirrored_strategy_gives_each_replica_distinct_per_replica_batches(prepared):
    """Two logical CPUs must be configured before TF starts, hence a fresh interpreter."""
    result = subprocess.run([sys.executable, "-c", textwrap.dedent(MIRRORED_SCRIPT),
                             str(prepared)], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0 and result.stdout.strip().endswith("ok"), result.stderr[-3000:]
