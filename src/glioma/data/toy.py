"""Tiny toy cohorts in the preprocessing output layout, for tests and benchmarks only.

Each patient gets four z-score-like volumes with a spherical "tumour" whose intensity in each
channel depends on its labels (FLAIR: IDH, T2: 1p/19q, T1c: grade), a brain mask, a segmentation
(unless told otherwise), ``qc.json`` and a matching subject sheet. Not the synthetic benchmark
(that is ``glioma synth``): only a stand-in with exactly the same folder contract.
"""

from __future__ import annotations

import json
from pathlib import Path

import nibabel as nib
import numpy as np
import pandas as pd

from glioma.io.atomic import atomic_path, write_table, write_text
from glioma.schema import PREPROCESS_FILES, SEQUENCES, SUBJECT_SHEET_COLUMNS


def _save(volume: np.ndarray, affine: np.ndarray, path: Path) -> None:
    with atomic_path(path) as tmp:
        nib.save(nib.Nifti1Image(volume, affine), str(tmp))


def make_toy_cohort(
    root: str | Path,
    cohort: str,
    n: int,
    *,
    shape: tuple[int, int, int] = (20, 24, 20),
    spacing: float = 3.0,
    seed: int = 0,
    unknown_fraction: float = 0.0,
    seg_fraction: float = 1.0,
    first_id: int = 1,
) -> tuple[Path, Path]:
    """Write ``root/preprocess/<cohort>/<subject>/`` and ``root/ingest/<cohort>/subjects.tsv``.

    Subject IDs are numeric strings (``0001`` ...), on purpose. Returns (preprocess root, sheet).
    """
    root = Path(root)
    rng = np.random.default_rng(seed)
    affine = np.diag([spacing, spacing, spacing, 1.0])
    grid = np.stack(np.meshgrid(*[np.arange(s) for s in shape], indexing="ij"))
    rows = []
    for i in range(n):
        subject = f"{first_id + i:04d}"
        idh = int(rng.integers(0, 2))
        codel = int(rng.integers(0, 2)) if idh else 0
        grade = int(rng.choice([2, 3])) if idh else int(rng.choice([3, 4, 4]))
        centre = np.array([rng.uniform(0.35, 0.65) * s for s in shape])
        radius = rng.uniform(0.15, 0.25) * min(shape)
        tumour = (np.sqrt(((grid - centre[:, None, None, None]) ** 2).sum(0)) < radius)
        brain = np.ones(shape, dtype=np.uint8)
        folder = root / "preprocess" / cohort / subject
        signal = {"t1": -0.5, "t1c": 0.7 * (grade - 2), "t2": 1.0 + 1.2 * codel,
                  "flair": 1.5 - 1.2 * idh}
        for sequence in SEQUENCES:
            volume = rng.normal(0, 0.3, shape).astype(np.float32)
            volume[tumour] += signal[sequence]
            _save(volume, affine, folder / PREPROCESS_FILES[sequence])
        _save(brain, affine, folder / PREPROCESS_FILES["brain_mask"])
        has_seg = rng.uniform() < seg_fraction
        if has_seg:
            _save(tumour.astype(np.uint8), affine, folder / PREPROCESS_FILES["seg"])
        write_text(folder / PREPROCESS_FILES["qc"],
                   json.dumps({"subject": subject, "status": "ok", "reason": ""}))
        labels = {"idh": str(idh), "codeletion": str(codel), "grade": str(grade)}
        for key in labels:
            if rng.uniform() < unknown_fraction:
                labels[key] = ""
        row = {c: "" for c in SUBJECT_SHEET_COLUMNS}
        row.update(cohort=cohort, subject=subject, included="1", **labels,
                   segmentation="manual" if has_seg else "none", institute=f"{cohort}-inst")
        rows.append(row)
    sheet = root / "ingest" / cohort / "subjects.tsv"
    write_table(sheet, pd.DataFrame(rows, columns=list(SUBJECT_SHEET_COLUMNS)))
    return root / "preprocess", sheet
