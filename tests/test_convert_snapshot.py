"""Network snapshots of the original read without torch: parity of G_ema and D, the
command line, and refusal of pickles that would run code."""

import json
import os
import pickle
import subprocess
import sys
import types
from unittest import mock

import numpy as np
import pytest
from conftest import FIXTURES, REPO_ROOT

from sfkeras.cli import main
from sfkeras.convert.snapshot import SnapshotError, read_snapshot

SNAPSHOT = FIXTURES / "snapshot_small32.pkl"
CONDITIONAL_SNAPSHOT = FIXTURES / "snapshot_cond32.pkl"

# Runs in a fresh interpreter where `import torch` fails, then prints the errors as JSON.
PARITY_SCRIPT = """
import json, sys
sys.modules["torch"] = None
import numpy as np
from sfkeras.convert.from_snapshot import networks_from_snapshot
nets = networks_from_snapshot(sys.argv[1])
ref = np.load(sys.argv[2])
generator, discriminator = nets["G_ema"], nets["D"]
c = ref["c"] if "c" in ref.files else None
ws = np.asarray(generator.mapping(ref["z"], c))
img = np.asarray(generator.synthesis(ws, noise_mode="const"))
real = ref["img"].transpose(0, 2, 3, 1)
logits = np.asarray(discriminator(real, c)).reshape(-1)
print(json.dumps({
    "ws": float(np.abs(ws - ref["ws"]).max()),
    "img": float(np.abs(img - real).max()),
    "logits": float(np.abs(logits - ref["logits"].reshape(-1)).max()),
    "g_differs": bool(any(not np.array_equal(a, b) for a, b in zip(
        nets["G"].get_weights(), generator.get_weights()))),
    "c_dim": [generator.c_dim, discriminator.c_dim],
}))
"""


def _present(path):
    if not path.exists():
        pytest.skip(f"reference snapshot {path} is absent")
    return path


@pytest.fixture(scope="module")
def snapshot_path():
    return _present(SNAPSHOT)


#: Recorded here by ``benchmarks/record_snapshot.py`` (``tests/fixtures/README.md``): a
#: conditional Styleformer-L (Linformer at 32x32) with a ``resnet`` D.
LOCAL_SNAPSHOT = REPO_ROOT / "tests" / "fixtures" / "snapshot_cond_linformer32_resnet.pkl"


@pytest.mark.parametrize("path, c_dim", [(FIXTURES / "snapshot_small32.pkl", 0),
                                         (CONDITIONAL_SNAPSHOT, 10), (LOCAL_SNAPSHOT, 5)],
                         ids=["small32", "cond32", "cond_linformer32_resnet"])
def test_snapshot_networks_match_the_original_without_torch(path, c_dim):
    path = _present(path)
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT), "TF_CPP_MIN_LOG_LEVEL": "3"}
    result = subprocess.run(
        [sys.executable, "-c", PARITY_SCRIPT, str(path), str(path.with_suffix(".npz"))],
        capture_output=True, text=True, env=env, check=True, timeout=300)
    errors = json.loads(result.stdout.strip().splitlines()[-1])
    assert errors["ws"] <= 1e-4
    assert errors["img"] <= 1e-4
    assert errors["logits"] <= 1e-4
    assert errors["g_differs"]  # G and G_ema are two networks, both read
    assert errors["c_dim"] == [c_dim, c_dim]


def test_snapshot_configuration_comes_from_the_pickle(snapshot_path):
    snapshot = read_snapshot(snapshot_path)
    reference = np.load(snapshot_path.with_suffix(".npz"))
    from sfkeras.convert.from_snapshot import (
        official_discriminator_config,
        official_generator_config,
    )

    g_config = official_generator_config(snapshot["G_ema"].init_kwargs)
    assert g_config == {**json.loads(str(reference["g_config"])), "c_dim": 0}
    d_config = official_discriminator_config(snapshot["D"].init_kwargs)
    for key, value in json.loads(str(reference["d_config"])).items():
        assert d_config[key] == value
    assert snapshot["training_set_kwargs"]["resolution"] == 32
    assert "synthesis.b8_0.enc.q_weight" in snapshot["G"].state_dict()


def test_import_weights_writes_the_three_networks(snapshot_path, tmp_path):
    from sfkeras.saved.loader import load_generator

    assert main(["import-weights", "--snapshot", str(snapshot_path), "--out",
                 str(tmp_path)]) == 0
    assert {p.name for p in tmp_path.iterdir()} == {"G_ema.keras", "G.keras", "D.keras"}
    reference = np.load(snapshot_path.with_suffix(".npz"))
    generator = load_generator(tmp_path / "G_ema.keras")
    img = np.asarray(generator(reference["z"], noise_mode="const"))
    np.testing.assert_allclose(img, reference["img"].transpose(0, 2, 3, 1), atol=1e-4)


def test_import_weights_of_a_conditional_snapshot(tmp_path):
    import keras

    from sfkeras.saved.loader import load_generator

    path = _present(CONDITIONAL_SNAPSHOT)
    assert main(["import-weights", "--snapshot", str(path), "--out", str(tmp_path)]) == 0
    reference = np.load(path.with_suffix(".npz"))
    generator = load_generator(tmp_path / "G_ema.keras")
    img = np.asarray(generator(reference["z"], reference["c"], noise_mode="const"))
    real = reference["img"].transpose(0, 2, 3, 1)
    np.testing.assert_allclose(img, real, atol=1e-4)
    discriminator = keras.saving.load_model(tmp_path / "D.keras", compile=False)
    logits = np.asarray(discriminator(real, reference["c"]))
    np.testing.assert_allclose(logits, reference["logits"], atol=1e-4)
    with pytest.raises(ValueError, match=r"conditional \(c_dim=10\): pass c"):
        generator(reference["z"])


class _RunsCode:
    """Pickles as a call of ``os.system``: what a malicious snapshot would hold."""

    def __init__(self, command):
        self.command = command

    def __reduce__(self):
        return os.system, (self.command,)


class _PersistentLookalike:
    """Pickles as the original's persistent-module call, with code hidden in its state."""

    def __init__(self, meta):
        self.meta = meta

    def __reduce__(self):
        return _reconstruct_stand_in, (self.meta,)


def _reconstruct_stand_in(meta):  # named below as torch_utils.persistence's function
    return meta


_reconstruct_stand_in.__module__ = "torch_utils.persistence"
_reconstruct_stand_in.__qualname__ = "_reconstruct_persistent_obj"


@pytest.mark.parametrize("nested", [False, True])
def test_a_pickle_that_would_run_code_is_refused(tmp_path, nested):
    marker = tmp_path / "pwned"
    payload = _RunsCode(f"touch {marker}")
    if nested:
        payload = {"G": _PersistentLookalike(
            {"type": "class", "class_name": "Generator", "module_src": "import os",
             "state": {"_init_kwargs": {}, "hook": payload}})}
    path = tmp_path / "network-snapshot.pkl"
    persistence = types.ModuleType("torch_utils.persistence")
    persistence._reconstruct_persistent_obj = _reconstruct_stand_in
    with mock.patch.dict(sys.modules, {"torch_utils": types.ModuleType("torch_utils"),
                                       "torch_utils.persistence": persistence}):
        path.write_bytes(pickle.dumps(payload, protocol=4))  # writing runs nothing
    with pytest.raises(SnapshotError, match=r"refusing to load global '(posix|os)\.system'"):
        read_snapshot(path)
    assert not marker.exists()
    assert main(["import-weights", "--snapshot", str(path), "--out", str(tmp_path / "o")]) == 6
    assert not marker.exists() and not (tmp_path / "o").exists()


def test_truncated_snapshot_is_a_clear_error(snapshot_path, tmp_path):
    path = tmp_path / "cut.pkl"
    path.write_bytes(snapshot_path.read_bytes()[:50_000])
    with pytest.raises(SnapshotError, match="cut.pkl"):
        read_snapshot(path)
