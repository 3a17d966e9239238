"""Benchmark 1: peak memory of one training step on a full 1 mm input (4 channels, the atlas
brain bounding box), paper network (32 filters, depth 5): bf16 autocast + activation
checkpointing against plain fp32. Goal: at most one third.

Each configuration runs in a fresh subprocess, after one warm-up step on a small input (code
paths loaded, optimiser state allocated). Measured above the memory held before the step:
CUDA: ``torch.cuda.max_memory_allocated``; CPU: the same quantity from PyTorch's allocator, i.e.
the peak of the bytes held by tensors and oneDNN work buffers during the step, read from the
profiler's allocation records (``profile_memory=True``). The process's peak resident memory is
printed too (it adds code pages, allocator caching and glibc arenas).

    python benchmarks/bench_train_memory.py                 # full 1 mm grid (slow on CPU: minutes)
    python benchmarks/bench_train_memory.py --scale 0.5     # each axis halved (quick check)
    python benchmarks/bench_train_memory.py --device cuda
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time

#: the box below as measured with nilearn's template (used where nilearn is missing: the GPU image)
ATLAS_BBOX_1MM: tuple[int, int, int] = (145, 181, 155)


def atlas_bbox_shape() -> tuple[int, int, int]:
    """Bounding box of the 1 mm MNI152 brain mask (the atlas of the preprocessing stage)."""
    import numpy as np

    try:
        from nilearn import datasets
    except ImportError:
        return ATLAS_BBOX_1MM

    mask = np.asarray(datasets.load_mni152_brain_mask(resolution=1).dataobj) > 0
    idx = np.argwhere(mask)
    return tuple(int(v) for v in idx.max(0) - idx.min(0) + 1)


def native_bf16_cpu() -> bool:
    """Whether the CPU computes bf16 natively (Linux flags; elsewhere assumed so)."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as handle:
            flags = next((line for line in handle if line.startswith("flags")), "")
    except OSError:
        return True
    return any(flag in flags.split() for flag in ("avx512_bf16", "amx_bf16"))


def one_step(mode: str, shape: list[int], device: str, threads: int, filters: int) -> dict:
    import torch

    from glioma.model.losses import MultiTaskLoss
    from glioma.model.network import NetworkConfig, PSNet

    torch.set_num_threads(threads)
    torch.manual_seed(0)
    bf16 = mode == "bf16_ckpt"
    net = PSNet(NetworkConfig(base_filters=filters, depth=5, norm="batch",
                              activation_checkpointing=bf16)).to(device).train()
    optimizer = torch.optim.AdamW(net.parameters(), lr=1e-5)
    loss_fn = MultiTaskLoss().to(device)

    def step(size: list[int]) -> tuple[torch.Tensor, float]:
        x = torch.randn(1, 4, *size, device=device)
        batch = {
            "idh": torch.tensor([1], device=device), "codeletion": torch.tensor([0], device=device),
            "grade": torch.tensor([1], device=device), "has_seg": torch.tensor([1], device=device),
            "seg": (torch.rand(1, *size, device=device) > 0.9).long(),
        }
        saved: dict[int, int] = {}

        def pack(t: torch.Tensor) -> torch.Tensor:
            storage = t.untyped_storage()
            saved[storage.data_ptr()] = storage.nbytes()
            return t

        with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
            with torch.autocast(device_type=device, dtype=torch.bfloat16, enabled=bf16):
                out = net(x.requires_grad_(bf16))
                loss, _ = loss_fn(out, batch)
        saved_mb = sum(saved.values()) / 2**20
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        return loss.detach(), saved_mb

    step([48, 48, 48])  # warm-up: kernels loaded, optimiser state allocated
    start = time.perf_counter()
    if device == "cuda":
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
        base = torch.cuda.memory_allocated() / 2**20
        loss, saved_mb = step(shape)
        torch.cuda.synchronize()
        peak = torch.cuda.max_memory_allocated() / 2**20 - base
    else:
        from torch.profiler import ProfilerActivity, profile

        with profile(activities=[ProfilerActivity.CPU], profile_memory=True) as prof:
            loss, saved_mb = step(shape)
        peak = _allocator_peak_mb(prof)
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # kB on Linux
    return {"mode": mode, "peak_mb": peak, "saved_mb": saved_mb, "rss_mb": rss,
            "seconds": time.perf_counter() - start, "loss": float(loss)}


def _allocator_peak_mb(prof) -> float:  # noqa: ANN001 - torch.profiler.profile
    """Peak of PyTorch's CPU allocator during the profiled step, above its level at the start."""
    from torch._C._profiler import _EventType

    def walk(nodes):  # noqa: ANN001, ANN202
        for node in nodes:
            yield node
            yield from walk(node.children)

    events = sorted(
        (n for n in walk(prof.profiler.kineto_results.experimental_event_tree())
         if n.tag == _EventType.Allocation),
        key=lambda n: n.start_time_ns,
    )
    if not events:
        return float("nan")
    first = events[0].extra_fields
    base = first.total_allocated - first.alloc_size
    return (max(e.extra_fields.total_allocated for e in events) - base) / 2**20


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--scale", type=float, default=1.0, help="fraction of each axis")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--filters", type=int, default=32)
    parser.add_argument("--child", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--shape", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        shape = json.loads(args.shape)
        print(json.dumps(one_step(args.child, shape, args.device, args.threads, args.filters)))
        return
    shape = [max(8, int(round(s * args.scale))) for s in atlas_bbox_shape()]
    if args.device == "cpu" and not native_bf16_cpu():
        print("warning: this CPU has no native bf16 (no avx512_bf16 / amx_bf16 flag): the bf16 step is "
              "emulated and can take far longer than the fp32 one at full scale; the memory figures stay "
              "valid, the time does not", file=sys.stderr, flush=True)
    # large blocks via mmap: freed memory leaves the process at once, so peak RSS tracks the
    # tensors alive at the peak rather than what glibc keeps cached
    env = {**os.environ, "OMP_NUM_THREADS": str(args.threads), "MALLOC_MMAP_THRESHOLD_": "65536"}
    results = {}
    for mode in ("fp32", "bf16_ckpt"):
        proc = subprocess.run(
            [sys.executable, __file__, "--child", mode, "--shape", json.dumps(shape),
             "--device", args.device, "--threads", str(args.threads), "--filters", str(args.filters)],
            capture_output=True, text=True, env=env, check=True,
        )
        results[mode] = json.loads(proc.stdout.strip().splitlines()[-1])
    fp32, bf16 = results["fp32"], results["bf16_ckpt"]
    print(f"input 4 x {shape[0]} x {shape[1]} x {shape[2]} (scale {args.scale}), "
          f"{args.filters} filters, depth 5, device {args.device}, {args.threads} thread(s)")
    print(f"{'':24s}{'fp32':>14s}{'bf16+ckpt':>14s}")
    print(f"{'step peak memory (MB)':24s}{fp32['peak_mb']:14.0f}{bf16['peak_mb']:14.0f}")
    print(f"{'process peak RSS (MB)':24s}{fp32['rss_mb']:14.0f}{bf16['rss_mb']:14.0f}")
    print(f"{'saved for backward (MB)':24s}{fp32['saved_mb']:14.0f}{bf16['saved_mb']:14.0f}")
    print(f"{'step time (s)':24s}{fp32['seconds']:14.1f}{bf16['seconds']:14.1f}")
    saved_ratio = bf16["saved_mb"] / fp32["saved_mb"]
    print(f"activations saved for backward: bf16+ckpt / fp32 = {saved_ratio:.3f}")
    ratio = bf16["peak_mb"] / fp32["peak_mb"]
    print(f"peak memory bf16+ckpt / fp32 = {ratio:.3f} (goal <= 0.333: "
          f"{'met' if ratio <= 1 / 3 else 'NOT met'})")


if __name__ == "__main__":
    main()
