"""Damaged prepared data: refused before use, or named when its checksums fail."""

from __future__ import annotations

import json
import pathlib
import shutil
import struct

import numpy as np
import pytest

from sfkeras.cli import main
from sfkeras.config import preset_params_yaml
from sfkeras.config.data import DataConfig, ShapesSourceConfig
from sfkeras.data import DataError, iterate_uint8, load, load_manifest, prepare_dataset

PREPARE_AGAIN = "prepare it again (`sfkeras prepare` or `dvc repro prepare`)"
SHARD = "train-00001-of-00003.tfrecord"


@pytest.fixture(scope="module")
def pristine(tmp_path_factory) -> pathlib.Path:
    """12 training images of 16x16 in 3 shards of 4."""
    config = DataConfig(name="shapes", resolution=16, images_per_shard=4,
                        shapes=ShapesSourceConfig(num_train=12, num_test=4))
    return prepare_dataset(config, tmp_path_factory.mktemp("prepared"), progress=False)


@pytest.fixture
def prepared(pristine, tmp_path) -> pathlib.Path:
    """A copy of the prepared data set, for a test to damage."""
    return pathlib.Path(shutil.copytree(pristine, tmp_path / "shapes"))


def _record_ends(data: bytes) -> list[int]:
    """Byte offsets where each TFRecord ends (length, CRC, payload, CRC)."""
    ends, offset = [], 0
    while offset < len(data):
        (length,) = struct.unpack("<Q", data[offset:offset + 8])
        offset += 8 + 4 + length + 4
        ends.append(offset)
    return ends


def test_manifest_records_each_shard_s_images_and_bytes(pristine):
    info = load_manifest(pristine).split("train")
    assert info.shard_images == (4, 4, 4)
    assert info.shard_bytes == tuple((pristine / name).stat().st_size for name in info.shards)
    assert len(_record_ends((pristine / SHARD).read_bytes())) == 4


@pytest.mark.parametrize("cut", ["record_boundary", "mid_record", "missing"])
def test_truncated_or_missing_shard_is_refused_before_reading(prepared, cut):
    shard = prepared / SHARD
    data = shard.read_bytes()
    if cut == "missing":
        shard.unlink()
    else:
        end = _record_ends(data)[1] - (5 if cut == "mid_record" else 0)
        shard.write_bytes(data[:end])
    found = "is missing" if cut == "missing" else "has \\d+ bytes"
    pattern = (rf"shard {shard} {found}, but {prepared / 'dataset.json'} records {len(data)} "
               rf"bytes \(12 images in 3 shards\): the prepared data set is damaged; "
               + PREPARE_AGAIN.replace("(", r"\(").replace(")", r"\)"))
    with pytest.raises(DataError, match=pattern):
        load(prepared, batch_size=4)
    with pytest.raises(DataError, match=pattern):
        next(iterate_uint8(prepared))


def _flip_bytes(shard: pathlib.Path) -> None:
    data = bytearray(shard.read_bytes())
    middle = _record_ends(bytes(data))[1] + 100  # inside the third record's payload
    data[middle:middle + 8] = bytes(255 - b for b in data[middle:middle + 8])
    shard.write_bytes(bytes(data))


def test_flipped_bytes_are_named_when_the_checksum_fails(prepared):
    _flip_bytes(prepared / SHARD)
    dataset = load(prepared, batch_size=4, shuffle=False, repeat=False)  # sizes still match
    assert dataset is not None
    with pytest.raises(DataError, match=rf"shard {prepared / SHARD} fails its TFRecord "
                                        rf"checksum .*damaged; prepare it again"):
        list(iterate_uint8(prepared))


def test_manifest_of_the_previous_format_asks_to_prepare_again(prepared):
    manifest = json.loads((prepared / "dataset.json").read_text())
    manifest["format_version"] = 1
    (prepared / "dataset.json").write_text(json.dumps(manifest))
    with pytest.raises(DataError, match=r"format version 1, this code reads 2: prepare it"):
        load(prepared, batch_size=4)


TRAIN_PARAMS = {
    "data": {"name": "shapes", "resolution": 16},
    "generator": {"resolution": 16, "num_layers": [1, 1], "hidden": [32, 16], "depth": 16,
                  "z_dim": 16, "w_dim": 16, "linformer": False},
    "discriminator": {"channel_base": 256, "channel_max": 16},
    "train": {"kimg": 0.008, "batch_size": 4, "metrics_kimg": 0.0, "strategy": "default",
              "cpu_replicas": 1, "mirror": False},
}


@pytest.mark.slow
@pytest.mark.parametrize("damage", ["flipped", "truncated"])
def test_training_on_a_damaged_shard_stops_with_one_line_and_writes_nothing(
        prepared, tmp_path, capsys, damage):
    if damage == "flipped":
        _flip_bytes(prepared / SHARD)
    else:
        data = (prepared / SHARD).read_bytes()
        (prepared / SHARD).write_bytes(data[:_record_ends(data)[2]])
    params = tmp_path / "params.yaml"
    params.write_text(preset_params_yaml("shapes16", TRAIN_PARAMS))
    run = tmp_path / "run"
    code = main(["train", "--params", str(params), "--data", str(prepared), "--out", str(run)])
    error = capsys.readouterr().err.strip().splitlines()[-1]
    assert code == 3
    assert error.startswith(f"sfkeras: data error: shard {prepared / SHARD} ")
    assert error.endswith(PREPARE_AGAIN)
    assert not (run / "G_ema.keras").exists()
    assert not list(run.glob("checkpoints/*/ckpt-*"))


def test_undamaged_data_still_reads(pristine):
    images = np.concatenate(list(iterate_uint8(pristine)))
    assert images.shape == (12, 16, 16, 3)
