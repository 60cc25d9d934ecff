"""Export: the SavedModel loads with plain TensorFlow in a fresh process, the LiteRT and
ONNX files run in their own runtimes (LiteRT with built-in ops only), all with the
generator's images; a wrong artifact or a missing runtime fails with one clear line."""

import re
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from conftest import REPO_ROOT

from sfkeras.config import GeneratorConfig
from sfkeras.config.export import EXPORT_FORMATS
from sfkeras.errors import ExportError
from sfkeras.export import FORMATS, check_artifact, export_generator
from sfkeras.export.portable import run_litert, run_onnx
from sfkeras.images import to_uint8, z_from_seeds
from sfkeras.models.generator import Generator

# z_dim 128 and 16x16 images: the shapes of README's deployment snippets.
TINY = GeneratorConfig(resolution=16, num_layers=(1, 1), hidden=(32, 16), depth=16,
                       z_dim=128, w_dim=16)


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    root = tmp_path_factory.mktemp("export")
    generator = Generator(TINY, seed=0)
    generator.mapping.w_avg.assign(np.full((TINY.w_dim,), 0.3, np.float32))
    generator.save(root / "G_ema.keras")
    artifacts = export_generator(root / "G_ema.keras", root / "out", truncation_psi=0.7)
    return generator, artifacts["saved_model"]


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


def test_every_configurable_format_is_exported():
    assert tuple(FORMATS) == EXPORT_FORMATS


@pytest.mark.parametrize("suffix, run", [(".tflite", run_litert), (".onnx", run_onnx)])
def test_portable_files_give_the_generators_images_for_any_batch(exported, suffix, run):
    generator, saved_model = exported
    path = saved_model.parent / f"G_ema{suffix}"
    z = z_from_seeds([5, 6, 7, 8, 9], TINY.z_dim)  # not the export's check latents
    expected = to_uint8(generator(z, truncation_psi=0.7, noise_mode="const"))
    images = run(path, {"z": z})
    assert images.dtype == np.uint8 and images.shape == (5, 16, 16, 3)
    assert np.abs(images.astype(int) - expected).max() <= 1
    assert np.abs(run(path, {"z": z[:1]}).astype(int) - expected[:1]).max() <= 1


def test_litert_file_needs_no_tensorflow_ops(exported):
    """Only LiteRT's built-in operators: no TF Select ("Flex") or custom ops."""
    from ai_edge_litert.interpreter import Interpreter

    _, saved_model = exported
    interpreter = Interpreter(model_path=str(saved_model.parent / "G_ema.tflite"))
    ops = {detail["op_name"] for detail in interpreter._get_ops_details()}
    assert ops and not any(name.startswith("Flex") or name == "CUSTOM" for name in ops), ops


def test_an_artifact_with_other_images_fails_naming_the_format(tmp_path):
    expected = np.zeros((2, 4, 4, 3), np.uint8)
    assert check_artifact("onnx", tmp_path / "G.onnx", expected + 1, expected) == 1
    with pytest.raises(ExportError, match=r"onnx export .*G\.onnx differs .* by 3 uint8"):
        check_artifact("onnx", tmp_path / "G.onnx", expected + 3, expected)
    with pytest.raises(ExportError, match=r"litert export .* shape \[2, 4, 4, 1\]"):
        check_artifact("litert", tmp_path / "G.tflite", expected[..., :1], expected)


def test_a_missing_runtime_fails_before_anything_is_written(exported, tmp_path, monkeypatch):
    import importlib.util

    find_spec = importlib.util.find_spec
    def find_spec_without_onnxruntime(name, *args):
        return None if name == "onnxruntime" else find_spec(name, *args)

    monkeypatch.setattr(importlib.util, "find_spec", find_spec_without_onnxruntime)
    _, saved_model = exported
    with pytest.raises(ExportError, match=r"names onnx.*onnxruntime.*sfkeras\[export\]"):
        export_generator(saved_model.parent / "G_ema.keras", tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_readme_deployment_snippets_run_as_written(exported, tmp_path, monkeypatch):
    _, saved_model = exported
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "export").symlink_to(saved_model.parent)
    monkeypatch.chdir(tmp_path)
    readme = (REPO_ROOT / "README.md").read_text()
    deployment = readme[readme.index("## Deploying"):]
    snippets = re.findall(r"```python\n(.*?)```", deployment[:deployment.index("\n## ", 5)], re.S)
    assert len(snippets) == 3  # SavedModel, LiteRT, ONNX
    for snippet in snippets:
        namespace = {}
        exec(snippet, namespace)
        images = np.asarray(namespace["images"])
        assert images.dtype == np.uint8 and images.shape == (4, 16, 16, 3)


def test_a_failed_export_leaves_the_previous_one_as_it_was(exported, tmp_path, monkeypatch):
    import dataclasses

    from sfkeras import export

    _, saved_model = exported
    network, out = saved_model.parent / "G_ema.keras", tmp_path / "out"
    export_generator(network, out, formats=["saved_model"])
    before = sorted(p.relative_to(out) for p in out.rglob("*"))
    off_by_two = dataclasses.replace(
        FORMATS["litert"], run=lambda path, inputs: run_litert(path, inputs) // 2 * 2 + 2)
    monkeypatch.setitem(export.FORMATS, "litert", off_by_two)
    with pytest.raises(ExportError, match=r"litert export .*G_ema\.tflite differs"):
        export_generator(network, out, formats=["saved_model", "litert"])
    broken = dataclasses.replace(FORMATS["onnx"], write=lambda *args: 1 / 0)
    monkeypatch.setitem(export.FORMATS, "onnx", broken)
    with pytest.raises(ExportError, match=r"the onnx export of G_ema\.onnx failed: "
                                          r"ZeroDivisionError"):
        export_generator(network, out, formats=["onnx"])
    assert sorted(p.relative_to(out) for p in out.rglob("*")) == before
    assert [p.name for p in tmp_path.iterdir()] == ["out"]  # no staging folder left


def test_conditional_generator_exports_with_labels_in_every_format(tmp_path):
    """Every artifact of a conditional generator takes one-hot labels ``c`` beside ``z``
    and gives the Keras generator's images of those classes."""
    import tensorflow as tf

    from sfkeras.labels import one_hot
    from sfkeras.saved.loader import ExportedGenerator

    config = GeneratorConfig(**{**TINY.to_dict(), "c_dim": 3})
    generator = Generator(config, seed=0)
    generator.save(tmp_path / "G_ema.keras")
    artifacts = export_generator(tmp_path / "G_ema.keras", tmp_path / "out")
    z = z_from_seeds([5, 6, 7], config.z_dim)
    c = one_hot([2, 0, 1], 3)
    expected = to_uint8(generator(z, c, noise_mode="const"))
    assert not np.array_equal(expected, to_uint8(generator(z, c[::-1], noise_mode="const")))
    signatures = tf.saved_model.load(str(artifacts["saved_model"])).signatures
    assert set(signatures["generate"].structured_input_signature[1]) == {
        "z", "c", "truncation_psi"}
    served = signatures["serving_default"](z=tf.constant(z), c=tf.constant(c))["images"]
    assert np.abs(served.numpy().astype(int) - expected).max() <= 1
    exported = ExportedGenerator(artifacts["saved_model"])
    assert exported.c_dim == 3
    assert np.abs(exported.generate_fn()(z, c).astype(int) - expected).max() <= 1
    for name, run in (("litert", run_litert), ("onnx", run_onnx)):
        images = run(artifacts[name], {"z": z, "c": c})
        assert np.abs(images.astype(int) - expected).max() <= 1, name
