"""Data-loading cost of one training epoch: patches from the HDF5 store vs decoded images.

    python experiments/data_pipeline/bench_loading.py data=cave scale=x4 [workers=[0,2]]

For each mode it times ``setup("fit")`` (decode + degrade + cut, or open the store) and two
passes over one ``train_dataloader()`` (batch 16, shuffled; no model), for each worker count:
the first epoch includes starting the workers, the second reuses them (persistent workers). The
store must already exist for the "store" rows to be cache hits (run it twice, or
``jointsr-data prepare`` first). Prints a Markdown table.
"""

from __future__ import annotations

import sys
import time

import hydra
from hydra import compose, initialize_config_dir
from omegaconf import open_dict

from jointsr import CONFIG_DIR

MODES = {
    "decode images (store=false)": {"store": False},
    "store, in memory": {"store": True, "in_memory": True},
    "store, lazy h5 (hash verified)": {"store": True, "in_memory": False, "verify_store": True},
    "store, lazy h5 (no hash check)": {"store": True, "in_memory": False, "verify_store": False},
}


def main(argv: list[str]) -> None:
    workers = [0, 2]
    overrides = []
    for arg in argv:
        if arg.startswith("workers="):
            workers = [int(w) for w in arg.split("=", 1)[1].strip("[]").split(",")]
        else:
            overrides.append(arg)
    with initialize_config_dir(version_base="1.3", config_dir=CONFIG_DIR):
        cfg = compose("train", overrides=overrides + ["data.progress=false"])
    print(f"| {cfg.data.dataset._target_.rsplit('.', 1)[-1]} x{cfg.scale} | setup s | "
          + " | ".join(f"epoch 1 / 2 s (workers={w})" for w in workers) + " | patches |")
    print("|---|---|" + "---|" * len(workers) + "---|")
    for label, options in MODES.items():
        with open_dict(cfg):
            cfg.data.update(options)
        module = hydra.utils.instantiate(cfg.data)
        start = time.perf_counter()
        module.setup("fit")
        setup_s = time.perf_counter() - start
        epochs = []
        for count in workers:
            module.num_workers = count
            loader = module.train_dataloader()
            times = []
            for _ in range(2):
                start = time.perf_counter()
                batches = sum(1 for _ in loader)
                times.append(time.perf_counter() - start)
            epochs.append(times)
            del loader
        print(f"| {label} | {setup_s:.2f} | " + " | ".join(f"{a:.2f} / {b:.2f}" for a, b in epochs)
              + f" | {len(module.train_set)} ({batches} batches) |", flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
