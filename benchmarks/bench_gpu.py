"""Benchmark 3, for the lent GPU: training samples/s and peak GPU memory of the paper network
(32 base filters, depth 5) on the full 1 mm input, and inference time per patient.

One prepared script, so that a session that is lent the H200 spends its minutes measuring: it
needs only torch and numpy (the device image has both; nilearn is not there, so the 1 mm atlas
brain box falls back to its known size), runs every configuration in one process and writes one
JSON file. Configurations:

* training: ``fp32``, ``bf16`` (autocast) and ``bf16_ckpt`` (autocast + activation
  checkpointing), each a fresh network and AdamW, ``--warmup`` untimed steps, then ``--steps``
  timed steps of ``--batch`` patients; samples/s, peak memory above the memory held before the
  timed steps (``torch.cuda.max_memory_allocated``; not measured on CPU, see
  ``bench_train_memory.py``), and a CUDA out-of-memory error recorded as such;
* inference: eval mode, no gradients, fp32 and bf16 autocast, one patient per forward pass plus
  the softmax, the segmentation's argmax and its copy to the host, as ``glioma predict`` does.

    PYTHONPATH=src python3 benchmarks/bench_gpu.py --out $OUT/gpu.json          # on the device
    .venv/bin/python benchmarks/bench_gpu.py --device cpu --scale 0.2 --steps 1   # smoke test here

Results go to benchmarks/README.md with the date (the README says which were measured).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import math
import platform
import sys
import time
from pathlib import Path

MODES: tuple[str, ...] = ("fp32", "bf16", "bf16_ckpt")


def atlas_shape() -> tuple[int, int, int]:
    """The 1 mm atlas brain box (its known size where nilearn is missing)."""
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from bench_train_memory import atlas_bbox_shape

    return atlas_bbox_shape()


def _sync(device: str) -> None:
    import torch

    if device.startswith("cuda"):
        torch.cuda.synchronize()


def _batch(size: list[int], n: int, device: str) -> dict:
    import torch

    return {
        "image": torch.randn(n, 4, *size, device=device),
        "idh": torch.randint(0, 2, (n,), device=device),
        "codeletion": torch.randint(0, 2, (n,), device=device),
        "grade": torch.randint(0, 3, (n,), device=device),
        "has_seg": torch.ones(n, dtype=torch.long, device=device),
        "seg": (torch.rand(n, *size, device=device) > 0.9).long(),
    }


def train_case(mode: str, shape: list[int], device: str, batch: int, warmup: int, steps: int,
               filters: int) -> dict:
    """Timed training steps of one configuration (see the module docstring)."""
    import torch

    from glioma.model.losses import MultiTaskLoss
    from glioma.model.network import NetworkConfig, PSNet

    torch.manual_seed(0)
    bf16 = mode != "fp32"
    net = PSNet(NetworkConfig(base_filters=filters, depth=5, norm="batch",
                              activation_checkpointing=mode == "bf16_ckpt")).to(device).train()
    optimizer = torch.optim.AdamW(net.parameters(), lr=1e-5, weight_decay=1e-5)
    loss_fn = MultiTaskLoss().to(device)
    data = _batch(shape, batch, device)

    def step() -> float:
        with torch.autocast(device_type=device.split(":")[0], dtype=torch.bfloat16, enabled=bf16):
            loss, _ = loss_fn(net(data["image"]), data)
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        return float(loss.detach())

    row: dict = {"kind": "train", "mode": mode, "batch": batch, "steps": steps}
    try:
        for _ in range(warmup):
            step()
        _sync(device)
        cuda = device.startswith("cuda")
        if cuda:
            torch.cuda.reset_peak_memory_stats()
            base = torch.cuda.memory_allocated()
        start = time.perf_counter()
        losses = [step() for _ in range(steps)]
        _sync(device)
        seconds = time.perf_counter() - start
        row.update(seconds=seconds, samples_per_s=steps * batch / seconds,
                   peak_mb=(torch.cuda.max_memory_allocated() - base) / 2**20 if cuda else float("nan"),
                   final_loss=losses[-1], status="ok")
    except torch.cuda.OutOfMemoryError as error:
        row.update(status="out of memory", error=str(error).splitlines()[0])
    return row


def infer_case(mode: str, shape: list[int], device: str, warmup: int, repeats: int,
               filters: int) -> dict:
    """Seconds per patient of one forward pass with softmax and segmentation to the host."""
    import torch

    from glioma.model.network import NetworkConfig, PSNet, predict_probabilities

    torch.manual_seed(0)
    net = PSNet(NetworkConfig(base_filters=filters, depth=5, norm="batch")).to(device).eval()
    image = torch.randn(1, 4, *shape, device=device)

    def forward() -> None:
        with torch.no_grad(), torch.autocast(device_type=device.split(":")[0],
                                             dtype=torch.bfloat16, enabled=mode == "bf16"):
            probs = predict_probabilities(net(image))
        probs["seg"].argmax(1).to(torch.uint8).cpu()
        for task in ("idh", "codeletion", "grade"):
            probs[task].cpu()

    row: dict = {"kind": "infer", "mode": mode, "repeats": repeats}
    try:
        for _ in range(warmup):
            forward()
        _sync(device)
        start = time.perf_counter()
        for _ in range(repeats):
            forward()
        _sync(device)
        seconds = time.perf_counter() - start
        row.update(seconds=seconds, seconds_per_patient=seconds / repeats, status="ok")
    except torch.cuda.OutOfMemoryError as error:
        row.update(status="out of memory", error=str(error).splitlines()[0])
    return row


def _release(device: str) -> None:
    """Free what the last case left (its network, optimiser, cached blocks) before the next."""
    import gc

    import torch

    gc.collect()
    if device.startswith("cuda"):
        torch.cuda.empty_cache()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--scale", type=float, default=1.0, help="fraction of each axis of the 1 mm box")
    parser.add_argument("--filters", type=int, default=32)
    parser.add_argument("--batch", type=int, default=2)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--repeats", type=int, default=10, help="timed inference passes")
    parser.add_argument("--threads", type=int, default=0, help="CPU threads (0: torch's default)")
    parser.add_argument("--out", default="benchmarks/out/gpu.json")
    args = parser.parse_args()

    import torch

    if args.threads:
        torch.set_num_threads(args.threads)
    if args.device.startswith("cuda"):
        if not torch.cuda.is_available():
            parser.error("--device cuda, but torch sees no GPU (use --device cpu for a smoke test)")
        torch.backends.cudnn.benchmark = True
    shape = [max(16, int(round(s * args.scale))) for s in atlas_shape()]
    rows = []
    for mode in MODES:
        rows.append(train_case(mode, shape, args.device, args.batch, args.warmup, args.steps, args.filters))
        _release(args.device)
    for mode in ("fp32", "bf16"):
        rows.append(infer_case(mode, shape, args.device, args.warmup, args.repeats, args.filters))
        _release(args.device)
    result = {
        "date": dt.date.today().isoformat(), "device": args.device,
        "device_name": torch.cuda.get_device_name() if args.device.startswith("cuda") else (platform.processor() or platform.machine()),
        "torch": torch.__version__, "shape": shape, "scale": args.scale, "filters": args.filters,
        "rows": rows,
    }
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2))

    print(f"{result['date']}  {result['device_name']}  torch {result['torch']}  input 4 x "
          f"{' x '.join(map(str, shape))}, {args.filters} filters, depth 5")
    print(f"{'training':12s}{'samples/s':>12s}{'peak MB':>12s}{'status':>16s}")
    for row in rows[:3]:
        print(f"{row['mode']:12s}{row.get('samples_per_s', float('nan')):12.2f}"
              f"{row.get('peak_mb', float('nan')):12.0f}{row['status']:>16s}")
    ok = {r["mode"]: r for r in rows[:3] if r["status"] == "ok"}
    if "fp32" in ok and "bf16_ckpt" in ok and not math.isnan(ok["fp32"]["peak_mb"]):  # NaN on CPU
        ratio = ok["bf16_ckpt"]["peak_mb"] / ok["fp32"]["peak_mb"]
        print(f"peak memory bf16+ckpt / fp32 = {ratio:.3f} (goal <= 0.333: "
              f"{'met' if ratio <= 1 / 3 else 'NOT met'}); "
              f"speed bf16+ckpt / fp32 = {ok['bf16_ckpt']['samples_per_s'] / ok['fp32']['samples_per_s']:.2f}")
    print(f"{'inference':12s}{'s/patient':>12s}{'status':>28s}")
    for row in rows[3:]:
        print(f"{row['mode']:12s}{row.get('seconds_per_patient', float('nan')):12.3f}{row['status']:>28s}")
    print(f"written {out}")


if __name__ == "__main__":
    main()
