"""Seconds per synthetic patient at 1 mm on one core (goal: <= 2 s per patient).

Generates a few TCIA-like (DICOM, 1 mm in-plane, 2D 5 mm slices, distractor series) and
BraTS-like (NIfTI 240x240x155 at 1 mm) patients with the anatomy at 1 mm, after a warm-up that
loads the template (once per cohort in real runs). Last line: measured, goal, ratio.
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"

import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402

from glioma.synth.anatomy import load_anatomy  # noqa: E402
from glioma.synth.config import ScannerProfile, SynthConfig  # noqa: E402
from glioma.synth.generate import generate_cohort  # noqa: E402

GOAL_S = 2.0
N = int(sys.argv[1]) if len(sys.argv) > 1 else 4


def bench(layout: str) -> float:
    inst = ScannerProfile(name="BENCH", code="BE", in_plane_mm=(1.0, 1.0), slice_thickness_mm=(5.0, 5.0),
                          slice_gap_mm=(0.0, 0.5), p_3d=0.0, planes={"axial": 1.0})
    cfg = SynthConfig(cohort=f"bench_{layout}", layout=layout, n_patients=N, seed=1, institutes=(inst,),
                      unknown_fraction={k: 0.0 for k in ("idh", "codeletion", "grade", "age", "sex", "survival")})
    with tempfile.TemporaryDirectory() as tmp:
        start, cpu = time.perf_counter(), time.process_time()
        generate_cohort(cfg, tmp, progress=False)
        wall = (time.perf_counter() - start) / N
        cpu = (time.process_time() - cpu) / N
        print(f"{layout}: wall {wall:.2f} s/patient (shared machine), CPU {cpu:.2f} s/patient")
        return cpu


if __name__ == "__main__":
    t0 = time.perf_counter()
    load_anatomy(1.0)
    print(f"template load + tissue layers (once per cohort): {time.perf_counter() - t0:.2f} s")
    tcia = bench("tcia_dicom")
    print(f"tcia_dicom : {tcia:.2f} s/patient (goal {GOAL_S:.2f}), ratio {tcia / GOAL_S:.2f}")
    brats = bench("brats_nifti")
    print(f"brats_nifti: {brats:.2f} s/patient (goal {GOAL_S:.2f}), ratio {brats / GOAL_S:.2f}")
    worst = max(tcia, brats)
    print(f"CPU seconds per patient at 1 mm, one core: {worst:.2f} vs goal {GOAL_S:.2f}; ratio {worst / GOAL_S:.2f}")
