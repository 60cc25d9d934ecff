"""LiteRT and ONNX files of a generator (``export.formats``: ``litert``, ``onnx``).

Both are written by Keras's own ``Model.export`` from the generator's
:func:`~sfkeras.export.serving.serving_model` (``z float32 [N, z_dim]``, and ``c float32
[N, c_dim]`` for a conditional generator, ``-> images uint8 [N, H, W, C]``, any ``N``)
and run here by their own runtimes, as a deployment runs them:

* LiteRT (TensorFlow Lite): ``ai_edge_litert``'s interpreter with built-in kernels only,
  so a file that needed TF Select ("Flex") ops would fail here, not on a phone;
* ONNX: converted by tf2onnx, run by onnxruntime on the CPU.

Their converters and runtimes are the optional extra ``sfkeras[export]``.
"""

from __future__ import annotations

import pathlib
import warnings

import numpy as np

from sfkeras.export.serving import serving_model


def write_litert(generator, path: pathlib.Path, truncation_psi: float) -> None:
    """Convert ``generator`` with ``truncation_psi`` to the LiteRT flat buffer ``path``."""
    serving_model(generator, truncation_psi).export(str(path), format="litert", verbose=False)


def input_name(tensor_name: str, names) -> str:
    """Which of the serving model's input ``names`` (``z``, ``c``) a converted model's
    input ``tensor_name`` is (converters decorate it: ``serving_default_z:0``)."""
    base = tensor_name.split(":")[0]
    (name,) = [name for name in names if base == name or base.endswith(f"_{name}")]
    return name


def run_litert(path: pathlib.Path, inputs: dict[str, np.ndarray]) -> np.ndarray:
    """The LiteRT file ``path`` on ``inputs`` (``z [N, z_dim]`` and, if conditional,
    ``c [N, c_dim]``): its output for them."""
    from ai_edge_litert.interpreter import Interpreter, OpResolverType

    interpreter = Interpreter(
        model_path=str(path),
        experimental_op_resolver_type=OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES)
    details = {input_name(d["name"], inputs): d for d in interpreter.get_input_details()}
    (output,) = interpreter.get_output_details()
    for name, detail in details.items():
        interpreter.resize_tensor_input(detail["index"], inputs[name].shape)
    interpreter.allocate_tensors()
    for name, detail in details.items():
        interpreter.set_tensor(detail["index"], inputs[name])
    interpreter.invoke()
    return interpreter.get_tensor(output["index"])


def write_onnx(generator, path: pathlib.Path, truncation_psi: float) -> None:
    """Convert ``generator`` with ``truncation_psi`` to the ONNX file ``path``."""
    model = serving_model(generator, truncation_psi)
    with warnings.catch_warnings():  # tf2onnx's probe of np.object (NumPy 2)
        warnings.simplefilter("ignore", FutureWarning)
        model.export(str(path), format="onnx", verbose=False)


def run_onnx(path: pathlib.Path, inputs: dict[str, np.ndarray]) -> np.ndarray:
    """The ONNX file ``path`` on ``inputs`` (as :func:`run_litert`), by onnxruntime on
    the CPU."""
    import onnxruntime

    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return session.run(None, {tensor.name: inputs[input_name(tensor.name, inputs)]
                              for tensor in session.get_inputs()})[0]
