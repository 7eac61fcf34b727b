"""The kernel case table shared by the parity tests and the benchmarks.

Each case names a backend kernel, how many state buffers it takes, and the
scalars to pass after them (as Python values; cast to the parameter dtype).
"""
# Trailing gradient-transform scalars: (gscale, clip, wd, decay)
PLAIN = (1.0, 0.0, 0.0, 1.0)
TRANSFORMED = (-0.7, 0.05, 0.01, 1.0)   # maximize-like scale, clamp, coupled L2
DECOUPLED = (1.0, 0.0, 0.0, 0.999)      # decoupled decay

KERNEL_CASES = [
    # (id, kernel, number of state buffers, scalars before the transform)
    ("sgd", "sgd", 0, (0.01,)),
    ("momentum-heavy-ball", "momentum", 1, (0.9, -0.01, 1.0, False, 0.0)),
    ("momentum-torch", "momentum", 1, (0.9, 0.8, -0.01, False, 0.9)),
    ("momentum-nesterov", "momentum", 1, (0.9, 1.0, -0.01, True, 0.9)),
    ("nesterov-book", "nesterov", 1, (0.81, 0.019, 0.9, 0.01)),
    ("adagrad", "adagrad", 1, (0.01, 1e-7)),
    ("rmsprop", "rmsprop", 3, (0.99, 0.01, 0.01, 1e-7, False, 0.0, False)),
    ("rmsprop-centered-momentum", "rmsprop", 3, (0.9, 0.1, 0.01, 1e-8, True, 0.9, True)),
    ("adadelta", "adadelta", 2, (0.9, 0.1, 1e-6, 1.0)),
    ("adam-standard", "adam", 3, (0.1, 0.001, 0.0105, 0.0447, 1e-8, False)),
    ("adam-book", "adam", 3, (0.1, 0.001, 4.5e-4, 1.0, 1e-7, False)),
    ("amsgrad", "adam", 3, (0.1, 0.001, 0.0105, 0.0447, 1e-8, True)),
    ("adamax", "adamax", 2, (0.1, 0.999, 1e-8, 0.002)),
    ("nadam", "nadam", 2, (0.1, 0.001, 0.002, 1e-8, 1e-3, 2e-3)),
]
TRANSFORMS = {"plain": PLAIN, "transformed": TRANSFORMED, "decoupled": DECOUPLED}
