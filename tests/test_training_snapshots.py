"""Network snapshots: names, keeping the newest N and the best, G_best, resume pruning."""

from __future__ import annotations

import json
import pathlib

import numpy as np
import pytest

from sfkeras.config import GeneratorConfig
from sfkeras.metrics.reuse import recorded_results, write_record
from sfkeras.models.generator import Generator
from sfkeras.saved.loader import load_generator
from sfkeras.training.snapshots import (
    SnapshotStore,
    ranking_metric,
    snapshot_name,
    snapshot_nimg,
)

TINY = GeneratorConfig(resolution=16, num_layers=(1, 1), hidden=(16, 8), depth=8, z_dim=8,
                       w_dim=8)
PROTOCOL = {"metrics": ["fid1k", "kid1k"]}


@pytest.fixture(scope="module")
def generator():
    return Generator(TINY, seed=0)


def _names(store: SnapshotStore) -> list[int]:
    return [snapshot_nimg(path) for path in store.snapshots()]


def _best(store: SnapshotStore) -> str | None:
    record = store.best_path.with_name("G_best.metrics.json")
    return json.loads(record.read_text())["snapshot"] if record.exists() else None


def test_names_sort_by_time_and_state_the_image_count_exactly():
    assert snapshot_name(20_000) == "network-snapshot-000020.000.keras"
    assert snapshot_name(512) == "network-snapshot-000000.512.keras"
    names = [snapshot_name(n) for n in (0, 512, 20_000, 1_000_000)]
    assert names == sorted(names)
    for nimg in (0, 4, 512, 20_000, 123_456_789):
        assert snapshot_nimg(pathlib.Path(snapshot_name(nimg))) == nimg


def test_ranking_is_by_the_first_fid_or_kid_metric():
    assert ranking_metric(["fid1k", "kid1k"]) == "fid1k"
    assert ranking_metric(["pr2k3", "kid2k_full", "fid2k"]) == "kid2k_full"
    assert ranking_metric(["pr2k3"]) is None


def test_keeps_the_newest_and_the_best_with_their_records(tmp_path, generator):
    store = SnapshotStore(tmp_path, keep=2, ranking="fid1k")
    fids = {0: 300.0, 4000: 80.0, 8000: 120.0, 12000: 150.0, 16000: 90.0}
    for nimg, fid in fids.items():
        store.add(generator, nimg, PROTOCOL, {"fid1k": fid, "kid1k": fid / 1000})
    assert _names(store) == [4000, 12000, 16000]  # the two newest and the best
    assert _best(store) == snapshot_name(4000)
    assert store.best() == tmp_path / "snapshots" / snapshot_name(4000)
    # The records are sfkeras evaluate's: it reuses them for the snapshot and for G_best.
    assert recorded_results(store.best(), PROTOCOL) == {"fid1k": 80.0, "kid1k": 0.08}
    assert recorded_results(store.best_path, PROTOCOL) == {"fid1k": 80.0, "kid1k": 0.08}
    reloaded = load_generator(store.best_path)
    for ours, theirs in zip(reloaded.weights, generator.weights, strict=True):
        np.testing.assert_array_equal(ours, theirs)


def test_keeps_every_snapshot_by_default_and_the_newest_of_equals(tmp_path, generator):
    store = SnapshotStore(tmp_path, keep=None, ranking="fid1k")
    for nimg in (0, 4000, 8000):
        store.add(generator, nimg, PROTOCOL, {"fid1k": 5.0})
    assert _names(store) == [0, 4000, 8000]
    assert _best(store) == snapshot_name(8000)


def test_resume_drops_later_snapshots_and_the_best_follows(tmp_path, generator):
    store = SnapshotStore(tmp_path, keep=None, ranking="fid1k")
    for nimg, fid in ((0, 300.0), (4000, 100.0), (8000, 50.0)):
        store.add(generator, nimg, PROTOCOL, {"fid1k": fid})
    (tmp_path / "snapshots" / ".network-snapshot-000012.000.tmp.keras").write_bytes(b"killed")
    store.prune_after(4000)
    assert _names(store) == [0, 4000]
    assert _best(store) == snapshot_name(4000)
    assert not list((tmp_path / "snapshots").glob(".*"))
    store.prune_after(None)  # a new run
    assert _names(store) == [] and not store.best_path.exists()


def test_without_a_ranking_metric_g_best_is_the_fallback(tmp_path, generator):
    store = SnapshotStore(tmp_path, keep=None, ranking=None)
    store.add(generator, 0, {"metrics": ["pr2k3"]}, {"pr2k3_precision": 0.5})
    final = tmp_path / "G_ema.keras"
    generator.save(final)
    write_record(tmp_path / "G_ema.metrics.json", final, None, None)
    assert store.update_best(fallback=final) == final
    assert store.best_path.read_bytes() == final.read_bytes()
    assert store.update_best() is None and not store.best_path.exists()


def test_ranks_finite_values_of_the_newest_protocol_only(tmp_path, generator):
    store = SnapshotStore(tmp_path, keep=None, ranking="fid1k")
    store.add(generator, 0, {"metrics": ["fid1k"], "num_images": 100}, {"fid1k": 10.0})
    store.add(generator, 4000, PROTOCOL, {"fid1k": float("nan")})
    store.add(generator, 8000, PROTOCOL, {"fid1k": 40.0})
    # The 10.0 of another protocol (fewer images) is not comparable, NaN ranks nowhere.
    assert _best(store) == snapshot_name(8000)


def test_a_copy_of_g_best_killed_half_way_is_redone(tmp_path, generator):
    store = SnapshotStore(tmp_path, keep=None, ranking="fid1k")
    store.add(generator, 0, PROTOCOL, {"fid1k": 50.0})
    store.add(generator, 4000, PROTOCOL, {"fid1k": 20.0})
    # Killed after G_best.keras was replaced, before its record came back.
    store.best_path.with_name("G_best.metrics.json").unlink()
    store.best_path.write_bytes(b"half of another snapshot")
    store.prune_after(4000)
    assert _best(store) == snapshot_name(4000)
    assert store.best_path.read_bytes() == store.best().read_bytes()
