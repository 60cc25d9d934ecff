"""Shared pytest fixtures: the reference fixtures folder and small helpers."""

from __future__ import annotations

import os
import pathlib

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
import pytest  # noqa: E402

REPO_ROOT = pathlib.Path(__file__).resolve().parents[1]
FIXTURES = REPO_ROOT.parent / "shared" / "fixtures" / "official"


def load_fixture(name: str) -> dict[str, np.ndarray]:
    """Load ``../shared/fixtures/official/<name>.npz`` or skip the calling test."""
    path = FIXTURES / f"{name}.npz"
    if not path.exists():
        pytest.skip(f"reference fixture {path} is absent (needs ../shared beside the repo)")
    with np.load(path) as data:
        return {key: data[key] for key in data.files}


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(1234)
