"""How spread a Styleformer generator's attention is: per encoder layer, two numbers.

For a fixed set of latents (``np.random.default_rng(seed).standard_normal``, no truncation,
constant noise, so the numbers are a function of the weights alone; a conditional
generator's latent ``i`` has class ``i mod c_dim``), every attention row
(one query token of one head of one sample) is a distribution over the keys:

* ``entropy``: the mean normalised entropy of the rows, ``H(row) / log(keys)``: 1 for
  uniform attention, 0 for all weight on one key;
* ``max``: the mean of each row's largest weight: ``1 / keys`` for uniform attention, 1
  for all weight on one key.

The paper's Appendix B reads its attention maps this way: without Q/K demodulation
"specific value in attention map becomes very large" (``max`` near 1, ``entropy`` near
0), and with post-LN the maps are not learned (``entropy`` stays near 1).
"""

from __future__ import annotations

import collections

import numpy as np
from keras import ops

from sfkeras.labels import cycled_labels

#: Latents the statistics average over by default.
ATTENTION_LATENTS = 256


def attention_statistics(generator, num_latents: int = ATTENTION_LATENTS, seed: int = 0,
                         batch_size: int = 32) -> dict[str, dict[str, float]]:
    """``{block: {"entropy": e, "max": m}}`` for every encoder layer of ``generator``.

    Args:
        generator: a :class:`~sfkeras.models.Generator`.
        num_latents: latents averaged over.
        seed: seed of the latents.
        batch_size: latents per forward pass (the attention of a batch is
            ``[batch, heads, seq, keys]`` floats).

    Returns:
        Per encoder layer, by its block name (``b16_0``: the first layer at 16x16), in
        the order the layers run; StyleGAN2 blocks (Styleformer-C) have no attention and
        no entry.
    """
    z = np.random.default_rng(seed).standard_normal((num_latents, generator.z_dim))
    c = cycled_labels(num_latents, generator.c_dim) if generator.c_dim else None
    sums = collections.defaultdict(lambda: np.zeros(2))
    for start in range(0, num_latents, batch_size):
        ws = generator.mapping(z[start:start + batch_size].astype(np.float32),
                               None if c is None else c[start:start + batch_size])
        for block in generator.synthesis.run_blocks(ws, "const", with_attention=True):
            if block.attention is not None:
                sums[block.name] += _row_statistics(ops.convert_to_numpy(block.attention))
    return {name: {"entropy": float(total[0] / num_latents), "max": float(total[1] / num_latents)}
            for name, total in sums.items()}


def _row_statistics(attention: np.ndarray) -> np.ndarray:
    """Per-sample means over heads and queries, summed over samples: ``[entropy, max]``
    of attention ``[N, heads, queries, keys]``."""
    p = attention.astype(np.float64)
    entropy = -np.sum(p * np.log(np.maximum(p, np.finfo(np.float64).tiny)), axis=-1)
    normalised = entropy / np.log(p.shape[-1]) if p.shape[-1] > 1 else entropy  # 1 key: 0
    return np.array([normalised.mean(axis=(1, 2)).sum(), p.max(axis=-1).mean(axis=(1, 2)).sum()])
