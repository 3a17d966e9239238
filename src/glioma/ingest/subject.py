"""Ingest one patient: pick and convert its four scans and segmentation, or record why not.

Writes into ``out_dir``: ``{t1,t1c,t2,flair}.nii.gz`` (native space, as converted), ``seg.nii.gz``
(uint8 0/1 whole tumour on the grid of the sequence named by ``seg_reference``) when the patient
has a segmentation, and LAST ``record.json``. An excluded patient gets only ``record.json``.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from pathlib import Path
from typing import Any

import nibabel as nib
import numpy as np

from glioma import __version__
from glioma.errors import InputError
from glioma.ingest.cohort import Cohort
from glioma.ingest.sequences import classify_series, is_postoperative_study, rank_series
from glioma.io import atomic
from glioma.io.dicom import SeriesInfo, check_pixel_data, convert_series, read_series
from glioma.io.nifti import Grid, grids_match, load_nifti, save_nifti, whole_tumour
from glioma.schema import SEQUENCES

log = logging.getLogger(__name__)

#: order in which sequences are tried as the segmentation's reference grid
SEG_REFERENCE_ORDER: tuple[str, ...] = ("t1c", "flair", "t2", "t1")
NIFTI_NAMES: dict[str, dict[str, tuple[str, ...]]] = {
    "brats_nifti": {"t1": ("{s}_t1",), "t1c": ("{s}_t1ce", "{s}_t1gd", "{s}_t1c"), "t2": ("{s}_t2",),
                    "flair": ("{s}_flair",)},
    "nifti_folder": {"t1": ("t1",), "t1c": ("t1c", "t1ce", "t1gd"), "t2": ("t2",), "flair": ("flair",)},
}


class Excluded(Exception):
    """The patient is excluded: ``reason`` is a category of glioma.ingest.REASONS."""

    def __init__(self, reason: str, detail: str):
        super().__init__(detail)
        self.reason = reason
        self.detail = detail


def _series_summary(info: SeriesInfo, sequence: str, why: str) -> dict[str, Any]:
    sx, sy = info.axial_spacing()
    return {
        "series_description": info.series_description,
        "series_number": info.series_number,
        "acquisition_type": info.acquisition_type or "",
        "plane": info.plane(),
        "n_slices": info.n_files,
        "axial_spacing_mm": [round(sx, 4), round(sy, 4)],
        "slice_spacing_mm": round(info.slice_spacing(), 4),
        "identified_by": why,
        "sequence": sequence,
    }


def _choose_study(series: list[SeriesInfo], cohort: Cohort, subject: str
                  ) -> tuple[dict[str, list[SeriesInfo]], dict[str, str]]:
    """Candidates per sequence of the study to use, and why each series was identified."""
    classified: dict[str, tuple[str | None, str]] = {s.series_uid: classify_series(s) for s in series}
    studies: dict[str, list[SeriesInfo]] = defaultdict(list)
    for info in series:
        studies[info.study_uid].append(info)
    order = sorted(studies, key=lambda uid: (studies[uid][0].study_date, uid))
    if cohort.preoperative_only:
        pre = [uid for uid in order if not is_postoperative_study(studies[uid][0].study_description)]
        if not pre:
            raise Excluded("postoperative", f"patient {subject!r}: all {len(order)} imaging studies are "
                           "postoperative (StudyDescription)")
        order = pre
    best: tuple[int, dict[str, list[SeriesInfo]]] | None = None
    for uid in order:
        per_sequence: dict[str, list[SeriesInfo]] = defaultdict(list)
        for info in studies[uid]:
            sequence = classified[info.series_uid][0]
            if sequence is not None:
                per_sequence[sequence].append(info)
        present = [s for s in cohort.require_sequences if per_sequence.get(s)]
        if len(present) == len(cohort.require_sequences):
            return dict(per_sequence), {uid: why for uid, (_, why) in classified.items()}
        if best is None or len(present) > best[0]:
            best = (len(present), dict(per_sequence))
    found = sorted(best[1]) if best else []
    missing = [s for s in cohort.require_sequences if s not in found]
    raise Excluded("missing_sequence", f"patient {subject!r}: no {'preoperative ' if cohort.preoperative_only else ''}"
                   f"study has all of {list(cohort.require_sequences)}; best study lacks {missing}")


def _place_segmentation(seg: nib.Nifti1Image, reference: nib.Nifti1Image, labels: tuple[int, ...]) -> nib.Nifti1Image:
    """Whole-tumour mask in the reference image's voxel order and affine."""
    mask = whole_tumour(seg, list(labels) or None)
    if Grid.of(mask).shape == Grid.of(reference).shape and np.allclose(mask.affine, reference.affine, atol=0.05):
        out = nib.Nifti1Image(np.asanyarray(mask.dataobj), reference.affine)
    else:
        transform = nib.orientations.ornt_transform(
            nib.orientations.io_orientation(mask.affine), nib.orientations.io_orientation(reference.affine)
        )
        data = nib.orientations.apply_orientation(np.asanyarray(mask.dataobj), transform)
        out = nib.Nifti1Image(np.ascontiguousarray(data), reference.affine)
    out.set_data_dtype(np.uint8)
    return out


def _load_segmentation(cohort: Cohort, subject: str, folder: Path) -> tuple[nib.Nifti1Image | None, Path | None]:
    path = cohort.segmentation_file(subject)
    if path is None and cohort.layout == "brats_nifti":
        path = folder / f"{subject}_seg.nii.gz"
    if path is not None and cohort.layout in ("brats_nifti", "nifti_folder") and not path.exists():
        # the default pattern assumes <raw_root>/<subject>; BraTS 2019 nests HGG/LGG folders
        for name in (f"{subject}_seg.nii.gz", f"{subject}_seg.nii", "seg.nii.gz", "seg.nii"):
            if (folder / name).exists():
                path = folder / name
                break
    if path is None or not path.exists():
        return None, None
    return load_nifti(path, subject=subject), path


def _ingest_dicom(cohort: Cohort, subject: str, folder: Path, out_dir: Path, record: dict[str, Any]) -> None:
    series = read_series(folder, subject=subject)
    if not series:
        raise Excluded("no_images", f"patient {subject!r}: no DICOM series under {str(folder)!r}")
    candidates, why = _choose_study(series, cohort, subject)
    record["candidates"] = {s: [c.series_description for c in rank_series(candidates.get(s, []))] for s in SEQUENCES}
    seg, seg_path = _load_segmentation(cohort, subject, folder)
    chosen: dict[str, SeriesInfo] = {}
    images: dict[str, nib.Nifti1Image] = {}
    selected_by: dict[str, str] = {}
    sequences = [s for s in SEQUENCES if candidates.get(s)]

    def convert(info: SeriesInfo, target: Path) -> nib.Nifti1Image:
        check_pixel_data(info.files, subject=subject)
        convert_series(info.files, target, subject=subject)
        return load_nifti(target, subject=subject)

    for sequence in sequences:
        ranked = rank_series(candidates[sequence])
        chosen[sequence] = ranked[0]
        images[sequence] = convert(ranked[0], out_dir / f"{sequence}.nii.gz")
        selected_by[sequence] = "3D first, then highest axial resolution" if len(ranked) > 1 else "only candidate"
    seg_reference = ""
    if seg is not None:
        seg_grid = Grid.of(seg)
        order = [s for s in SEG_REFERENCE_ORDER if s in images]
        seg_reference = next((s for s in order if grids_match(seg_grid, Grid.of(images[s]))), "")
        # drawn on a series other than the default pick: try the other candidates
        for sequence in order if not seg_reference else []:
            for info in rank_series(candidates[sequence])[1:]:
                scratch = out_dir / f".candidate-{sequence}.nii.gz"
                try:
                    image = convert(info, scratch)
                    if grids_match(seg_grid, Grid.of(image)):
                        scratch.replace(out_dir / f"{sequence}.nii.gz")
                        chosen[sequence], images[sequence], seg_reference = info, image, sequence
                        break
                finally:
                    scratch.unlink(missing_ok=True)
            if seg_reference:
                break
        if not seg_reference:
            raise Excluded("segmentation_mismatch", f"patient {subject!r}, file {str(seg_path)!r}: the "
                           f"segmentation grid {seg_grid.shape} matches no candidate series")
        selected_by[seg_reference] = "segmentation grid"
    summaries = {s: _series_summary(chosen[s], s, why[chosen[s].series_uid]) for s in chosen}
    for sequence, text in selected_by.items():
        summaries[sequence]["selected_by"] = text
    _finish(cohort, subject, out_dir, record, images, seg, seg_reference, summaries)


def _ingest_nifti(cohort: Cohort, subject: str, folder: Path, out_dir: Path, record: dict[str, Any]) -> None:
    images: dict[str, nib.Nifti1Image] = {}
    names = NIFTI_NAMES[cohort.layout]
    files = {p.name.lower(): p for p in folder.iterdir() if p.is_file()}  # T1GD.nii.gz == t1gd.nii.gz
    for sequence in SEQUENCES:
        for pattern in names[sequence]:
            stem = pattern.format(s=subject).lower()
            path = files.get(f"{stem}.nii.gz") or files.get(f"{stem}.nii")
            if path is not None:
                images[sequence] = load_nifti(path, subject=subject)
                break
    missing = [s for s in cohort.require_sequences if s not in images]
    if missing:
        raise Excluded("missing_sequence", f"patient {subject!r}: no file for {missing} in {str(folder)!r}")
    seg, seg_path = _load_segmentation(cohort, subject, folder)
    seg_reference = ""
    if seg is not None:
        seg_reference = next((s for s in SEG_REFERENCE_ORDER if s in images and
                              grids_match(Grid.of(seg), Grid.of(images[s]))), "")
        if not seg_reference:
            raise Excluded("segmentation_mismatch", f"patient {subject!r}, file {str(seg_path)!r}: the "
                           f"segmentation grid {Grid.of(seg).shape} matches no image of the patient")
    for sequence, image in images.items():
        save_nifti(image, out_dir / f"{sequence}.nii.gz")
    _finish(cohort, subject, out_dir, record, images, seg, seg_reference,
            {s: {"sequence": s, "selected_by": "only candidate", "source_file": f"{s}"} for s in images})


def _finish(cohort: Cohort, subject: str, out_dir: Path, record: dict[str, Any], images: dict[str, nib.Nifti1Image],
            seg: nib.Nifti1Image | None, seg_reference: str, summaries: dict[str, dict[str, Any]]) -> None:
    for sequence, image in images.items():
        summaries[sequence]["grid"] = Grid.of(image).as_dict()
        summaries[sequence]["file"] = f"{sequence}.nii.gz"
    record["sequences"] = summaries
    if seg is not None and seg_reference:
        placed = _place_segmentation(seg, images[seg_reference], cohort.whole_tumor_labels)
        if not np.asanyarray(placed.dataobj).any():
            log.warning("patient %r: the segmentation is empty", subject)
        save_nifti(placed, out_dir / "seg.nii.gz")
        record["segmentation"] = cohort.segmentation_source if cohort.segmentation_source != "none" else "manual"
        record["seg_reference"] = seg_reference
        record["seg"] = "seg.nii.gz"
        record["seg_voxels"] = int(np.asanyarray(placed.dataobj).sum())


def ingest_subject(cohort: Cohort, subject: str, location: str, out_dir: str | Path) -> dict[str, Any]:
    """Ingest one patient into ``out_dir``; always writes ``record.json`` (last) and returns it.

    Bad input (corrupt files, missing sequences, a misplaced segmentation, only post-operative
    studies) excludes the patient: the record says ``status: excluded`` with ``reason`` and
    ``detail``; no image file is left in ``out_dir``.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    folder = cohort.raw_root / location
    record: dict[str, Any] = {
        "cohort": cohort.name, "subject": subject, "layout": cohort.layout, "status": "included",
        "reason": "", "detail": "", "sequences": {}, "segmentation": "none", "seg_reference": "", "seg": "",
        "glioma_version": __version__,
    }
    try:
        if not folder.is_dir():
            raise Excluded("no_images", f"patient {subject!r}: folder {str(folder)!r} does not exist")
        if cohort.layout == "tcia_dicom":
            _ingest_dicom(cohort, subject, folder, out_dir, record)
        else:
            _ingest_nifti(cohort, subject, folder, out_dir, record)
    except Excluded as err:
        record.update(status="excluded", reason=err.reason, detail=err.detail)
    except InputError as err:
        record.update(status="excluded", reason="corrupt_file", detail=str(err))
    if record["status"] == "excluded":
        log.warning("%s: excluded: %s (%s)", cohort.name, record["detail"], record["reason"])
        for name in (*(f"{s}.nii.gz" for s in SEQUENCES), "seg.nii.gz"):
            (out_dir / name).unlink(missing_ok=True)
        record.update(sequences={}, segmentation="none", seg_reference="", seg="")
    else:
        missing = [s for s in SEQUENCES if s not in record["sequences"]]
        if missing:
            log.info("patient %r: optional sequences %s absent", subject, missing)
    atomic.write_json(out_dir / "record.json", record)
    return record
