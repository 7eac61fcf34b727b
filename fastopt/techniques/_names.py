"""Name pairs between two models' parameters, checked (shared by tying and copying)."""
import numpy as np


def name_pairs(first, second, names, first_label, second_label):
    """``[(first_name, second_name), ...]`` from *names* (str or (str, str) items).

    Each name must exist on its side and both arrays must have the same shape;
    errors name the argument (``names``) and which side is wrong.
    """
    pairs = []
    for item in names:
        a, b = (item, item) if isinstance(item, str) else tuple(item)
        if a not in first:
            raise ValueError(f"names: {a!r} is not a parameter of {first_label}")
        if b not in second:
            raise ValueError(f"names: {b!r} is not a parameter of {second_label}")
        if np.shape(first[a]) != np.shape(second[b]):
            raise ValueError(f"names: {first_label}[{a!r}] has shape {np.shape(first[a])}, "
                             f"{second_label}[{b!r}] has {np.shape(second[b])}")
        pairs.append((a, b))
    return pairs
