"""The full preprocessing of the real raw TCIA patient TCGA-FG-6692 (../shared/data), checked
against the BraTS-toolkit references made with HD-BET (see ../shared/data/README.md).

One preprocessing run (module fixture, 1 mm as the paper, HD-BET v1 default backend) serves all
assertions; about 1.5-3 min on 2 cores.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from glioma.preprocess.qc import dice
from glioma.schema import PREPROCESS_FILES, SEQUENCES

pytestmark = [pytest.mark.slow, pytest.mark.realdata]

PATIENT = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "tcga-lgg-sample" / "TCGA-FG-6692"


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    from glioma.preprocess.threads import set_threads

    set_threads(2)
    from glioma.preprocess.config import PreprocessConfig
    from glioma.preprocess.pipeline import preprocess_subject

    if not PATIENT.is_dir():
        pytest.fail(f"real patient data missing: {PATIENT}")
    out = tmp_path_factory.mktemp("TCGA-FG-6692")
    record = preprocess_subject(
        {s: PATIENT / f"{s}.nii.gz" for s in SEQUENCES}, out, subject="TCGA-FG-6692",
        config=PreprocessConfig(resolution_mm=1.0, skull_strip="hdbet"),
    )
    return out, record


@pytest.fixture(scope="module")
def reference_in_our_space(run):
    """HD-BET's reference brain mask and the reference tumour, brought into our atlas space by an
    affine registration of the reference (skull-stripped) T1c to our T1c."""
    import ants

    out, _ = run
    ours = ants.image_read(str(out / "t1c.nii.gz"))
    mask = ants.image_read(str(out / "brain_mask.nii.gz"))
    # registration needs positive intensities (centre-of-mass start): shift our z-scores inside the brain
    fixed = ours.new_image_like(((ours.numpy() - ours.numpy().min()) * (mask.numpy() > 0)).astype(np.float32))
    ref = ants.image_read(str(PATIENT / "reference" / "t1c_bet.nii.gz"))
    fit = ants.registration(fixed=fixed, moving=ref, type_of_transform="Affine", aff_metric="mattes")
    ref_mask = ref.new_image_like((ref.numpy() != 0).astype(np.float32))
    brain = ants.apply_transforms(fixed=ours, moving=ref_mask, transformlist=fit["fwdtransforms"], interpolator="linear")
    tumor = ants.image_read(str(PATIENT / "reference" / "tumor_fusion_mav.nii.gz"))
    tumor = tumor.new_image_like((tumor.numpy() > 0).astype(np.float32))
    tumor_ours = ants.apply_transforms(fixed=ours, moving=tumor, transformlist=fit["fwdtransforms"], interpolator="genericLabel")
    return brain.numpy() >= 0.5, tumor_ours


def test_included_and_outputs_follow_the_contract(run):
    import nibabel as nib

    out, record = run
    assert record["status"] == "ok", record["reason"]
    assert json.loads((out / "qc.json").read_text())["status"] == "ok"
    images = {k: nib.load(str(out / PREPROCESS_FILES[k])) for k in (*SEQUENCES, "brain_mask")}
    shapes = {img.shape for img in images.values()}
    assert len(shapes) == 1
    affines = [img.affine for img in images.values()]
    assert all(np.allclose(a, affines[0]) for a in affines)
    assert np.allclose(np.abs(np.diag(affines[0])[:3]), 1.0)  # 1 mm
    mask = np.asarray(images["brain_mask"].dataobj)
    assert mask.dtype == np.uint8 and set(np.unique(mask)) == {0, 1}
    for seq in SEQUENCES:
        data = np.asarray(images[seq].dataobj)
        assert data.dtype == np.float32
        assert abs(float(data[mask > 0].mean())) < 0.05 and abs(float(data[mask > 0].std()) - 1) < 0.05
        assert not np.any(data[mask == 0])
    assert (out / "qc.png").stat().st_size > 10_000
    assert (out / "transforms" / "transforms.json").is_file()


def test_brain_mask_agrees_with_hdbet_reference(run, reference_in_our_space):
    import ants

    out, _ = run
    ours = ants.image_read(str(out / "brain_mask.nii.gz")).numpy() > 0
    reference, _ = reference_in_our_space
    score = dice(ours, reference)
    assert score >= 0.96, f"brain mask Dice vs HD-BET reference {score:.3f}"


def test_sequences_aligned_with_each_other_and_the_atlas(run):
    _, record = run
    metrics = record["metrics"]
    for seq in ("t1", "t2", "flair"):
        # the patient moved ~8 degrees between T1 and T1c: co-registration must improve similarity
        assert metrics[f"coreg_mi_after_{seq}"] > metrics[f"coreg_mi_before_{seq}"] + 0.1, seq
    assert metrics["atlas_correlation"] >= 0.35
    assert metrics["atlas_mask_dice"] >= 0.94


def test_reference_tumor_inside_brain_and_maps_back_to_native(run, reference_in_our_space, tmp_path):
    import ants

    from glioma.preprocess.registration import map_to_native

    out, _ = run
    _, tumor = reference_in_our_space
    mask = ants.image_read(str(out / "brain_mask.nii.gz")).numpy() > 0
    inside = tumor.numpy() > 0
    assert inside.sum() > 10_000  # ~30 ml whole tumour
    assert (inside & mask).sum() / inside.sum() >= 0.98
    atlas_tumor = tmp_path / "tumor_atlas.nii.gz"
    ants.image_write(tumor.clone("unsigned char"), str(atlas_tumor))
    native = map_to_native(atlas_tumor, out, "t1c", tmp_path / "tumor_t1c.nii.gz")
    native_img = ants.image_read(str(native))
    raw_t1c = ants.image_read(str(PATIENT / "t1c.nii.gz"))
    assert native_img.shape == raw_t1c.shape
    assert np.allclose(native_img.origin, raw_t1c.origin, atol=1e-3)
    voxel_ml = np.prod(raw_t1c.spacing) / 1000
    native_ml = native_img.numpy().sum() * voxel_ml
    atlas_ml = inside.sum() / 1000
    # the atlas is larger than this head (affine scaling), so compare through the Jacobian
    assert 0.4 * atlas_ml < native_ml < 1.2 * atlas_ml, (native_ml, atlas_ml)
    # the tumour lies in the brain on the native grid as well (intensity there is brain-like)
    assert raw_t1c.numpy()[native_img.numpy() > 0].mean() > np.percentile(raw_t1c.numpy(), 50)
