"""Record a network snapshot of the ORIGINAL Styleformer (PyTorch, CPU) with its outputs,
as the shared fixtures ``snapshot_*.pkl`` + ``.npz`` are: for snapshot-import parity tests
of configurations the shared fixtures lack (e.g. a conditional Styleformer-L with a
``resnet`` D).

Usage::

    python benchmarks/record_snapshot.py ORIGINAL_SRC CONFIG.json OUT

``ORIGINAL_SRC`` is an unpacked copy of the original Styleformer repository (imported at
run time, nothing copied; needs ``torch`` and ``numpy``). Writes ``OUT.pkl``, pickled as
the original's ``training_loop.py`` writes ``network-snapshot-*.pkl``
(``dict(training_set_kwargs, G, D, G_ema, augment_pipe)``, the modules as
``torch_utils.persistence`` classes) except that the module source each class carries is
replaced by a one-line comment (:data:`SOURCE_LEFT_OUT`: the original's code stays out of
this repository; sfkeras's reader never uses it), and ``OUT.npz`` with the
keys of ``official/snapshot_cond32.npz``: ``z``, ``c`` (one-hot, or ``[N, 0]`` when
unconditional), ``ws = G_ema.mapping(z, c)``, ``img = G_ema.synthesis(ws)`` with constant
noise, ``logits = D(img, c)``, ``g_config``, ``d_config`` (JSON), ``torch_version``.

CONFIG.json::

    {"seed": 0, "c_dim": 10, "batch": 4,
     "generator": {"z_dim", "w_dim", "resolution", "mapping_layers", "depth",
                   "minimum_head", "num_layers", "hidden", "linformer", "conv_clamp"},
     "discriminator": {"architecture", "channel_base", "channel_max", "mbstd_group_size",
                       "conv_clamp"}}

After ``torch.manual_seed(seed)`` the networks are built (G, then D) and every parameter
and buffer except the resampling filters is perturbed by ``0.1 * N(0, 1)`` (so that
biases, ``pos_embedding``, ``noise_strength`` and ``w_avg``, zero or one at
initialisation, exercise their paths); G_ema is G perturbed once more, so the two differ.
"""

from __future__ import annotations

import argparse
import copy
import json
import pickle

import numpy as np
import torch
from record_trajectory import import_original

#: What the recorded pickle carries in place of each persistent class's module source.
SOURCE_LEFT_OUT = "# module source left out of this fixture (benchmarks/record_snapshot.py)"


def leave_out_sources(*modules: torch.nn.Module) -> None:
    """Make every persistent class of ``modules`` pickle :data:`SOURCE_LEFT_OUT` as its
    module source."""
    for module in modules:
        for child in module.modules():
            if hasattr(type(child), "_orig_module_src"):
                type(child)._orig_module_src = SOURCE_LEFT_OUT


def build(orig, config):
    """The original's G and D for ``config`` (``c_dim`` labels), in evaluation mode."""
    g, d, c_dim = config["generator"], config["discriminator"], config["c_dim"]
    G = orig["networks_Generator"].Generator(
        z_dim=g["z_dim"], c_dim=c_dim, w_dim=g["w_dim"], img_resolution=g["resolution"],
        img_channels=3, mapping_kwargs=dict(num_layers=g["mapping_layers"]),
        synthesis_kwargs=dict(depth=g["depth"], minimum_head=g["minimum_head"],
                              num_layers=g["num_layers"], G_dict=g["hidden"],
                              conv_clamp=g["conv_clamp"], linformer=g["linformer"]))
    D = orig["Discriminator"](
        c_dim=c_dim, img_resolution=g["resolution"], img_channels=3,
        architecture=d["architecture"], channel_base=d["channel_base"],
        channel_max=d["channel_max"], conv_clamp=d["conv_clamp"],
        epilogue_kwargs=dict(mbstd_group_size=d["mbstd_group_size"]))
    return G.eval().requires_grad_(False), D.eval().requires_grad_(False)


def perturb(module: torch.nn.Module) -> None:
    """Add ``0.1 * N(0, 1)`` to every parameter and buffer except resampling filters."""
    for name, tensor in module.state_dict().items():
        if not name.endswith("resample_filter") and tensor.is_floating_point():
            tensor.add_(0.1 * torch.randn_like(tensor))


def const_noise_synthesis(orig):
    """The original's encoder layers with constant noise (its synthesis never passes
    ``noise_mode`` on; they default to ``'random'``)."""
    layer_cls = orig["networks_Generator"].Encoderlayer
    forward = layer_cls.forward
    layer_cls.forward = lambda self, x, w, noise_mode=None, gain=1: forward(
        self, x, w, noise_mode="const", gain=gain)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("original_src")
    parser.add_argument("config")
    parser.add_argument("out")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    config = json.load(open(args.config))
    orig = import_original(args.original_src)
    torch.manual_seed(config["seed"])
    G, D = build(orig, config)
    perturb(G)
    perturb(D)
    G_ema = copy.deepcopy(G)
    perturb(G_ema)
    resolution, c_dim, batch = config["generator"]["resolution"], config["c_dim"], config["batch"]
    leave_out_sources(G, D)
    with open(f"{args.out}.pkl", "wb") as file:
        pickle.dump(dict(training_set_kwargs=dict(
            class_name="training.dataset.ImageFolderDataset", path="~/datasets/x.zip",
            use_labels=c_dim > 0, max_size=None, xflip=True, resolution=resolution),
            G=G, D=D, G_ema=G_ema, augment_pipe=None), file)
    rs = np.random.RandomState(config["seed"])
    z = torch.from_numpy(rs.standard_normal((batch, G.z_dim)).astype(np.float32))
    c = torch.from_numpy(np.eye(c_dim, dtype=np.float32)[rs.randint(c_dim, size=batch)]
                         if c_dim else np.zeros((batch, 0), np.float32))
    const_noise_synthesis(orig)
    with torch.no_grad():
        ws = G_ema.mapping(z, c)
        img = G_ema.synthesis(ws)
        logits = D(img, c)
    np.savez(f"{args.out}.npz", z=z.numpy(), c=c.numpy(), ws=ws.numpy(), img=img.numpy(),
             logits=logits.numpy(), g_config=json.dumps(config["generator"]),
             d_config=json.dumps(config["discriminator"]), torch_version=torch.__version__)
    print(f"wrote {args.out}.pkl and {args.out}.npz")


if __name__ == "__main__":
    main()
