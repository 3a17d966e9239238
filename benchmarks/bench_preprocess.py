"""Per-patient preprocessing on the real patient TCGA-FG-6692, side by side with the paper's chain.

ours:   glioma.preprocess (rigid co-registration, HD-BET v1 on the T1c, ANTsPy affine of the brain,
        one resampling, N4 in atlas space, z-score) at 1 mm, 2 threads.
anchor: the original pipeline's registration: elastix 5.0.1 (Debian) rigid then affine of each of the
        four whole-head scans to the MNI152 2009a atlas with ElastixModelZoo's Par0064 maps,
        transformix resampling, plus N4 (ANTsPy, shrink 4) of each in atlas space; 2 threads.
quality: HD-BET's reference brain (../shared/data/.../reference/t1c_bet.nii.gz, fitted onto the
        native T1c by a rigid fit) carried into atlas space by each method's T1c transform; Dice with the atlas
        brain mask (the registration's alignment with the atlas).

Needs elastix on PATH (`make bench-deps`). Run: .venv/bin/python benchmarks/bench_preprocess.py
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

THREADS = 2
os.environ["ITK_GLOBAL_DEFAULT_NUMBER_OF_THREADS"] = str(THREADS)
os.environ["OMP_NUM_THREADS"] = str(THREADS)

import numpy as np  # noqa: E402

from glioma.preprocess.threads import set_threads  # noqa: E402

set_threads(THREADS)

import ants  # noqa: E402

from glioma.preprocess.atlas import load_atlas  # noqa: E402
from glioma.preprocess.config import PreprocessConfig  # noqa: E402
from glioma.preprocess.pipeline import preprocess_subject  # noqa: E402
from glioma.preprocess.qc import dice  # noqa: E402
from glioma.preprocess.registration import TransformChain, to_atlas  # noqa: E402
from glioma.schema import SEQUENCES  # noqa: E402

HERE = Path(__file__).resolve().parent
PATIENT = HERE.parent.parent / "shared" / "data" / "tcga-lgg-sample" / "TCGA-FG-6692"
PARAMS = [HERE / "elastix" / "Par0064_rigid.txt", HERE / "elastix" / "Par0064_affine.txt"]


def reference_mask_native(t1c: ants.ANTsImage) -> ants.ANTsImage:
    """HD-BET's reference brain mask on the native T1c grid: rigid fit of the reference T1c onto
    the native T1c (1594 ml, as HD-BET's own native mask; affine fits of a whole head against a
    brain inflate it)."""
    ref = ants.image_read(str(PATIENT / "reference" / "t1c_bet.nii.gz"))
    ref_mask = ref.new_image_like((ref.numpy() != 0).astype(np.float32))
    fit = ants.registration(fixed=t1c, moving=ref, type_of_transform="Rigid", aff_metric="mattes")
    native = ants.apply_transforms(fixed=t1c, moving=ref_mask, transformlist=fit["fwdtransforms"],
                                   interpolator="linear")
    return native.new_image_like((native.numpy() >= 0.5).astype(np.float32))


def run_ours(workdir: Path) -> tuple[float, Path]:
    start = time.perf_counter()
    record = preprocess_subject({s: PATIENT / f"{s}.nii.gz" for s in SEQUENCES}, workdir / "ours",
                                subject="TCGA-FG-6692", config=PreprocessConfig(resolution_mm=1.0))
    seconds = time.perf_counter() - start
    if record["status"] != "ok":
        raise SystemExit(f"our preprocessing excluded the patient: {record['reason']}")
    return seconds, workdir / "ours"


def run_anchor(workdir: Path, atlas_path: Path, atlas_mask: ants.ANTsImage) -> tuple[float, Path]:
    start = time.perf_counter()
    for seq in SEQUENCES:
        out = workdir / "anchor" / seq
        out.mkdir(parents=True)
        cmd = ["elastix", "-f", str(atlas_path), "-m", str(PATIENT / f"{seq}.nii.gz"), "-out", str(out),
               "-threads", str(THREADS)]
        for p in PARAMS:
            cmd += ["-p", str(p)]
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
        subprocess.run(["transformix", "-in", str(PATIENT / f"{seq}.nii.gz"), "-tp",
                        str(out / "TransformParameters.1.txt"), "-out", str(out), "-threads", str(THREADS)],
                       check=True, stdout=subprocess.DEVNULL)
        warped = ants.image_read(str(out / "result.nii.gz"))
        warped = warped.new_image_like(np.clip(warped.numpy(), 0, None))
        corrected = ants.n4_bias_field_correction(warped, mask=atlas_mask, shrink_factor=4)
        ants.image_write(corrected, str(out / "n4.nii.gz"))
    return time.perf_counter() - start, workdir / "anchor"


def anchor_mask_to_atlas(mask_native: ants.ANTsImage, anchor_dir: Path, workdir: Path) -> ants.ANTsImage:
    tp = (anchor_dir / "t1c" / "TransformParameters.1.txt").read_text()
    label_tp = workdir / "label_tp.txt"
    rigid = anchor_dir / "t1c" / "TransformParameters.0.txt"
    tp = tp.replace("(FinalBSplineInterpolationOrder 3)", "(FinalBSplineInterpolationOrder 0)")
    tp = tp.replace(f'"{rigid.parent / "TransformParameters.0.txt"}"', f'"{rigid}"')
    label_tp.write_text(tp)
    src = workdir / "ref_mask_native.nii.gz"
    ants.image_write(mask_native, str(src))
    out = workdir / "label_out"
    out.mkdir()
    subprocess.run(["transformix", "-in", str(src), "-tp", str(label_tp), "-out", str(out)],
                   check=True, stdout=subprocess.DEVNULL)
    return ants.image_read(str(out / "result.nii.gz"))


def main() -> int:
    if shutil.which("elastix") is None or shutil.which("transformix") is None:
        sys.stderr.write("elastix/transformix not found: run `make bench-deps` (Debian package elastix)\n")
        return 1
    atlas = load_atlas(1.0, 2.0, 0.0)
    with tempfile.TemporaryDirectory(prefix="bench-preprocess-") as tmp:
        workdir = Path(tmp)
        atlas_path = workdir / "mni152_2009a.nii.gz"
        ants.image_write(atlas.t1, str(atlas_path))
        ours_s, ours_dir = run_ours(workdir)
        anchor_s, anchor_dir = run_anchor(workdir, atlas_path, atlas.mask)
        t1c = ants.image_read(str(PATIENT / "t1c.nii.gz"))
        ref_native = reference_mask_native(t1c)
        chain = TransformChain.load(ours_dir / "transforms")
        ours_ref = to_atlas(ref_native, "t1c", chain, atlas.t1, interpolator="linear").numpy() >= 0.5
        anchor_ref = anchor_mask_to_atlas(ref_native, anchor_dir, workdir).numpy() >= 0.5
        atlas_mask = atlas.mask.numpy() > 0
        ours_q, anchor_q = dice(ours_ref, atlas_mask), dice(anchor_ref, atlas_mask)
    print(f"{'':28s}{'ours':>10s}{'anchor':>10s}")
    print(f"{'wall time per patient (s)':28s}{ours_s:10.1f}{anchor_s:10.1f}")
    print(f"{'HD-BET brain vs atlas Dice':28s}{ours_q:10.3f}{anchor_q:10.3f}")
    goal = "met" if ours_s <= anchor_s / 3 and ours_q >= anchor_q else "NOT met"
    print(f"ours {ours_s:.1f} s vs anchor (elastix Par0064 + N4) {anchor_s:.1f} s: "
          f"ratio {ours_s / anchor_s:.2f} (goal <= 0.33 with Dice {ours_q:.3f} >= {anchor_q:.3f}: {goal})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
