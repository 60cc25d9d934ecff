"""The networks on JAX and PyTorch: the parity test files, and a ``.keras`` generator
saved on TensorFlow, rerun under each other Keras backend.

One subprocess per backend (Keras fixes its backend at import) runs the tests marked
``cross_backend`` of :data:`PARITY_FILES` (every comparison of a whole network with
the original's numbers, same tolerances) plus :data:`OTHER_BACKEND_CHECKS`, with
``KERAS_BACKEND`` set. A backend whose package is absent is skipped (install the
``dev`` extra: ``pip install -e '.[dev]'``). Run a whole parity file on another backend
with e.g. ``KERAS_BACKEND=jax python -m pytest tests/test_stylegan2.py`` (tests marked
``tensorflow`` skip there).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import xml.etree.ElementTree as ElementTree

import keras
import numpy as np
import pytest
from conftest import REPO_ROOT, to_numpy

from sfkeras.config.generator import GeneratorConfig
from sfkeras.models.generator import Generator

PARITY_FILES = (
    "tests/test_generator_parity.py",
    "tests/test_discriminator.py",
    "tests/test_stylegan2.py",
    "tests/test_metrics_inception.py",
)
#: Not collected on its own (no ``test_`` prefix): reads what :func:`tf_generator` saved
#: and checks the TensorFlow-only parts' errors.
OTHER_BACKEND_CHECKS = "tests/other_backend_checks.py"
#: Two stages (Linformer in the second), truncation and constant noise on every layer.
CONFIG = GeneratorConfig(resolution=16, num_layers=(1, 2), hidden=(16, 8), depth=4, z_dim=8,
                         w_dim=8, linformer=True, linformer_dim=16)


#: The generator variants saved for the other backends: Styleformer and the paper's
#: Appendix B switches (file suffix -> generator fields).
VARIANTS = {"": {}, "-post_ln": {"layer_norm": "post"}, "-no_qk_demod": {"demodulate_qk": False}}


@pytest.fixture(scope="module")
def tf_generator(tmp_path_factory):
    """A folder with ``generator<variant>.keras`` (saved on TensorFlow, every weight moved
    off its initial value as training would) and ``expected<variant>.npz`` (``z`` and its
    images) for each of :data:`VARIANTS`."""
    assert keras.backend.backend() == "tensorflow", "the main test run is on TensorFlow"
    folder = tmp_path_factory.mktemp("tf_generator")
    for variant, fields in VARIANTS.items():
        generator = Generator(CONFIG.replace(**fields), seed=3)
        rng = np.random.default_rng(0)
        for variable in generator.weights:
            value = to_numpy(variable)
            if np.issubdtype(value.dtype, np.floating):
                variable.assign(value + 0.1 * rng.standard_normal(value.shape).astype(value.dtype))
        generator.save(folder / f"generator{variant}.keras")
        z = rng.standard_normal((4, CONFIG.z_dim)).astype("float32")
        np.savez(folder / f"expected{variant}.npz", z=z,
                 images=to_numpy(generator(z, noise_mode="const")),
                 images_psi=to_numpy(generator(z, truncation_psi=0.7, noise_mode="const")))
    (folder / "variants.json").write_text(json.dumps(list(VARIANTS)))
    return folder


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["jax", "torch"])
def test_networks_on_other_backend(backend, tf_generator, tmp_path):
    pytest.importorskip(backend, reason=f"{backend} is absent: pip install -e '.[dev]'")
    report = tmp_path / "report.xml"
    env = {**os.environ, "KERAS_BACKEND": backend, "SFKERAS_TF_GENERATOR": str(tf_generator)}
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", f"--junitxml={report}",
         "-m", "cross_backend", *PARITY_FILES, OTHER_BACKEND_CHECKS],
        cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-2000:]
    outcomes = junit_outcomes(report)
    checks = {name: outcome for name, outcome in outcomes.items()
              if name.startswith("other_backend_checks.")}
    assert checks and set(checks.values()) == {"passed"}, checks
    skipped = {name: outcome for name, outcome in outcomes.items() if outcome != "passed"}
    assert all("fixture" in reason or "weights" in reason  # absent, as in the TF run
               for reason in skipped.values()), json.dumps(skipped, indent=1)


def junit_outcomes(report) -> dict[str, str]:
    """``{module.test: "passed" | skip reason}`` of a JUnit XML report (no failures)."""
    outcomes = {}
    for case in ElementTree.parse(report).iter("testcase"):
        name = f"{case.get('classname').rsplit('.', 1)[-1]}.{case.get('name')}"
        skipped = case.find("skipped")
        outcomes[name] = "passed" if skipped is None else skipped.get("message", "skipped")
    return outcomes
