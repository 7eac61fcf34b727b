"""NumPy twins of the activation kernels (see ``fastopt.kernels.activation``)."""
import numpy as np

from ._types import FloatArray


def relu_forward(x: FloatArray, out: FloatArray) -> None:
    """out = 0 where x <= 0, else x (the book's ``Relu``: NaN stays NaN, -0.0 becomes +0.0)."""
    np.copyto(out, np.where(x <= 0, x.dtype.type(0), x))


def relu_backward(x: FloatArray, dout: FloatArray, dx: FloatArray) -> None:
    """dx = 0 where x <= 0, else dout (the gradient at 0 is 0, as the book's layer)."""
    np.copyto(dx, np.where(x <= 0, dout.dtype.type(0), dout))
