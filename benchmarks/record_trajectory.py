"""Record a short training trajectory of the ORIGINAL Styleformer (PyTorch, CPU) as an npz fixture.

Usage::

    python benchmarks/record_trajectory.py ORIGINAL_SRC CONFIG.json OUT.npz
    python benchmarks/record_trajectory.py ORIGINAL_SRC - OUT.npz --replay FIXTURE.npz
    ... [--float64]

``ORIGINAL_SRC`` is an unpacked copy of the original Styleformer repository (the folder
holding ``training/``, ``torch_utils/`` and ``dnnlib/``). Its code is imported from there
at run time and nothing of it is copied; the script needs ``torch`` (the fixtures were
recorded with 2.13.0+cpu) and ``numpy``, not Keras.

What it runs: StyleGAN2-ADA's ``training_loop.py`` schedule, driven through the
original's own ``StyleGAN2Loss.accumulate_gradients``: per step the phases Gmain, Greg
(every ``g_reg_interval`` steps), Dmain, Dreg (every ``d_reg_interval``), each with
``gain = interval``; Adam per network with ``lr * r`` and ``betas ** r``,
``r = interval / (interval + 1)``, ``eps = 1e-8``; ``nan_to_num`` of the gradients;
G_ema after every step with the ramp-up (``ema_nimg = min(ema_kimg * 1000,
cur_nimg * ema_rampup)``, ``beta = 0.5 ** (batch / max(ema_nimg, 1e-8))``, parameters
lerped, buffers copied). No augmentation, one round per phase (``batch_gpu = batch``),
unconditional. Two things are pinned at run time so that every random input is recorded:

* synthesis noise: the original's synthesis never passes ``noise_mode`` on (its
  encoder layers default to ``'random'``); the recorder wraps ``Encoderlayer.forward``
  so that every call uses ``config['noise_mode']`` (``'const'``: the stored
  ``noise_const * noise_strength``; ``'none'`` is accepted too);
* path-length noise: during the Greg phase ``torch.randn_like`` returns the recorded
  standard-normal draw; the original's loss still divides it by ``sqrt(H * W)``.

Style mixing must be off (``style_mixing_prob`` 0): its random cut-off is not recorded.

CONFIG.json (the structure of ``trajectory16.npz``'s ``config`` plus ``seed``)::

    {"seed": 1,
     "generator": {"z_dim", "w_dim", "resolution", "mapping_layers", "depth",
                   "minimum_head", "num_layers", "hidden", "linformer"[, "conv_clamp": 256]},
     "discriminator": {"architecture", "channel_base", "channel_max",
                       "mbstd_group_size"[, "conv_clamp": 256]},
     "recipe": {"batch", "steps", "g_lr", "d_lr", "betas", "r1_gamma", "pl_weight",
                "pl_batch_shrink", "pl_decay", "ema_kimg", "ema_rampup" (number or null),
                "g_reg_interval", "d_reg_interval"},
     "noise_mode": "const", "style_mixing_prob": 0.0}

Without ``--replay`` the networks are built after ``torch.manual_seed(seed)`` (G, then
D, the original's own initialisation) and the inputs are drawn with
``numpy.random.RandomState(seed)`` in this order: ``reals`` (smooth random images in
[-1, 1]: uniform 4x4 images, bilinearly upsampled, plus a little uniform noise,
clipped), ``z_Gmain``, ``z_Greg``, ``z_Dmain`` (standard normal, ``[steps, batch,
z_dim]``), ``pl_noise`` (standard normal, ``[steps, batch // pl_batch_shrink, 3, H, W]``,
then zeroed at the steps without Greg). With ``--replay FIXTURE.npz`` the config, the
initial weights and every input are taken from an existing fixture instead (the
self-check: the output must reproduce the fixture's losses and final weights; with
``--threads 2`` it reproduces ``official/trajectory16.npz`` bit for bit).

With ``--float64`` the networks are built (or loaded) in float32 as above, then the
whole loop runs in float64: the networks are converted, new tensors default to float64,
and the original's modules see ``torch.float64`` wherever they name ``torch.float32``
(their "full precision"). The initial weights and the inputs stay float32; the final
weights are float64 and the losses have no float32 rounding. Such a recording is what
sfkeras's float64 replay can follow to 1e-7 (:mod:`sfkeras.training.replay`).

Output keys (all float32 unless said): ``config`` (JSON string: the config plus
``torch_version``, and ``"dtype": "float64"`` with ``--float64``), ``init/G/<name>``,
``init/D/<name>`` (state dicts with buffers, the original's names; a Linformer
projection appears under both of its names),
``reals``, ``z_Gmain``, ``z_Greg``, ``z_Dmain``, ``pl_noise``, the losses the original
reports through ``training_stats`` as float64 ``[steps]`` arrays (NaN where the phase
does not run): ``loss_G`` = mean ``Loss/G/loss`` (softplus(-D(G(z)))), ``loss_D`` = mean
``Loss/D/loss`` (softplus(D(G(z))) + softplus(-D(x))), ``loss_r1`` = mean
``Loss/r1_penalty`` (the raw penalty, before ``r1_gamma / 2`` and the gain),
``loss_pl`` = mean ``Loss/pl_penalty`` (before ``pl_weight`` and the gain); after the
last step ``final/G/*``, ``final/D/*``, ``final/G_ema/*`` (float64 with ``--float64``)
and ``final/pl_mean`` (float64 scalar).
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import json
import sys
import types

import numpy as np
import torch

#: ``training_stats`` name -> output key of the losses that are recorded.
REPORTED = {"Loss/G/loss": "loss_G", "Loss/D/loss": "loss_D",
            "Loss/r1_penalty": "loss_r1", "Loss/pl_penalty": "loss_pl"}


def import_original(src: str):
    """Import the original's networks, loss and helpers from the folder ``src``."""
    sys.path.insert(0, src)
    from torch_utils import misc, training_stats  # noqa: PLC0415
    from torch_utils.ops import conv2d_gradfix  # noqa: PLC0415
    from training import loss as loss_module  # noqa: PLC0415
    from training import networks_Generator  # noqa: PLC0415
    from training.networks_Discriminator import Discriminator  # noqa: PLC0415
    return dict(misc=misc, training_stats=training_stats, conv2d_gradfix=conv2d_gradfix,
                loss_module=loss_module, networks_Generator=networks_Generator,
                Discriminator=Discriminator)


class _TorchInFloat64(types.ModuleType):
    """``torch`` as the original's modules see it in a float64 recording: its
    ``float32`` (the dtype they name for "full precision") is ``float64``."""

    float32 = torch.float64

    def __getattr__(self, name):
        return getattr(torch, name)


def compute_in_float64() -> None:
    """Make the original's ops compute in float64 from now on: every module that names
    ``torch.float32`` sees float64 instead, and new tensors default to float64 (the
    networks, built and initialised in float32 before, are converted by the caller)."""
    torch.set_default_dtype(torch.float64)
    float64_torch = _TorchInFloat64("torch")
    for name in ("training.networks_Generator", "training.networks_Discriminator",
                 "torch_utils.ops.upfirdn2d", "torch_utils.ops.conv2d_resample"):
        sys.modules[name].torch = float64_torch


def build_networks(orig, config):
    """The original's Generator and Discriminator for ``config`` (in the loop's modes)."""
    g, d = config["generator"], config["discriminator"]
    G = orig["networks_Generator"].Generator(
        z_dim=g["z_dim"], c_dim=0, w_dim=g["w_dim"], img_resolution=g["resolution"],
        img_channels=3, mapping_kwargs=dict(num_layers=g["mapping_layers"]),
        synthesis_kwargs=dict(depth=g["depth"], minimum_head=g["minimum_head"],
                              num_layers=g["num_layers"], G_dict=g["hidden"],
                              conv_clamp=g.get("conv_clamp", 256), linformer=g["linformer"]))
    D = orig["Discriminator"](
        c_dim=0, img_resolution=g["resolution"], img_channels=3,
        architecture=d["architecture"], channel_base=d["channel_base"],
        channel_max=d["channel_max"], conv_clamp=d.get("conv_clamp", 256),
        epilogue_kwargs=dict(mbstd_group_size=d["mbstd_group_size"]))
    return G.train().requires_grad_(False), D.train().requires_grad_(False)


def state_arrays(module) -> dict[str, np.ndarray]:
    return {n: v.detach().cpu().numpy().copy() for n, v in module.state_dict().items()}


def smooth_images(rs: np.random.RandomState, shape, low: int = 4) -> np.ndarray:
    """Random images ``[..., 3, H, W]`` in [-1, 1]: uniform ``low x low`` ones upsampled."""
    *lead, c, h, w = shape
    coarse = rs.uniform(-1, 1, size=(*lead, c, low, low))

    def interp(n):  # [n, low] bilinear (align-corners) interpolation weights
        pos = np.linspace(0, low - 1, n)
        m = np.zeros((n, low))
        i0 = np.minimum(np.floor(pos).astype(int), low - 2)
        t = pos - i0
        m[np.arange(n), i0] = 1 - t
        m[np.arange(n), i0 + 1] = t
        return m

    img = interp(h) @ coarse @ interp(w).T
    img = img + rs.uniform(-0.1, 0.1, size=img.shape)
    return np.clip(img, -1, 1).astype(np.float32)


def draw_inputs(config) -> dict[str, np.ndarray]:
    g, r = config["generator"], config["recipe"]
    steps, batch, res = r["steps"], r["batch"], g["resolution"]
    rs = np.random.RandomState(config["seed"])
    inputs = {"reals": smooth_images(rs, (steps, batch, 3, res, res))}
    for key in ("z_Gmain", "z_Greg", "z_Dmain"):
        inputs[key] = rs.standard_normal((steps, batch, g["z_dim"])).astype(np.float32)
    pl = rs.standard_normal((steps, batch // r["pl_batch_shrink"], 3, res, res)).astype(np.float32)
    greg_runs = (np.arange(steps) % r["g_reg_interval"] == 0) & (r["pl_weight"] != 0)
    pl[~greg_runs] = 0
    inputs["pl_noise"] = pl
    return inputs


@contextlib.contextmanager
def patched(obj, name, value):
    old = getattr(obj, name)
    setattr(obj, name, value)
    try:
        yield
    finally:
        setattr(obj, name, old)


def _tensor(array: np.ndarray) -> torch.Tensor:
    """A recorded input as a tensor of the default dtype (float32, or float64)."""
    return torch.from_numpy(array.copy()).to(torch.get_default_dtype())


def run(orig, config, G, D, inputs) -> dict[str, np.ndarray]:
    """Run ``recipe['steps']`` steps of the original loop; return losses and final states."""
    r = config["recipe"]
    assert config.get("style_mixing_prob", 0) == 0, "style mixing draws unrecorded randoms"
    assert config["noise_mode"] in ("const", "none"), "random synthesis noise is not recorded"
    steps, batch = r["steps"], r["batch"]
    misc, loss_module = orig["misc"], orig["loss_module"]
    orig["conv2d_gradfix"].enabled = True  # as training_loop.py (a no-op on CPU)

    G_ema = copy.deepcopy(G).eval()
    loss = loss_module.StyleGAN2Loss(
        device=torch.device("cpu"), G_mapping=G.mapping, G_synthesis=G.synthesis, D=D,
        augment_pipe=None, style_mixing_prob=0, r1_gamma=r["r1_gamma"],
        pl_batch_shrink=r["pl_batch_shrink"], pl_decay=r["pl_decay"], pl_weight=r["pl_weight"])

    phases = []  # as training_loop.py: lazy regularisation
    for name, module, lr, interval in [("G", G, r["g_lr"], r["g_reg_interval"]),
                                       ("D", D, r["d_lr"], r["d_reg_interval"])]:
        ratio = interval / (interval + 1)
        opt = torch.optim.Adam(module.parameters(), lr=lr * ratio,
                               betas=[b ** ratio for b in r["betas"]], eps=r.get("epsilon", 1e-8))
        phases += [(name + "main", module, opt, 1), (name + "reg", module, opt, interval)]

    # Record what the loss reports (and still forward it to the original's training_stats).
    losses = {key: np.full(steps, np.nan) for key in REPORTED.values()}
    current = {}
    real_report = orig["training_stats"].report

    reduce_dtype = torch.get_default_dtype()

    def report(name, value):
        if name in REPORTED:  # training_stats: float32 sum (float64 recordings: float64)
            elems = torch.as_tensor(value).detach().flatten().to(reduce_dtype)
            current[REPORTED[name]] = float(elems.sum().to(torch.float64)) / elems.numel()
        return real_report(name, value)

    stats_shim = type(sys)("training_stats_shim")
    stats_shim.report = report
    layer_cls = orig["networks_Generator"].Encoderlayer
    layer_forward = layer_cls.forward
    noise_mode = config["noise_mode"]

    def forward_fixed_noise(self, x, w, noise_mode_=None, gain=1):
        return layer_forward(self, x, w, noise_mode=noise_mode, gain=gain)

    c = torch.zeros([batch, 0])
    cur_nimg = 0
    with patched(loss_module, "training_stats", stats_shim), \
            patched(layer_cls, "forward", forward_fixed_noise):
        for step in range(steps):
            real = _tensor(inputs["reals"][step])
            zs = {"Gmain": inputs["z_Gmain"][step], "Greg": inputs["z_Greg"][step],
                  "Dmain": inputs["z_Dmain"][step], "Dreg": inputs["z_Dmain"][step]}
            for name, module, opt, interval in phases:
                if step % interval != 0:
                    continue
                current.clear()
                opt.zero_grad(set_to_none=True)
                module.requires_grad_(True)
                pl_noise = _tensor(inputs["pl_noise"][step])

                def randn_like(t, *args, pl_noise=pl_noise, **kwargs):
                    assert tuple(t.shape) == tuple(pl_noise.shape), (t.shape, pl_noise.shape)
                    return pl_noise.clone().to(t.dtype)

                stack = contextlib.ExitStack()
                if name == "Greg":
                    stack.enter_context(patched(torch, "randn_like", randn_like))
                with stack:
                    loss.accumulate_gradients(phase=name, real_img=real, real_c=c,
                                              gen_z=_tensor(zs[name]), gen_c=c,
                                              sync=True, gain=interval)
                module.requires_grad_(False)
                for param in module.parameters():
                    if param.grad is not None:
                        misc.nan_to_num(param.grad, nan=0, posinf=1e5, neginf=-1e5, out=param.grad)
                opt.step()
                for key, value in current.items():
                    losses[key][step] = value

            with torch.no_grad():  # G_ema, as training_loop.py
                ema_nimg = r["ema_kimg"] * 1000
                if r["ema_rampup"] is not None:
                    ema_nimg = min(ema_nimg, cur_nimg * r["ema_rampup"])
                ema_beta = 0.5 ** (batch / max(ema_nimg, 1e-8))
                for p_ema, p in zip(G_ema.parameters(), G.parameters(), strict=True):
                    p_ema.copy_(p.lerp(p_ema, ema_beta))
                for b_ema, b in zip(G_ema.buffers(), G.buffers(), strict=True):
                    b_ema.copy_(b)
            cur_nimg += batch

    out = dict(losses)
    for prefix, module in [("final/G/", G), ("final/D/", D), ("final/G_ema/", G_ema)]:
        out.update({prefix + n: v for n, v in state_arrays(module).items()})
    out["final/pl_mean"] = np.float64(loss.pl_mean.item())
    return out


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("original_src")
    parser.add_argument("config", help="CONFIG.json ('-' with --replay)")
    parser.add_argument("out")
    parser.add_argument("--replay", metavar="FIXTURE.npz",
                        help="take config, initial weights and inputs from this fixture")
    parser.add_argument("--threads", type=int, default=2,
                        help="torch CPU threads (2 reproduces trajectory16.npz bit for bit; "
                             "another count changes the float rounding)")
    parser.add_argument("--float64", action="store_true",
                        help="train in float64 (the initial networks and the inputs are the "
                             "float32 ones; the final weights and losses have no float32 "
                             "rounding)")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    orig = import_original(args.original_src)

    if args.replay:
        fixture = np.load(args.replay)
        config = json.loads(str(fixture["config"]))
        G, D = build_networks(orig, config)
        for prefix, module in [("init/G/", G), ("init/D/", D)]:
            state = {k[len(prefix):]: _tensor(fixture[k])
                     for k in fixture.files if k.startswith(prefix)}
            module.load_state_dict(state, strict=True)
        inputs = {k: fixture[k] for k in ("reals", "z_Gmain", "z_Greg", "z_Dmain", "pl_noise")}
    else:
        with open(args.config) as f:
            config = json.load(f)
        torch.manual_seed(config["seed"])
        G, D = build_networks(orig, config)
        inputs = draw_inputs(config)
    config = {**config, "torch_version": torch.__version__,
              **({"dtype": "float64"} if args.float64 else {})}

    init = {}
    for prefix, module in [("init/G/", G), ("init/D/", D)]:
        init.update({prefix + n: v for n, v in state_arrays(module).items()})
    if args.float64:  # the original's float32 initial networks, trained in float64
        compute_in_float64()
        G, D = G.double(), D.double()
    out = run(orig, config, G, D, inputs)
    np.savez_compressed(args.out, config=np.array(json.dumps(config)), **init, **inputs, **out)
    for key in REPORTED.values():
        print(key, np.array2string(out[key], precision=6, max_line_width=200))
    print("final/pl_mean", float(out["final/pl_mean"]))


if __name__ == "__main__":
    main()
