"""Styleformer's encoder layer: multi-head attention with style modulation (and Linformer)."""

from __future__ import annotations

import math

import keras
from keras import ops

from sfkeras.layers.dense import EqualizedDense
from sfkeras.layers.modulation import demodulation
from sfkeras.layers.noise import check_noise_mode, normal_noise
from sfkeras.ops import at_least_float32, bias_act

#: Epsilon of the per-token layer normalisation (``InstanceNorm1d`` in the original).
LAYER_NORM_EPSILON = 1e-5

#: Where an encoder layer normalises its tokens (:class:`ModulatedEncoderLayer`).
LAYER_NORM_POSITIONS = ("pre", "post")


#: Attention scores per chunk (elements) below which whole (sample, head) groups are
#: batched: 1 Mi floats (4 MiB) stay in a CPU's cache.
ATTENTION_CHUNK_ELEMENTS = 2**20


def _attend(query, key_t, value):
    """``softmax(query @ key_t) @ value`` over any leading axes; also the probabilities.

    Shapes: ``[..., seq, d], [..., d, kv], [..., kv, d] -> [..., seq, d], [..., seq, kv]``.
    """
    probabilities = ops.softmax(ops.matmul(query, key_t), axis=-1)
    return ops.matmul(probabilities, value), probabilities


def _attend_backward(chunk):
    """Gradients of :func:`_attend`'s output w.r.t. ``(query, key_t, value)``.

    ``chunk`` is ``(query, key_t, value, attended, upstream)``; the probabilities are
    recomputed, and ``sum_kv(P * dP) = sum_d(upstream * attended)`` per query row.
    """
    query, key_t, value, attended, upstream = chunk
    probabilities = ops.softmax(ops.matmul(query, key_t), axis=-1)
    d_probabilities = ops.matmul(upstream, ops.swapaxes(value, -1, -2))
    row_dot = ops.sum(upstream * attended, axis=-1, keepdims=True)
    d_scores = probabilities * (d_probabilities - row_dot)
    return (ops.matmul(d_scores, ops.swapaxes(key_t, -1, -2)),
            ops.matmul(ops.swapaxes(query, -1, -2), d_scores),
            ops.matmul(ops.swapaxes(probabilities, -1, -2), upstream))


def _attended(chunk):
    """The attended values of one chunk ``(query, key_t, value)`` (see :func:`_attend`)."""
    return _attend(*chunk)[0]


@ops.custom_gradient
def chunked_attention(query, key_t, value):
    """:func:`_attend` chunk by chunk along the leading axis, without storing probabilities.

    Shapes: ``[B, g, seq, d], [B, g, d, kv], [B, g, kv, d] -> [B, g, seq, d]``: ``B``
    chunks of ``g`` (sample, head) pairs. Each chunk's scores stay in the CPU cache,
    and the backward pass recomputes them per chunk (as flash attention does), so
    neither pass materialises ``[N, heads, seq, kv]``. The backward pass is built from
    differentiable ops, so higher-order gradients work.
    """
    attended = ops.map(_attended, (query, key_t, value))

    def gradient(*args, upstream=None):
        upstream = args[0] if upstream is None else upstream
        return ops.map(_attend_backward, (query, key_t, value, attended, upstream))

    return attended, gradient


def _heads_per_chunk(heads: int, scores_per_head: int) -> int:
    """Largest divisor of ``heads`` whose scores fit :data:`ATTENTION_CHUNK_ELEMENTS`."""
    fitting = [g for g in range(1, heads + 1)
               if heads % g == 0 and g * scores_per_head <= ATTENTION_CHUNK_ELEMENTS]
    return max(fitting, default=1)


def _uniform(fan_in: int) -> keras.initializers.Initializer:
    """The original's ``U(-1/sqrt(fan_in), 1/sqrt(fan_in))`` weight initialisation."""
    bound = 1.0 / math.sqrt(fan_in)
    return keras.initializers.RandomUniform(-bound, bound)


def layer_norm(x):
    """Normalise every token over its channels (no affine): ``[..., C] -> [..., C]``.

    Computed in (at least) float32 (float16 squares overflow above 256, and the epsilon is
    below float16's normal range), returned in ``x``'s dtype. The variance is written
    out rather than taken from ``ops.moments``: TensorFlow's moments stop the gradient
    through the mean inside the variance, which leaves first derivatives exact but
    drops terms of the second derivatives that path-length regularisation needs.
    """
    x32 = at_least_float32(x)
    centered = x32 - ops.mean(x32, axis=-1, keepdims=True)
    variance = ops.mean(ops.square(centered), axis=-1, keepdims=True)
    return ops.cast(centered * ops.rsqrt(variance + LAYER_NORM_EPSILON), x.dtype)


@keras.saving.register_keras_serializable(package="sfkeras")
class ModulatedEncoderLayer(keras.layers.Layer):
    """One Styleformer encoder layer (the original's ``Encoderlayer``).

    With ``s1, s2 = affine(w)`` (each ``[N, C]``, affine bias initialised to 1):

    1. ``h = layer_norm(x * s1)`` (per token over ``C``, eps 1e-5, no affine);
    2. ``Q, K, V = h @ Wq, h @ Wk, h @ Wv``, each column scaled by its demodulation
       coefficient for the ``s1``-modulated kernel (the kernels themselves are used
       unmodulated: the modulation already happened on ``x``);
    3. ``V *= s2``; this ``V`` is also the skip input;
    4. Linformer (if ``linformer_dim``): ``K, V = E @ K, E @ V`` along tokens,
       ``E [linformer_dim, seq]``;
    5. multi-head attention ``softmax(Q K^T / sqrt(C / heads)) V``;
    6. ``out = attn @ Wo * demod(s2, Wo) + skip @ Wu * demod(s2, Wu)``;
    7. ``+ noise`` (per token), ``+ bias``, leaky ReLU 0.2 (no gain), clamp.

    That is Styleformer (``layer_norm="pre"``, ``demodulate_qk=True``). Two switches
    build the variants of the paper's Appendix B, which the original code does not have:

    * ``layer_norm="post"``: "post-LN", layer normalisation "at the end of the encoder"
      rather than "right after style modulation". Read here as the post-LN transformer
      places it, on the sum of the attention branch and the skip: step 1 becomes
      ``h = x * s1`` and step 6 ``out = layer_norm(attn @ Wo * demod(s2, Wo) + skip @ Wu *
      demod(s2, Wu))``, before noise, bias and activation.
    * ``demodulate_qk=False``: Q and K are ``h @ Wq`` and ``h @ Wk`` without their
      demodulation coefficients (V keeps its own). The logits then scale with the style
      wherever ``h`` does (post-LN), where with demodulation they do not.

    Shapes: ``x [N, seq, C]``, ``w [N, w_dim]`` -> ``[N, seq, out_features]``; ``seq``
    and ``C`` are taken from the input shape when the layer is built.

    Args:
        out_features: output width (the next resolution's hidden size for the last
            layer of a resolution, else ``C``).
        num_heads: attention heads (must divide ``C``).
        linformer_dim: Linformer projection size ``k``, or ``None`` for full attention.
        conv_clamp: clamp of the output, or ``None``.
        layer_norm: ``"pre"`` (Styleformer) or ``"post"`` (see above).
        demodulate_qk: demodulate Q and K (Styleformer) or not (see above).
        seed: seed of the generator of ``noise_mode="random"`` noise (``None``: random).
    """

    def __init__(
        self,
        out_features: int,
        num_heads: int,
        *,
        linformer_dim: int | None = None,
        conv_clamp: float | None = None,
        layer_norm: str = "pre",
        demodulate_qk: bool = True,
        seed: int | None = None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        if layer_norm not in LAYER_NORM_POSITIONS:
            raise ValueError(f"layer_norm must be one of {list(LAYER_NORM_POSITIONS)}, "
                             f"got {layer_norm!r}")
        self.out_features = out_features
        self.num_heads = num_heads
        self.linformer_dim = linformer_dim
        self.conv_clamp = conv_clamp
        self.layer_norm = layer_norm
        self.demodulate_qk = demodulate_qk
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed, name="noise_seed")

    def build(self, x_shape, w_shape):
        _, seq_length, hidden = x_shape
        if hidden % self.num_heads:
            raise ValueError(f"{self.name}: {hidden} channels are not divisible by "
                             f"{self.num_heads} heads")
        self.seq_length, self.hidden = seq_length, hidden
        self.affine = EqualizedDense(2 * hidden, bias_init=1.0, name="affine")
        self.affine.build(w_shape)
        self.query_kernel = self.add_weight(
            name="query_kernel", shape=(hidden, hidden), initializer=_uniform(hidden))
        self.key_kernel = self.add_weight(
            name="key_kernel", shape=(hidden, hidden), initializer=_uniform(hidden))
        self.value_kernel = self.add_weight(
            name="value_kernel", shape=(hidden, hidden), initializer=_uniform(hidden))
        self.output_kernel = self.add_weight(
            name="output_kernel", shape=(hidden, self.out_features), initializer=_uniform(hidden))
        self.skip_kernel = self.add_weight(
            name="skip_kernel", shape=(hidden, self.out_features), initializer=_uniform(hidden))
        self.token_projection = None
        if self.linformer_dim is not None:
            self.token_projection = self.add_weight(
                name="token_projection", shape=(self.linformer_dim, seq_length),
                initializer=_uniform(seq_length))
        self.noise_const = self.add_weight(
            name="noise_const", shape=(seq_length, 1),
            initializer=keras.initializers.RandomNormal(stddev=1.0), trainable=False)  # torch.randn
        self.noise_strength = self.add_weight(
            name="noise_strength", shape=(), initializer="zeros")
        self.bias = self.add_weight(name="bias", shape=(self.out_features,), initializer="zeros")

    def call(self, x, w, noise_mode: str = "random", return_attention: bool = False,
             noise_seed=None):
        """Apply the layer.

        Args:
            x: tokens ``[N, seq, C]``.
            w: ``[N, w_dim]``.
            noise_mode: ``"random"`` (fresh N(0,1) per token), ``"const"`` (the stored
                ``noise_const``) or ``"none"``; scaled by the learned ``noise_strength``.
            noise_seed: int ``[2]`` seed of ``"random"`` noise (stateless: the same
                seed gives the same noise); ``None``: the layer's seed generator.
            return_attention: also return the attention probabilities
                ``[N, heads, seq, seq_kv]`` (``seq_kv = linformer_dim`` with Linformer).

        Returns:
            ``[N, seq, out_features]``, or ``(output, attention)``.
        """
        check_noise_mode(noise_mode)
        styles = self.affine(w)
        s1, s2 = styles[:, : self.hidden], styles[:, self.hidden :]

        h = x * s1[:, None, :]
        if self.layer_norm == "pre":
            h = layer_norm(h)
        qkv_kernel = ops.concatenate([self.query_kernel, self.key_kernel, self.value_kernel], 1)
        q_scale, k_scale, v_scale = ops.split(demodulation(s1, qkv_kernel), 3, axis=-1)
        if not self.demodulate_qk:
            q_scale, k_scale = ops.ones_like(q_scale), ops.ones_like(k_scale)
        qkv_scale = ops.concatenate([q_scale, k_scale, v_scale * s2], axis=-1)
        query, key, value = ops.split(ops.matmul(h, qkv_kernel) * qkv_scale[:, None, :], 3, -1)
        skip = value
        if self.token_projection is not None:
            key = ops.einsum("ks,nsc->nkc", self.token_projection, key)
            value = ops.einsum("ks,nsc->nkc", self.token_projection, value)

        attended, attention = self._attention(query, key, value, return_attention)
        out = (ops.matmul(attended, self.output_kernel)
               * demodulation(s2, self.output_kernel)[:, None]
               + ops.matmul(skip, self.skip_kernel) * demodulation(s2, self.skip_kernel)[:, None])
        if self.layer_norm == "post":
            out = layer_norm(out)
        out = out + self._noise(ops.shape(x)[0], noise_mode, noise_seed)
        out = bias_act(out, self.bias, activation="lrelu", gain=1.0, clamp=self.conv_clamp)
        return (out, attention) if return_attention else out

    def _attention(self, query, key, value, return_probabilities: bool):
        """Multi-head attention: ``[N, seq, C], [N, kv, C], [N, kv, C] -> [N, seq, C]``.

        Returns the output and, if asked, the probabilities ``[N, heads, seq, kv]``
        (else ``None``). Without probabilities it runs as :func:`chunked_attention`
        (faster, and memory linear in ``seq``); with them, as one batched product.
        """
        heads, depth = self.num_heads, self.hidden // self.num_heads
        kv_length = key.shape[1]

        def split_heads(t, permutation):  # [N, T, C] -> [N, T, heads, depth] -> permuted
            return ops.transpose(ops.reshape(t, (-1, t.shape[1], heads, depth)), permutation)

        query = split_heads(query * depth**-0.5, (0, 2, 1, 3))  # [N, heads, seq, depth]
        key_t = split_heads(key, (0, 2, 3, 1))  # [N, heads, depth, kv]
        value = split_heads(value, (0, 2, 1, 3))  # [N, heads, kv, depth]
        if return_probabilities:
            attended, probabilities = _attend(query, key_t, value)
        else:
            group = _heads_per_chunk(heads, self.seq_length * kv_length)
            chunks = tuple(ops.reshape(t, (-1, group, *t.shape[2:]))
                           for t in (query, key_t, value))
            attended = chunked_attention(*chunks)
            attended, probabilities = ops.reshape(attended, (-1, *query.shape[1:])), None
        attended = ops.transpose(attended, (0, 2, 1, 3))
        return ops.reshape(attended, (-1, self.seq_length, self.hidden)), probabilities

    def _noise(self, batch_size, noise_mode: str, noise_seed):
        """Per-token noise ``[N or 1, seq, 1]`` times ``noise_strength`` (0 for 'none')."""
        if noise_mode == "none":
            return 0.0
        if noise_mode == "const":
            return self.noise_const[None] * self.noise_strength
        noise = normal_noise((batch_size, self.seq_length, 1), self.compute_dtype,
                             self.seed_generator, noise_seed)
        return noise * self.noise_strength

    def compute_output_shape(self, x_shape, w_shape):
        return (*x_shape[:-1], self.out_features)

    def get_config(self):
        return {
            **super().get_config(),
            "out_features": self.out_features,
            "num_heads": self.num_heads,
            "linformer_dim": self.linformer_dim,
            "conv_clamp": self.conv_clamp,
            "layer_norm": self.layer_norm,
            "demodulate_qk": self.demodulate_qk,
            "seed": self.seed,
        }
