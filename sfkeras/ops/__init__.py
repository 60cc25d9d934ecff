"""Backend-agnostic numeric helpers shared by the layers (``keras.ops`` only)."""

from sfkeras.ops.activation import bias_act
from sfkeras.ops.conv import conv2d_resample
from sfkeras.ops.fir import downsample_2d, upfirdn2d, upsample_2d
from sfkeras.ops.precision import at_least_float32

__all__ = ["at_least_float32", "bias_act", "conv2d_resample", "downsample_2d", "upfirdn2d",
           "upsample_2d"]
