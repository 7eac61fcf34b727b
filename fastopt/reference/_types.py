"""Type aliases of the kernel signatures, shared by the NumPy twins and the Numba kernels.

The kernels of ``KERNELS`` carry their types as PEP 484 type comments, not
annotations: a kernel's ``inspect.signature`` is the contract every backend
matches exactly (tests compare them), and the compiled Cython kernels have no
annotations. mypy reads the comments as it reads annotations. Other functions
are annotated as usual.
"""
from typing import Any, Union

import numpy as np
from numpy.typing import NDArray

#: A float32 or float64 buffer (parameters, gradients, optimizer state, activations).
FloatArray = NDArray[np.floating[Any]]
#: A float64 array (batch-norm statistics and scratch, whatever the data's dtype).
F64Array = NDArray[np.float64]
#: Integer class labels.
IntArray = NDArray[np.integer[Any]]
#: A real scalar: a Python float, or (as the optimizers pass them) a NumPy float in
#: the parameter's dtype.
Real = Union[float, np.floating[Any]]
#: A uint64 scalar of the counter-based RNG (seed, stream, offset, threshold).
UInt64 = Union[int, np.unsignedinteger[Any]]
