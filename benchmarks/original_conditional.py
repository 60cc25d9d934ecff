"""Train the ORIGINAL Styleformer (PyTorch, CPU) class-conditionally with the default
recipe, for the comparison in README "Class-conditional training".

Usage::

    python benchmarks/original_conditional.py ORIGINAL_SRC REALS.npy LABELS.npy OUT RECIPE.json

``REALS.npy`` (uint8 ``[N, H, W, 3]``, mirrored copies appended, as
``../shared/bench-original/tfrecord_pngs_to_npy.py --mirror`` writes it) and
``LABELS.npy`` (int ``[N]``, the label of each image) hold the training set;
``RECIPE.json`` has the keys of ``../shared/bench-original/train_original.py``'s recipe
plus ``c_dim``. The loop is that script's (``training_loop.py``'s schedule: Gmain, Greg
every 4 (a no-op without path-length regularisation), Dmain, Dreg every 16; lazy
regularised Adam; ``nan_to_num``; G_ema with ramp-up; fresh latents per phase; no
augmentation), with labels: real images carry their own, and every phase's generated
images get those of random training images (the original's
``training_set.get_label(random index)``). Writes ``OUT/G_ema_<kimg>kimg.npz`` at
``save_kimg``; ``sfkeras import-weights --config`` (with ``c_dim`` in its JSON) reads them.
"""

from __future__ import annotations

import copy
import json
import pathlib
import sys

import numpy as np
import torch


def build(recipe: dict):
    """The original's conditional G, G_ema and D for ``recipe`` (in training mode)."""
    from training.networks_Discriminator import Discriminator
    from training.networks_Generator import Generator

    generator = Generator(
        z_dim=recipe["z_dim"], c_dim=recipe["c_dim"], w_dim=recipe["w_dim"],
        img_resolution=recipe["resolution"], img_channels=3,
        mapping_kwargs=dict(num_layers=recipe["mapping_layers"]),
        synthesis_kwargs=dict(depth=recipe["depth"], minimum_head=recipe["minimum_head"],
                              num_layers=recipe["num_layers"], G_dict=recipe["hidden"],
                              conv_clamp=256, linformer=recipe["linformer"]))
    discriminator = Discriminator(
        c_dim=recipe["c_dim"], img_resolution=recipe["resolution"], img_channels=3,
        architecture=recipe["d_architecture"], channel_base=recipe["d_channel_base"],
        channel_max=recipe["d_channel_max"], conv_clamp=256,
        epilogue_kwargs=dict(mbstd_group_size=recipe["mbstd_group_size"]))
    generator, discriminator = (network.train().requires_grad_(False)
                                for network in (generator, discriminator))
    return generator, copy.deepcopy(generator).eval(), discriminator


def main(src: str, reals_path: str, labels_path: str, out: str, recipe_path: str) -> None:
    recipe = json.load(open(recipe_path))
    sys.path.insert(0, src)
    from training.loss import StyleGAN2Loss

    torch.set_num_threads(recipe.get("threads", 2))
    torch.manual_seed(recipe["seed"])
    np.random.seed(recipe["seed"])
    generator, generator_ema, discriminator = build(recipe)
    loss = StyleGAN2Loss(device=torch.device("cpu"), G_mapping=generator.mapping,
                         G_synthesis=generator.synthesis, D=discriminator, augment_pipe=None,
                         style_mixing_prob=0, r1_gamma=recipe["r1_gamma"], pl_weight=0)
    phases = []
    for name, network, lr, interval in (("G", generator, recipe["g_lr"], 4),
                                        ("D", discriminator, recipe["d_lr"], 16)):
        ratio = interval / (interval + 1)
        optimizer = torch.optim.Adam(network.parameters(), lr=lr * ratio,
                                     betas=(0.0, 0.99 ** ratio), eps=1e-8)
        phases += [(f"{name}main", network, optimizer, 1), (f"{name}reg", network, optimizer,
                                                            interval)]
    reals = torch.from_numpy(np.load(reals_path)).permute(0, 3, 1, 2).contiguous()
    labels = torch.from_numpy(np.eye(recipe["c_dim"], dtype=np.float32)[np.load(labels_path)])
    batch, saves = recipe["batch"], sorted(recipe["save_kimg"])
    pathlib.Path(out).mkdir(parents=True, exist_ok=True)
    order, position, nimg, step = np.random.permutation(len(reals)), 0, 0, 0
    while nimg < recipe["kimg"] * 1000:
        if position + batch > len(order):
            order, position = np.random.permutation(len(reals)), 0
        index = torch.from_numpy(order[position:position + batch])
        position += batch
        real, real_c = reals[index].to(torch.float32) / 127.5 - 1, labels[index]
        for name, network, optimizer, interval in phases:
            if step % interval:
                continue
            z = torch.randn(batch, recipe["z_dim"])
            gen_c = labels[torch.from_numpy(np.random.randint(len(labels), size=batch))]
            optimizer.zero_grad(set_to_none=True)
            network.requires_grad_(True)
            loss.accumulate_gradients(phase=name, real_img=real, real_c=real_c, gen_z=z,
                                      gen_c=gen_c, sync=True, gain=interval)
            network.requires_grad_(False)
            for parameter in network.parameters():
                if parameter.grad is not None:
                    torch.nan_to_num(parameter.grad, nan=0, posinf=1e5, neginf=-1e5,
                                     out=parameter.grad)
            optimizer.step()
        with torch.no_grad():
            ema_nimg = min(recipe["ema_kimg"] * 1000, nimg * recipe["ema_rampup"])
            beta = 0.5 ** (batch / max(ema_nimg, 1e-8))
            for ema, live in zip(generator_ema.parameters(), generator.parameters(), strict=True):
                ema.copy_(live.lerp(ema, beta))
            for ema, live in zip(generator_ema.buffers(), generator.buffers(), strict=True):
                ema.copy_(live)
        nimg, step = nimg + batch, step + 1
        if saves and nimg >= saves[0] * 1000:
            kimg = saves.pop(0)
            np.savez(pathlib.Path(out) / f"G_ema_{kimg:g}kimg.npz",
                     **{n: v.numpy() for n, v in generator_ema.state_dict().items()})
            print(f"kimg {kimg:g}", flush=True)


if __name__ == "__main__":
    main(*sys.argv[1:6])
