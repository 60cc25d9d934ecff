"""SavedModel export: loads with plain TensorFlow in a fresh process, same images."""

import subprocess
import sys
import textwrap

import numpy as np
import pytest

from sfkeras.config import GeneratorConfig
from sfkeras.export import export_generator
from sfkeras.images import to_uint8, z_from_seeds
from sfkeras.models.generator import Generator

TINY = GeneratorConfig(resolution=16, num_layers=(1, 1), hidden=(32, 16), depth=16,
                       z_dim=16, w_dim=16)


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    root = tmp_path_factory.mktemp("export")
    generator = Generator(TINY, seed=0)
    generator.mapping.w_avg.assign(np.full((TINY.w_dim,), 0.3, np.float32))
    generator.save(root / "G_ema.keras")
    saved_model = export_generator(root / "G_ema.keras", root / "out", truncation_psi=0.7)
    return generator, saved_model


def test_saved_model_in_a_fresh_process_matches_keras(exported, tmp_path):
    generator, saved_model = exported
    z = z_from_seeds([0, 1, 2], TINY.z_dim)
    np.save(tmp_path / "z.npy", z)
    script = textwrap.dedent(f"""
        import numpy as np, sys, tensorflow as tf
        assert "sfkeras" not in sys.modules
        model = tf.saved_model.load({str(saved_model)!r})
        z = tf.constant(np.load({str(tmp_path / "z.npy")!r}))
        sig = model.signatures
        out = dict(
            default=sig["serving_default"](z=z)["images"].numpy(),
            generate=sig["generate"](z=z, truncation_psi=tf.constant(1.0))["images"].numpy(),
            ws=sig["mapping"](z=z, truncation_psi=tf.constant(0.7))["ws"].numpy())
        out["synthesis"] = sig["synthesis"](ws=tf.constant(out["ws"]))["images"].numpy()
        np.savez({str(tmp_path / "out.npz")!r}, **out)
        print(sorted(sig.keys()))
    """)
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                            check=True)
    assert "['generate', 'mapping', 'serving_default', 'synthesis']" in result.stdout
    out = np.load(tmp_path / "out.npz")
    ws_truncated = generator.mapping(z, truncation_psi=0.7)
    expected_truncated = to_uint8(generator.synthesis(ws_truncated, noise_mode="const"))
    expected = to_uint8(generator(z, noise_mode="const"))
    assert out["default"].dtype == np.uint8 and out["default"].shape == (3, 16, 16, 3)
    np.testing.assert_allclose(out["ws"], np.asarray(ws_truncated), atol=1e-6)
    # uint8 rounding can flip by one level where float results differ in the last bit.
    assert np.abs(out["default"].astype(int) - expected_truncated).max() <= 1
    assert np.abs(out["generate"].astype(int) - expected).max() <= 1
    np.testing.assert_array_equal(out["synthesis"], out["default"])


def test_saved_model_cli_lists_the_signatures(exported):
    _, saved_model = exported
    cli = [sys.executable, "-c", "from tensorflow.python.tools.saved_model_cli import main; main()",
           "show", "--dir", str(saved_model), "--all"]
    result = subprocess.run(cli, capture_output=True, text=True, check=True)
    for name in ("serving_default", "generate", "mapping", "synthesis"):
        assert f"signature_def['{name}']" in result.stdout
    assert "DT_UINT8" in result.stdout


def test_export_copies_the_keras_file_and_explains_a_missing_network(exported, tmp_path):
    _, saved_model = exported
    assert (saved_model.parent / "G_ema.keras").exists()
    with pytest.raises(FileNotFoundError, match="train stage"):
        export_generator(tmp_path / "nope.keras", tmp_path / "out")
