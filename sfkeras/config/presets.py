"""Named configurations: the paper's models and data sets, and the offline default.

A preset is a named starting point that *writes* a complete ``params.yaml``
(``sfkeras params --preset NAME``, ``sfkeras init --preset NAME``): a partial mapping of
sections (keys left out keep the dataclass defaults) plus notes on values derived from
others, which the written file shows as comments. The pipeline never reads a preset at
run time. Model presets follow the
paper (Tables 1-3, Appendix F) and the original repository's training configurations:
``cifar`` for CIFAR-10 (and the ablation / one-layer models trained on it), StyleGAN2-ADA's
``auto`` configuration for the others, evaluated for the paper's 4 GPUs
(batch 64, ``r1_gamma = 0.0002 * res**2 / 64``, EMA 20 kimg, ResNet D, style mixing 0.9,
path-length regularisation 2).
"""

from __future__ import annotations

import dataclasses
from typing import Any


@dataclasses.dataclass(frozen=True)
class Preset:
    """One named configuration.

    Attributes:
        params: nested mapping of sections, as in ``params.yaml`` (partial: keys left
            out take the dataclass defaults).
        notes: dotted key -> how the preset derived that value (e.g. a formula); the
            written ``params.yaml`` shows it in the key's comment.
    """

    params: dict[str, Any]
    notes: dict[str, str] = dataclasses.field(default_factory=dict)

#: The original's ``cifar`` configuration (CIFAR-10 and its ablations).
_CIFAR_TRAIN = {
    "batch_size": 32,
    "r1_gamma": 0.01,
    "ema_kimg": 500.0,
    "ema_rampup": 0.05,
    "style_mixing_prob": 0.0,
    "pl_weight": 0.0,
    "kimg": 100000.0,
}
_CIFAR_D = {"architecture": "orig", "channel_base": 32768, "channel_max": 512}


#: Batch of StyleGAN2-ADA's ``auto`` configuration on the paper's 4 GPUs.
_AUTO_BATCH = 64


def _auto_train(resolution: int, kimg: float) -> dict[str, Any]:
    """StyleGAN2-ADA's ``auto`` configuration for 4 GPUs at ``resolution``.

    ``r1_gamma`` and ``ema_kimg`` derive from the resolution and the batch
    (:func:`_auto_notes` gives the formulas); they are written rounded to 10 decimals.
    """
    batch = _AUTO_BATCH
    return {
        "batch_size": batch,
        "r1_gamma": round(0.0002 * resolution**2 / batch, 10),
        "ema_kimg": round(batch * 10 / 32, 10),
        "ema_rampup": 0.05,
        "style_mixing_prob": 0.9,
        "pl_weight": 2.0,
        "kimg": kimg,
    }


def _auto_notes(resolution: int) -> dict[str, str]:
    """How :func:`_auto_train` derived its values (shown in the written params.yaml)."""
    batch = _AUTO_BATCH
    return {
        "train.r1_gamma": f"auto: 0.0002 * resolution^2 / batch_size = "
                          f"0.0002 * {resolution}^2 / {batch}",
        "train.ema_kimg": f"auto: batch_size * 10 / 32 = {batch} * 10 / 32",
    }


_AUTO_D = {"architecture": "resnet", "channel_base": 16384, "channel_max": 512}

#: Styleformer-C at 256x256 (CLEVR and Cityscapes, the paper's Appendix F).
_STYLEFORMER_C_256 = {"resolution": 256, "num_layers": [1, 2, 1, 1, 1, 1],
                      "hidden": [1024, 256, 256, 256, 256, 128],
                      "styleformer_max_resolution": 32}


def _tfds(name: str, resolution: int, splits=("train",), crop: str = "center",
          label_key: str | None = None) -> dict:
    """A TFDS data set; choosing its preset is choosing to let TFDS download it. With
    ``label_key`` its labels are kept, in a folder of its own (``<name>_labels``)."""
    tfds = {"name": name, "splits": list(splits), "crop": crop, "download": True}
    if label_key is not None:
        tfds["label_key"] = label_key
    return {
        "name": name.replace("/", "_") + ("_labels" if label_key else ""),
        "source": "tfds",
        "resolution": resolution,
        "tfds": tfds,
    }


def _paper(data: dict, generator: dict, discriminator: dict, train: dict,
           augment: dict | None = None, notes: dict[str, str] | None = None) -> Preset:
    """A paper preset, evaluated with the published protocol (fid50k_full)."""
    params = {"data": data, "generator": generator, "discriminator": discriminator,
              "train": train, "evaluate": {"metrics": ["fid50k_full"]}}
    if augment is not None:
        params["augment"] = augment
    return Preset(params, notes or {})


def _folder(name: str, resolution: int) -> dict:
    return {"name": name, "source": "folder", "resolution": resolution,
            "folder": {"path": f"datasets/{name}"}}


def _shapes(resolution: int, hidden: list[int], conditional: bool = False) -> Preset:
    """The built-in shapes at ``resolution`` (offline), a small Styleformer from an 8x8
    constant (``hidden``: one width per resolution; Linformer k=64 from 32x32 on, full
    attention below) and a small D, trained for 40 kimg on two CPU replicas and
    evaluated with fid1k/kid1k. ``conditional``: labelled by colour (3 classes: red, green
    and blue shapes; ``data.shapes.labels``), with a class-conditional G and D."""
    data = {"name": f"shapes{resolution}", "source": "shapes", "resolution": resolution}
    if conditional:
        data = {**data, "name": f"shapes{resolution}_colour", "shapes": {"labels": "colour"}}
    return Preset({
        "data": data,
        "generator": {
            "resolution": resolution, "num_layers": [1] * len(hidden), "hidden": hidden,
            "depth": 32, "z_dim": 128, "w_dim": 128, "linformer": True, "linformer_dim": 64,
            **({"c_dim": 3} if conditional else {}),
        },
        # 64 channels: with 32, D falls to chance level (loss/D -> 2 ln 2) within ~30 kimg
        # and FID stops improving; 64 cost a third of the speed and improved fid1k more.
        "discriminator": {"architecture": "orig", "channel_base": 2048, "channel_max": 64},
        "augment": {"mode": "noaug"},
        # lr 0.005 (the paper's 0.0025 is tuned for runs of thousands of kimg; it was
        # slower here) for the few kimg a CPU run affords; r1_gamma 0.005 reached fid1k
        # 166 at 40 kimg on shapes32 against 193 with 0.02; two CPU replicas train faster
        # than one device on 2 cores (benchmarks/bench_train.py --presets).
        "train": {
            "kimg": 40.0, "batch_size": 32, "g_lr": 0.005, "d_lr": 0.005, "r1_gamma": 0.005,
            "ema_kimg": 1.0, "ema_rampup": 0.05, "checkpoint_kimg": 4.0, "snapshot_kimg": 4.0,
            "metrics_kimg": 20.0, "log_kimg": 0.5, "cpu_replicas": 2,
        },
        "evaluate": {"metrics": ["fid1k", "kid1k"]},
    })


PRESETS: dict[str, Preset] = {
    # Offline default: built-in shapes at 16x16, sized so that `dvc repro` finishes in
    # minutes on a 2-core CPU (README, Quick start); its 40 kimg take fid1k from 304
    # (initialisation) to 67 and kid1k from 0.389 to 0.049.
    "shapes16": _shapes(16, [128, 64]),
    # The same, class-conditional on the colour of the shapes (red, green, blue): a class
    # the network learns within these 40 kimg, where neither port learns the kind of
    # shape (README, "Class-conditional training").
    "shapes16_cond": _shapes(16, [128, 64], conditional=True),
    # The same at 32x32 (3x slower per kimg): fid1k 272 -> 166 in 40 kimg.
    "shapes32": _shapes(32, [128, 64, 32]),
    # CIFAR-10 32x32, Styleformer-Large: FID 2.82 in the paper.
    "cifar10": _paper(
        _tfds("cifar10", 32),
        {"resolution": 32, "num_layers": [1, 3, 3], "hidden": [1024, 512, 512]},
        _CIFAR_D, _CIFAR_TRAIN),
    # The same, class-conditional on the 10 classes (the original's --cfg=cifar --cond=1).
    "cifar10_cond": _paper(
        _tfds("cifar10", 32, label_key="label"),
        {"resolution": 32, "num_layers": [1, 3, 3], "hidden": [1024, 512, 512], "c_dim": 10},
        _CIFAR_D, _CIFAR_TRAIN),
    # The ablation model of the paper (Table 4), trained in the CIFAR-10 setting.
    "ablation": _paper(
        _tfds("cifar10", 32),
        {"resolution": 32, "num_layers": [1, 2, 2], "hidden": [256, 64, 16]},
        _CIFAR_D, _CIFAR_TRAIN),
    # One encoder layer of hidden size 256 on a 32x32 constant (paper, Section 4).
    "one_layer": _paper(
        _tfds("cifar10", 32),
        {"resolution": 32, "start_resolution": 32, "num_layers": [1], "hidden": [256]},
        _CIFAR_D, _CIFAR_TRAIN),
    # STL-10 48x48 (train + unlabelled), Styleformer-Medium from a 12x12 constant: FID 15.17.
    "stl10": _paper(
        _tfds("stl10", 48, splits=("train", "unlabelled")),
        {"resolution": 48, "start_resolution": 12, "num_layers": [1, 2, 2],
         "hidden": [1024, 256, 64]},
        _AUTO_D, _auto_train(48, 25000.0), notes=_auto_notes(48)),
    # CelebA 64x64, pure Styleformer: FID 3.92.
    "celeba": _paper(
        _tfds("celeb_a", 64, splits=("train", "validation", "test"), crop="celeba"),
        {"resolution": 64, "num_layers": [1, 2, 1, 1], "hidden": [1024, 256, 64, 64]},
        _AUTO_D, _auto_train(64, 25000.0), notes=_auto_notes(64)),
    # CelebA 64x64, Styleformer-L: FID 3.66.
    "celeba_linformer": _paper(
        _tfds("celeb_a", 64, splits=("train", "validation", "test"), crop="celeba"),
        {"resolution": 64, "num_layers": [1, 2, 1, 1], "hidden": [1024, 256, 64, 64],
         "linformer": True},
        _AUTO_D, _auto_train(64, 25000.0), augment={"max_p": 0.7},
        notes=_auto_notes(64)),
    # LSUN-Church 128x128, Styleformer-L: FID 7.99.
    "lsun_church": _paper(
        _tfds("lsun/church_outdoor", 128),
        {"resolution": 128, "num_layers": [1, 2, 1, 1, 1], "hidden": [1024, 256, 64, 64, 64],
         "linformer": True},
        _AUTO_D, _auto_train(128, 25000.0), augment={"max_p": 0.7},
        notes=_auto_notes(128)),
    # Styleformer-C (Appendix F): Styleformer up to 32x32, StyleGAN2 blocks above.
    "clevr": _paper(_tfds("clevr", 256), _STYLEFORMER_C_256, _AUTO_D,
                    _auto_train(256, 10000.0), notes=_auto_notes(256)),
    "cityscapes": _paper(_folder("cityscapes", 256), _STYLEFORMER_C_256, _AUTO_D,
                         _auto_train(256, 36000.0), notes=_auto_notes(256)),
    # The paper lists six entries for AFHQ-Cat's seven resolutions (8..512); the 512x512
    # entry (one StyleGAN2 block of 32 channels, StyleGAN2's own width at 512 for
    # channel_base 16384) completes the lists.
    "afhq_cat": _paper(
        _folder("afhq_cat", 512),
        {"resolution": 512, "num_layers": [1, 2, 1, 1, 1, 1, 1],
         "hidden": [1024, 256, 256, 256, 256, 64, 32], "styleformer_max_resolution": 32},
        _AUTO_D, _auto_train(512, 9000.0), notes=_auto_notes(512)),
}

DEFAULT_PRESET = "shapes16"
