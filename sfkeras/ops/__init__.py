"""Backend-agnostic numeric helpers shared by the layers (``keras.ops`` only)."""

from sfkeras.ops.activation import bias_act
from sfkeras.ops.fir import downsample_2d, upfirdn2d, upsample_2d

__all__ = ["bias_act", "downsample_2d", "upfirdn2d", "upsample_2d"]
