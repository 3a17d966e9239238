"""How good are the synthetic cohorts' reference segmentations, and the model's, against the
generator's exact tumour?

For every preprocessed patient of a synthetic cohort with a reference segmentation, the tumour is
rebuilt from the generator's seeds (:func:`glioma.synth.generate.patient_geometry`: the same
pose, elastic warp, mass effect and tumour as its images), sampled at 1 mm in the patient's
native world and carried into atlas space through the patient's own saved transforms, exactly as
preprocessing carries the reference. Prints, per cohort and institute, the mean Dice of the
atlas-space reference with the exact tumour (what training learns from and evaluation scores
against) and, where ``--predictions`` holds a run's ``infer/`` folder, the predicted tumour's Dice
with the reference and with the exact tumour. Needs a finished preprocessing (``make demo`` or
``snakemake results/cohort/splits.tsv``).

    python benchmarks/bench_reference_truth.py                                  # demo cohorts
    python benchmarks/bench_reference_truth.py --predictions results/infer --cohorts demo_test
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
LPS = np.array([-1.0, -1.0, 1.0])  # LPS <-> RAS


def exact_tumour(cfg, plan, anat, preprocess_dir: Path, reference):  # noqa: ANN001
    """The generator's tumour of ``plan`` on the atlas grid of ``reference`` (bool). The native
    world is the scanner's, shared by all series: any grid in it will do, here 1 mm around the
    tumour."""
    import ants
    from scipy import ndimage as ndi

    from glioma.preprocess.registration import TransformChain, to_atlas
    from glioma.synth.generate import patient_geometry

    warp, _, tumor = patient_geometry(cfg, plan, anat)
    full = np.zeros(anat.shape, dtype=np.float32)
    full[tumor.slices] = tumor.whole
    # the tumour's template box, as world (LPS) points through the warp's affine part, + margin
    corners = np.array([[a, b, c] for a in (0, 1) for b in (0, 1) for c in (0, 1)], dtype=float)
    box = np.array([s.start for s in tumor.slices]) + corners * np.array([s.stop - s.start for s in tumor.slices])
    to_world = np.linalg.inv(warp.world_to_template)
    world = (box @ to_world[:3, :3].T + to_world[:3, 3]) * LPS
    lo, hi = world.min(0) - 20.0, world.max(0) + 20.0
    axes = [np.arange(lo[k], hi[k] + 1.0, 1.0) for k in range(3)]
    points = np.stack(np.meshgrid(*axes, indexing="ij"), -1).reshape(-1, 3)
    values = ndi.map_coordinates(full, warp.exact(points * LPS).T, order=1, mode="constant", cval=0.0)
    image = ants.from_numpy(values.reshape([len(a) for a in axes]).astype(np.float32), origin=tuple(lo),
                            spacing=(1.0, 1.0, 1.0), direction=np.eye(3))
    chain = TransformChain.load(preprocess_dir / "transforms")
    return to_atlas(image, "t1c", chain, reference, interpolator="linear").numpy() > 0.5


def main() -> None:
    import ants
    import pandas as pd
    import yaml
    from tqdm import tqdm

    from glioma.evaluate.segmentation import dice
    from glioma.synth.anatomy import load_anatomy
    from glioma.synth.config import from_cohort
    from glioma.synth.generate import plan_patient

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--config", default=str(REPO / "config" / "config.yaml"))
    parser.add_argument("--results", default=str(REPO / "results"))
    parser.add_argument("--cohorts", default=None, help="comma-separated (default: every synthetic cohort)")
    parser.add_argument("--predictions", default=None, help="an infer/ folder: <cohort>/<subject>/seg.nii.gz")
    parser.add_argument("--out", default=None, help="per-patient TSV (default: <results>/benchmarks/reference_truth.tsv)")
    args = parser.parse_args()
    config = yaml.safe_load(Path(args.config).read_text())
    results = Path(args.results)
    wanted = set(args.cohorts.split(",")) if args.cohorts else None
    rows, anatomies = [], {}
    for entry in config["cohorts"]:
        cohort = yaml.safe_load((REPO / entry["file"]).read_text())
        if "synthetic" not in cohort or (wanted and cohort["name"] not in wanted):
            continue
        cfg = from_cohort(cohort, int(config.get("seed", 42)))
        anat = anatomies.setdefault(cfg.resolution_mm, load_anatomy(cfg.resolution_mm))
        plans = [plan_patient(cfg, i) for i in range(cfg.n_patients)]
        done = [p for p in plans if (results / "preprocess" / cfg.cohort / p.subject / "seg.nii.gz").exists()]
        for plan in tqdm(done, desc=cfg.cohort, unit="patient"):
            pre = results / "preprocess" / cfg.cohort / plan.subject
            reference = ants.image_read(str(pre / "seg.nii.gz"))
            truth = exact_tumour(cfg, plan, anat, pre, reference)
            ref = reference.numpy() > 0
            row = {"cohort": cfg.cohort, "institute": plan.institute.name, "subject": plan.subject,
                   "segmentation": plan.segmentation, "seg_reference": plan.seg_reference,
                   "tumour_ml": round(float(truth.sum()) * float(np.prod(reference.spacing)) / 1000.0, 1),
                   "dice_reference_exact": round(dice(ref, truth), 4)}
            if args.predictions:
                pred_file = Path(args.predictions) / cfg.cohort / plan.subject / "seg.nii.gz"
                if pred_file.exists():
                    pred = ants.image_read(str(pred_file)).numpy() > 0
                    row["dice_predicted_reference"] = round(dice(pred, ref), 4)
                    row["dice_predicted_exact"] = round(dice(pred, truth), 4)
            rows.append(row)
    if not rows:  # nothing to measure is not a failure of `make bench`
        print(f"nothing measured: no preprocessed synthetic patient with a segmentation under {results}/preprocess"
              " (run `snakemake --cores 2 results/cohort/splits.tsv` first)")
        return
    frame = pd.DataFrame(rows)
    out = Path(args.out) if args.out else results / "benchmarks" / "reference_truth.tsv"
    out.parent.mkdir(parents=True, exist_ok=True)
    frame.to_csv(out, sep="\t", index=False)
    metrics = [c for c in frame.columns if c.startswith("dice_")]
    summary = frame.groupby(["cohort", "institute", "segmentation"])[metrics + ["tumour_ml"]].mean().round(3)
    summary.insert(0, "n", frame.groupby(["cohort", "institute", "segmentation"]).size())
    print(summary.to_string())
    print("\nall:", frame[metrics].mean().round(3).to_dict(), f"({len(frame)} patients; per patient: {out})")


if __name__ == "__main__":
    main()
