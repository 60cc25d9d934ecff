"""Training recipe and run management (``train:`` in ``params.yaml``)."""

from __future__ import annotations

import dataclasses
from typing import Literal

from sfkeras.config.base import Section


@dataclasses.dataclass(frozen=True)
class TrainConfig(Section):
    """StyleGAN2-ADA training (defaults: the paper's CIFAR-10 recipe).

    Attributes:
        kimg: training length in thousands of real images shown to D.
        batch_size: global batch (split evenly over replicas).
        g_lr, d_lr: Adam learning rates before the lazy-regularisation adjustment.
        betas: Adam (beta1, beta2) before the adjustment.
        epsilon: Adam epsilon.
        r1_gamma: R1 weight.
        g_reg_interval, d_reg_interval: lazy regularisation intervals (G keeps its
            4/5 lr/beta adjustment even without path-length regularisation, as the
            original does).
        pl_weight: path-length regularisation weight (0 = off, CIFAR setting).
        pl_batch_shrink: path-length batch = batch / shrink.
        pl_decay: decay of the path-length running mean.
        style_mixing_prob: probability of style mixing per sample (0 = off).
        ema_kimg: generator EMA half-life in kimg.
        ema_rampup: EMA ramp-up ratio (``null``: none).
        mirror: random x-flips of the training images.
        seed: seed of all training randomness.
        checkpoint_kimg: write a checkpoint every this many kimg (and at the end).
        keep_checkpoints: checkpoints to keep.
        keep_snapshots: network snapshots to keep (``snapshots/network-snapshot-<kimg>.keras``
            with their metrics, written at every ``metrics_kimg``): the newest N and the
            best (``null``: all, as the original).
        snapshot_kimg: write a sample grid every this many kimg.
        metrics_kimg: evaluate ``evaluate.metrics`` every this many kimg (0 = never).
        log_kimg: log losses and p every this many kimg.
        mixed_precision: float16 compute (float32 variables).
        xla: compile the training step with XLA (one device: ``strategy: default``).
        strategy: ``auto`` (multi-worker when ``TF_CONFIG`` is set, otherwise all local
            GPUs, otherwise the CPU), ``mirrored``, ``multi_worker`` or ``default``.
        cpu_replicas: on a machine without GPUs, split the CPU into this many logical
            devices and train one replica on each (``MirroredStrategy``), each op on
            ``cores // cpu_replicas`` threads. Small networks use several threads per op
            poorly: on 2 cores, 2 replicas train 1.5-1.8x faster than 1 (bench_train). ``1``: one
            CPU device with TensorFlow's default threading. Needs ``strategy`` ``auto``
            or ``mirrored``; ignored when there are GPUs.
        divergence_loss: stop the run when ``|loss/G|`` or ``|loss/D|`` stays above this
            for ``divergence_steps`` consecutive steps, keeping the last checkpoint taken
            before (``null``: never). Far above the losses of a healthy run (order 1).
        divergence_steps: consecutive steps beyond ``divergence_loss`` that stop the run.
        init_from: start a new run from trained weights (StyleGAN2-ADA's
            ``--resume=pkl``): a generator ``.keras`` file (G and G_ema), a training run
            folder (G, G_ema, D of its newest checkpoint) or an original
            network-snapshot ``.pkl`` (G, G_ema, D); the architecture must match the
            ``generator``/``discriminator`` sections. Optimisers, ADA p and the image
            count start afresh. The source's content hash is part of the run key.
            ``null``: random initialisation.
        freeze_d: Freeze-D, the original's ``--freezed``: keep the discriminator's first
            ``freeze_d`` layers fixed (0: none), for fine-tuning with ``init_from``.
            Layers count from the input as the original counts them: per block from
            the highest resolution, ``fromrgb`` where the block has one, ``conv0``,
            ``conv1`` and ``skip`` (``resnet``); the label mapping and the epilogue are
            never frozen (Mo et al., "Freeze the Discriminator", 2020).
    """

    kimg: float = 100.0
    batch_size: int = 32
    g_lr: float = 0.0025
    d_lr: float = 0.0025
    betas: tuple[float, ...] = (0.0, 0.99)
    epsilon: float = 1e-8
    r1_gamma: float = 0.01
    g_reg_interval: int = 4
    d_reg_interval: int = 16
    pl_weight: float = 0.0
    pl_batch_shrink: int = 2
    pl_decay: float = 0.01
    style_mixing_prob: float = 0.0
    ema_kimg: float = 500.0
    ema_rampup: float | None = 0.05
    mirror: bool = True
    seed: int = 0
    checkpoint_kimg: float = 10.0
    keep_checkpoints: int = 3
    keep_snapshots: int | None = None
    snapshot_kimg: float = 10.0
    metrics_kimg: float = 0.0
    log_kimg: float = 1.0
    mixed_precision: bool = False
    xla: bool = False
    strategy: Literal["auto", "mirrored", "multi_worker", "default"] = "auto"
    cpu_replicas: int = 1
    divergence_loss: float | None = 1e4
    divergence_steps: int = 10
    init_from: str | None = None
    freeze_d: int = 0

    def validate(self) -> None:
        if self.kimg <= 0:
            self.fail("kimg", "must be positive")
        if self.batch_size < 1:
            self.fail("batch_size", "must be >= 1")
        if len(self.betas) != 2 or not all(0.0 <= b < 1.0 for b in self.betas):
            self.fail("betas", f"must be two numbers in [0, 1), got {list(self.betas)}")
        for name in ("g_reg_interval", "d_reg_interval", "keep_checkpoints", "pl_batch_shrink",
                     "divergence_steps"):
            if getattr(self, name) < 1:
                self.fail(name, "must be >= 1")
        if self.keep_snapshots is not None and self.keep_snapshots < 1:
            self.fail("keep_snapshots", "must be >= 1 (null: keep all)")
        if not 0.0 <= self.style_mixing_prob <= 1.0:
            self.fail("style_mixing_prob", "must be in [0, 1]")
        for name in ("checkpoint_kimg", "snapshot_kimg", "log_kimg", "ema_kimg"):
            if getattr(self, name) <= 0:
                self.fail(name, "must be positive")
        if self.divergence_loss is not None and self.divergence_loss <= 0:
            self.fail("divergence_loss", "must be positive (null: no divergence guard)")
        if self.metrics_kimg < 0:
            self.fail("metrics_kimg", "must be >= 0 (0 = never)")
        if self.freeze_d < 0:
            self.fail("freeze_d", "must be >= 0 (0: train every discriminator layer)")
        if self.cpu_replicas < 1:
            self.fail("cpu_replicas", "must be >= 1 (1 = one CPU device)")
        if self.cpu_replicas > 1:
            if self.strategy not in ("auto", "mirrored"):
                self.fail("cpu_replicas", f"needs strategy auto or mirrored, not "
                          f"{self.strategy!r}: set cpu_replicas to 1, or change strategy")
            if self.xla:
                self.fail("cpu_replicas", "XLA compiles the step for one device: set "
                          "cpu_replicas to 1, or xla to false")
            if self.batch_size % self.cpu_replicas:
                self.fail("cpu_replicas", f"batch_size {self.batch_size} is not divisible "
                          f"by {self.cpu_replicas} replicas: use a divisor of the batch")
