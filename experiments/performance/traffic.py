"""Where the default training step's memory traffic goes, per operator (load-independent):
the bytes every aten operator of one eager step reads and writes, grouped; the tensors
autograd keeps between forward and backward (the byte count of ``limits.OperatorTraffic``).
Run: python experiments/performance/traffic.py [--compiled] [overrides of conf/bench.yaml]"""

from __future__ import annotations

import collections
import sys

import torch
from hydra import compose, initialize_config_dir
from torch.utils.flop_counter import FlopCounterMode

from jointsr import CONFIG_DIR
from jointsr.training.build import build_model
from limits import OperatorTraffic  # this folder's (run as a script)


def group(name: str) -> str:
    if name.startswith("convolution"):
        return "convolutions (forward + backward)"
    if name.startswith("_foreach") or name in ("_fused_adam_", "lerp_", "addcdiv_", "addcmul_"):
        return "optimiser (Adam)"
    return "elementwise and other (thresholds, LeSITA, updates, loss, grads)"


def main(overrides: list[str], compiled: bool = False) -> None:
    with initialize_config_dir(version_base="1.3", config_dir=CONFIG_DIR):
        cfg = compose(config_name="bench", overrides=overrides)
    model = build_model(cfg.model)
    net = model.net.train()
    b, p, s = int(cfg.train.batch_size), int(cfg.train.patch), int(cfg.scale)
    hr = torch.rand(b, 1, p, p)
    lr, guide = torch.nn.functional.avg_pool2d(hr, s), torch.rand(b, int(cfg.data.guide_channels), p, p)
    if hasattr(net, "calibrate"):
        net.calibrate(lr, guide, hr)
    optimizer = model.optimizer_factory(params=net.parameters())

    def step():
        optimizer.zero_grad(set_to_none=True)
        model.loss_fn(net(lr, guide), hr).backward()
        optimizer.step()

    step()
    with FlopCounterMode(display=False) as counter:
        step()
    traffic = OperatorTraffic()
    with traffic:
        step()
    total = traffic.total
    groups = collections.Counter()
    for name, count in traffic.bytes.items():
        groups[group(name)] += count
    print(f"{cfg.model.name} x{s}, batch {b} x {p}x{p}: {counter.get_total_flops() / 1e9:.3f} GFLOP, "
          f"{total / 1e9:.3f} GB moved by {sum(traffic.calls.values())} operator calls")
    for name, count in groups.most_common():
        print(f"  {name:<66} {count / 1e9:7.3f} GB {100 * count / total:5.1f} %")
    print("  top operators:")
    for name, count in traffic.bytes.most_common(12):
        print(f"    {name:<28} {traffic.calls[name]:5d} calls {count / 1e9:7.3f} GB {100 * count / total:5.1f} %")
    # what autograd keeps for the backward pass
    saved = []
    with torch.autograd.graph.saved_tensors_hooks(lambda t: saved.append(t.numel() * t.element_size()) or t,
                                                  lambda t: t):
        loss = model.loss_fn(net(lr, guide), hr)
    print(f"  tensors saved for backward: {len(saved)}, {sum(saved) / 1e6:.1f} MB "
          f"(one (B, k, H, W) code map: {b * getattr(net, 'k', 0) * p * p * 4 / 1e6:.1f} MB)")
    del loss
    if compiled:
        compiled_traffic(model, net, lr, guide, hr, total)


def compiled_traffic(model, net, lr, guide, hr, eager_bytes: int) -> None:
    """How many fused kernels Inductor generates for the forward + backward of the step
    (each replaces a chain of the eager elementwise operators above), and the compile time."""
    import time

    import torch._inductor.metrics as metrics

    from jointsr.training.fast import CompiledNetwork

    metrics.reset()
    runner = CompiledNetwork(net)
    start = time.perf_counter()
    model.loss_fn(runner(lr, guide), hr).backward()
    print(f"compiled (Inductor): {metrics.generated_kernel_count} generated kernels "
          f"({metrics.generated_cpp_vec_kernel_count} vectorised loops) for the forward + backward; "
          f"compiled in {time.perf_counter() - start:.0f} s (this machine's load included)")
    if runner.failed:
        print(f"  compilation failed: {runner.failed}")


if __name__ == "__main__":
    arguments = [a for a in sys.argv[1:] if a != "--compiled"]
    main(arguments, compiled="--compiled" in sys.argv[1:])
