"""The process's random number generators, kept in a checkpoint so a resumed run draws what the
uninterrupted one would have drawn.

A network may draw from the global generators while it trains (CoISTA's grid phase, any
dropout); ``seed_everything`` at start-up restarts them from the seed, so without this a resumed
run repeats the draws of steps 0, 1, ... instead of continuing the stream. Stored as tensors,
integers and tuples only: the checkpoint stays loadable with ``weights_only=True``.
"""

from __future__ import annotations

import random

import numpy as np
import torch


def random_states() -> dict:
    """The state of Python's, NumPy's and torch's generators (CPU, and every CUDA device in use)."""
    kind, keys, position, has_gauss, cached = np.random.get_state()
    states = {
        "python": random.getstate(),
        "numpy": {"kind": kind, "keys": torch.from_numpy(keys.astype(np.int64)), "position": int(position),
                  "has_gauss": int(has_gauss), "cached_gaussian": float(cached)},
        "torch": torch.get_rng_state(),
    }
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        states["cuda"] = torch.cuda.get_rng_state_all()
    return states


def restore_random_states(states: dict) -> None:
    """Set the generators to ``states`` (from :func:`random_states`)."""
    version, internal, gauss = states["python"]
    random.setstate((version, tuple(internal), gauss))
    numpy = states["numpy"]
    np.random.set_state((numpy["kind"], numpy["keys"].numpy().astype(np.uint32), numpy["position"],
                         numpy["has_gauss"], numpy["cached_gaussian"]))
    torch.set_rng_state(states["torch"])
    if "cuda" in states and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(states["cuda"])
