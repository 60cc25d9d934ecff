"""Keras networks from an original network snapshot: configuration and weights both read
from the pickle (:mod:`sfkeras.convert.snapshot`), through the name tables of
:mod:`sfkeras.convert.generator` and :mod:`sfkeras.convert.discriminator`.

The original's constructor arguments are translated here, in one place each:
``Generator(z_dim, c_dim, w_dim, img_resolution, img_channels, mapping_kwargs,
synthesis_kwargs)`` and StyleGAN2-ADA's ``Discriminator(c_dim, img_resolution,
img_channels, architecture, channel_base, channel_max, num_fp16_res, conv_clamp,
cmap_dim, block_kwargs, mapping_kwargs, epilogue_kwargs)``. Arguments that only affect
speed (``num_fp16_res``, ``fp16_channels_last``, ``channel_base`` of the generator) are
dropped. Conditional networks (``c_dim > 0``) import with their label embedding and, for
D, the label mapping at StyleGAN2-ADA's defaults (8 layers, ``cmap_dim`` the epilogue's
channels), which the original's ``train.py`` never changes.
"""

from __future__ import annotations

import pathlib
from collections.abc import Mapping
from typing import Any

from sfkeras.convert.discriminator import import_official_discriminator
from sfkeras.convert.generator import import_official_generator
from sfkeras.convert.snapshot import (
    PersistentModule,
    SnapshotError,
    read_snapshot,
    snapshot_network,
)

#: Generator ``synthesis_kwargs`` that do not change the function computed.
_SPEED_ONLY_KWARGS = frozenset({"num_fp16_res", "fp16_channels_last", "channel_base",
                                "channel_max"})
#: The original's defaults for arguments a snapshot may leave out.
_MAPPING_LAYERS_DEFAULT = 8
_D_DEFAULTS = {"architecture": "resnet", "channel_base": 32768, "channel_max": 512,
               "conv_clamp": None, "mbstd_group_size": 4, "mbstd_num_channels": 1}


def official_generator_config(kwargs: Mapping[str, Any]) -> dict[str, Any]:
    """The original generator's constructor ``kwargs`` -> its hyper-parameters under the
    names of :data:`sfkeras.convert.generator.OFFICIAL_CONFIG_NAMES`.

    Raises:
        SnapshotError: non-RGB, or with arguments this port does not know.
    """
    _check_rgb(kwargs, "generator")
    synthesis = dict(kwargs.get("synthesis_kwargs") or {})
    mapping = dict(kwargs.get("mapping_kwargs") or {})
    config = {
        "z_dim": kwargs["z_dim"], "c_dim": kwargs.get("c_dim", 0), "w_dim": kwargs["w_dim"],
        "resolution": kwargs["img_resolution"],
        "mapping_layers": mapping.pop("num_layers", _MAPPING_LAYERS_DEFAULT),
        "hidden": list(synthesis.pop("G_dict")),
        "num_layers": list(synthesis.pop("num_layers")),
    }
    for name in ("depth", "minimum_head", "conv_clamp", "linformer"):
        if name in synthesis:
            config[name] = synthesis.pop(name)
    unknown = sorted(set(synthesis) - _SPEED_ONLY_KWARGS) + sorted(
        f"mapping_kwargs.{name}" for name in mapping if name != "w_avg_beta")
    if unknown:
        raise SnapshotError(f"the generator was built with arguments this port does not "
                            f"implement: {unknown}")
    return config


def official_discriminator_config(kwargs: Mapping[str, Any]) -> dict[str, Any]:
    """StyleGAN2-ADA's ``Discriminator`` constructor ``kwargs`` -> the config read by
    :func:`sfkeras.convert.discriminator.discriminator_config_from_official`.

    Raises:
        SnapshotError: non-RGB, or a label mapping other than StyleGAN2-ADA's default.
    """
    _check_rgb(kwargs, "discriminator")
    changed = sorted(f"mapping_kwargs.{name}" for name in kwargs.get("mapping_kwargs") or {})
    if kwargs.get("cmap_dim") is not None:
        changed.append("cmap_dim")
    if changed:
        raise SnapshotError(f"the discriminator was built with arguments this port does not "
                            f"implement: {changed}")
    epilogue = dict(kwargs.get("epilogue_kwargs") or {})
    config = {name: kwargs.get(name, default) for name, default in _D_DEFAULTS.items()}
    for name in ("mbstd_group_size", "mbstd_num_channels"):
        config[name] = epilogue.get(name, config[name])
    config["resolution"] = kwargs["img_resolution"]
    config["c_dim"] = kwargs.get("c_dim", 0)
    return config


def _check_rgb(kwargs: Mapping[str, Any], network: str) -> None:
    if kwargs.get("img_channels", 3) != 3:
        raise SnapshotError(f"the {network} makes {kwargs['img_channels']}-channel images; "
                            "this port implements RGB only")


def _generator(module: PersistentModule):
    return import_official_generator(official_generator_config(module.init_kwargs),
                                     module.state_dict())


def _discriminator(module: PersistentModule):
    return import_official_discriminator(official_discriminator_config(module.init_kwargs),
                                         module.state_dict())


#: How each network of a snapshot becomes a Keras model.
_BUILDERS = {"G": _generator, "G_ema": _generator, "D": _discriminator}


def networks_from_snapshot(path: str | pathlib.Path,
                           names: tuple[str, ...] = ("G_ema", "G", "D")) -> dict[str, Any]:
    """Keras models of the networks ``names`` of a snapshot (those it holds when several).

    Args:
        path: ``network-snapshot-*.pkl``.
        names: any of ``G_ema``, ``G``, ``D``. A single requested name must be present;
            of several, the absent ones are skipped.

    Returns:
        name -> :class:`~sfkeras.models.Generator` or :class:`~sfkeras.models.Discriminator`.

    Raises:
        MissingFileError, SnapshotError: see :func:`read_snapshot`.
        WeightImportError: a state dict does not fit its configuration.
    """
    snapshot = read_snapshot(path)
    present = [n for n in names if isinstance(snapshot.get(n), PersistentModule)]
    if len(names) == 1 or not present:
        snapshot_network(snapshot, names[0], path)  # raises, naming the networks present
        present = [names[0]]
    return {name: _BUILDERS[name](snapshot[name]) for name in present}


def generator_from_snapshot(path: str | pathlib.Path, name: str = "G_ema"):
    """The generator ``name`` (``G_ema`` or ``G``) of a snapshot as a Keras model."""
    return networks_from_snapshot(path, (name,))[name]
