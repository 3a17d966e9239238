"""Tiny atlas-space cohorts drawn straight from the synthetic generator's anatomy and tumours.

For the experiments' structural tests and benchmarks: the generator's template anatomy
(:func:`glioma.synth.anatomy.load_anatomy`) at a coarse resolution, one tumour per patient from
its latent appearance (:func:`glioma.synth.tumor.make_tumor`, labels from
:func:`glioma.synth.labels.sample_patient`), painted into the four contrasts, cropped to the brain
box, Gaussian noise added and z-scored within the brain: what preprocessing would give for a
perfectly registered scan, without running registration, skull stripping or DICOM. The known
structure (where the enhancing rim is) is written next to it, outside the preprocessing folder.

Layout (the preprocessing contract of :data:`glioma.schema.PREPROCESS_FILES`)::

    <root>/preprocess/<cohort>/<subject>/{t1,t1c,t2,flair,brain_mask,seg}.nii.gz + qc.json
    <root>/truth/<cohort>/<subject>/enhancing.nii.gz   float32, enhancing-tumour weight (0..1;
                                                       a thin rim peaks below 0.5 at 4 mm)
    <root>/truth/<cohort>/labels.tsv                   subject, labels, latents
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import nibabel as nib
import numpy as np
import pandas as pd
from tqdm import tqdm

from glioma.data.splits import SPLIT_COLUMNS
from glioma.io.atomic import atomic_path, write_table, write_text
from glioma.schema import PREPROCESS_FILES, SEQUENCES

log = logging.getLogger(__name__)

APPEARANCES: tuple[str, ...] = ("generator", "enhancement_grade")


def _save(volume: np.ndarray, affine: np.ndarray, path: Path) -> None:
    with atomic_path(path) as tmp:
        nib.save(nib.Nifti1Image(volume, affine), str(tmp))


def brain_box(brain: np.ndarray, margin: int = 1) -> tuple[slice, slice, slice]:
    idx = np.argwhere(brain > 0.5)
    lo = np.maximum(idx.min(0) - margin, 0)
    hi = np.minimum(idx.max(0) + margin + 1, brain.shape)
    return tuple(slice(int(a), int(b)) for a, b in zip(lo, hi, strict=True))  # type: ignore[return-value]


def make_atlas_cohort(
    root: str | Path,
    cohort: str,
    n: int,
    *,
    resolution_mm: float = 4.0,
    seed: int = 0,
    noise: float = 0.03,
    fold: str = "train",
    first_id: int = 1,
    prior: tuple[float, ...] | None = None,
    appearance: str = "generator",
    progress: bool = False,
) -> pd.DataFrame:
    """Write ``n`` patients (see the module docstring); returns their splits-table rows
    (``fold`` for all, labels all known, IDs numeric strings). ``prior``: the eight class
    frequencies of :data:`glioma.synth.labels.CLASSES` (default: the generator's, paper-like).

    ``appearance``: ``generator`` draws the latents as the generator does; ``enhancement_grade``
    is a controlled version of the generator's structure for the structural tests: a tumour
    enhances exactly when it is grade IV; no tumour is necrotic, so enhancement is the
    generator's patchy pattern (a thin rim around necrosis is lost to partial volume at 4-5 mm:
    it would be no brighter than white matter on T1c); tumour volume and edema extent are drawn
    the same whatever the class. Enhancement is then the only image feature carrying grade (the
    other latents stay as the generator draws them)."""
    if appearance not in APPEARANCES:
        raise ValueError(f"appearance must be one of {APPEARANCES}, got {appearance!r}")
    from glioma.synth.anatomy import load_anatomy
    from glioma.synth.labels import DEFAULT_CLASS_PRIOR, sample_patient
    from glioma.synth.tumor import make_tumor

    root = Path(root)
    anat = load_anatomy(float(resolution_mm))
    box = brain_box(anat.brain)
    affine = anat.affine.copy()
    affine[:3, 3] = anat.affine[:3, :3] @ np.array([s.start for s in box]) + anat.affine[:3, 3]
    brain = (anat.brain[box] > 0.5)
    rng = np.random.default_rng(seed)
    rows, truth = [], []
    for i in tqdm(range(n), desc=f"synthetic {cohort}", disable=not progress):
        subject = f"{first_id + i:04d}"
        labels = sample_patient(rng, prior or DEFAULT_CLASS_PRIOR)
        latents = dict(labels.latents)
        if appearance == "enhancement_grade":
            latents.update(necrosis=0.0, enhancing=float(labels.grade == 4),
                           log_volume=float(rng.normal(2.9, 0.5)), log_edema=float(rng.normal(-0.9, 0.4)))
        tumor = make_tumor(anat, latents, rng)
        folder = root / "preprocess" / cohort / subject
        full_whole = np.zeros(anat.shape, dtype=np.float32)
        full_enh = np.zeros(anat.shape, dtype=np.float32)
        full_whole[tumor.slices] = tumor.whole
        full_enh[tumor.slices] = tumor.weights["enh"]
        mask = brain | (full_whole[box] > 0.5)
        with tumor.painted(anat):
            for seq in SEQUENCES:
                img = anat.contrasts[seq][box] + rng.normal(0.0, noise, brain.shape)
                inside = img[mask]
                z = np.where(mask, (img - inside.mean()) / (inside.std() + 1e-6), 0.0)
                _save(z.astype(np.float32), affine, folder / PREPROCESS_FILES[seq])
        _save(mask.astype(np.uint8), affine, folder / PREPROCESS_FILES["brain_mask"])
        _save((full_whole[box] > 0.5).astype(np.uint8), affine, folder / PREPROCESS_FILES["seg"])
        _save(full_enh[box].astype(np.float32), affine,
              root / "truth" / cohort / subject / "enhancing.nii.gz")
        write_text(folder / PREPROCESS_FILES["qc"],
                   json.dumps({"subject": subject, "status": "ok", "reason": ""}))
        rows.append({"cohort": cohort, "subject": subject, "role": "test" if fold == "test" else "train",
                     "fold": fold, "idh": str(labels.idh), "codeletion": str(labels.codeletion),
                     "grade": str(labels.grade), "segmentation": "manual",
                     "institute": f"{cohort}-inst"})
        truth.append({"subject": subject, "idh": labels.idh, "codeletion": labels.codeletion,
                      "grade": labels.grade,
                      **{f"latent_{k}": v for k, v in latents.items()}})
    write_table(root / "truth" / cohort / "labels.tsv", pd.DataFrame(truth))
    log.info("%s: %d synthetic atlas-space patients, grid %s at %.1f mm", cohort, n,
             brain.shape, resolution_mm)
    return pd.DataFrame(rows, columns=list(SPLIT_COLUMNS))
