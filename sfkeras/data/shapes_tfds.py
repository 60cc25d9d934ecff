"""TFDS builder ``sfkeras_shapes``: the procedural shapes of :mod:`sfkeras.data.shapes`.

Importing :mod:`sfkeras.data` registers it, after which it loads offline like any TFDS
data set::

    import sfkeras.data
    import tensorflow_datasets as tfds
    train = tfds.load("sfkeras_shapes/32", split="train", data_dir="/tmp/tfds")

Registered configurations are named by resolution (``16``, ``32``, ``48``, ``64``,
``128``) with 10,000 train and 1,000 test images and seed 0. Other sizes, counts and seeds
go through an explicit config::

    config = ShapesBuilderConfig.create(resolution=32, num_train=500, num_test=50, seed=3)
    builder = tfds.builder("sfkeras_shapes", config=config, data_dir="/tmp/tfds")
"""

from __future__ import annotations

import dataclasses

import tensorflow_datasets as tfds

from sfkeras.data.shapes import shape_image

REGISTERED_RESOLUTIONS = (16, 32, 48, 64, 128)


@dataclasses.dataclass
class ShapesBuilderConfig(tfds.core.BuilderConfig):
    """One shapes data set: resolution, split sizes and seed."""

    resolution: int = 32
    num_train: int = 10000
    num_test: int = 1000
    seed: int = 0

    @classmethod
    def create(
        cls, resolution: int, num_train: int = 10000, num_test: int = 1000, seed: int = 0
    ) -> ShapesBuilderConfig:
        """Config named after its parameters, e.g. ``32_train500_test50_seed3``."""
        defaults = (num_train, num_test, seed) == (10000, 1000, 0)
        name = str(resolution) if defaults else (
            f"{resolution}_train{num_train}_test{num_test}_seed{seed}")
        return cls(name=name, description=f"{resolution}x{resolution} shapes",
                   resolution=resolution, num_train=num_train, num_test=num_test, seed=seed)


class SfkerasShapes(tfds.core.GeneratorBasedBuilder):
    """Coloured circles, squares and triangles over gradient backgrounds (offline)."""

    VERSION = tfds.core.Version("1.0.0")
    RELEASE_NOTES = {"1.0.0": "Initial release."}
    BUILDER_CONFIGS = [ShapesBuilderConfig.create(r) for r in REGISTERED_RESOLUTIONS]

    def _info(self) -> tfds.core.DatasetInfo:
        size = self.builder_config.resolution
        return self.dataset_info_from_configs(
            features=tfds.features.FeaturesDict(
                {"image": tfds.features.Image(shape=(size, size, 3))}),
            supervised_keys=None,
            homepage="https://github.com/Jeeseung-Park/Styleformer",
        )

    def _split_generators(self, dl_manager: tfds.download.DownloadManager):
        del dl_manager  # nothing to download
        config = self.builder_config
        counts = {"train": config.num_train, "test": config.num_test}
        return {split: self._generate_examples(split, count)
                for split, count in counts.items() if count > 0}

    def _generate_examples(self, split: str, count: int):
        config = self.builder_config
        for index in range(count):
            yield index, {"image": shape_image(config.resolution, config.seed, split, index)}
