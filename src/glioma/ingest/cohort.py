"""Cohort files (config/cohorts/<name>.yaml): load, validate, resolve into a typed object."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from glioma.errors import ConfigError
from glioma.ids import validate_id
from glioma.io.tables import LabelTableSpec
from glioma.schema import SEQUENCES

log = logging.getLogger(__name__)

SCHEMA_PATH = Path(__file__).resolve().parents[3] / "workflow" / "schemas" / "cohort.schema.yaml"


@dataclass(frozen=True)
class Cohort:
    name: str
    layout: str
    raw_root: Path
    file: Path
    institute: str = ""
    patient_id_pattern: str | None = None
    label_tables: tuple[LabelTableSpec, ...] = ()
    segmentation_source: str = "none"
    segmentation_path: str | None = None
    whole_tumor_labels: tuple[int, ...] = ()
    require_sequences: tuple[str, ...] = SEQUENCES
    preoperative_only: bool = True
    extra: dict[str, Any] = field(default_factory=dict)

    def segmentation_file(self, subject: str) -> Path | None:
        """Where this subject's segmentation would be (None if the cohort has none)."""
        if self.segmentation_source == "none" or self.segmentation_path is None:
            return None
        return Path(self.segmentation_path.format(raw_root=str(self.raw_root), subject=subject))


def validate_cohort_dict(data: Any, source: str) -> None:
    """Validate against workflow/schemas/cohort.schema.yaml; errors name the file and key."""
    if not isinstance(data, dict):
        raise ConfigError(f"cohort file {source}: expected a mapping at the top level")
    if not SCHEMA_PATH.is_file():  # installed without the workflow folder: light checks only
        for key in ("name", "layout", "raw_root"):
            if key not in data:
                raise ConfigError(f"cohort file {source}: missing required key {key!r}")
        return
    import jsonschema

    schema = yaml.safe_load(SCHEMA_PATH.read_text())
    validator = jsonschema.Draft202012Validator(schema)
    errors = sorted(validator.iter_errors(data), key=lambda e: list(e.absolute_path))
    if errors:
        first = errors[0]
        key = ".".join(str(p) for p in first.absolute_path) or "(top level)"
        raise ConfigError(f"cohort file {source}: key {key}: {first.message}")


def load_cohort(path: str | Path) -> Cohort:
    """Read and validate a cohort file. Relative paths stay relative to the working directory."""
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError) as err:
        raise ConfigError(f"cohort file {path}: cannot read ({err})") from err
    validate_cohort_dict(data, str(path))
    try:
        name = validate_id(str(data["name"]), what="cohort name")
    except ValueError as err:
        raise ConfigError(f"cohort file {path}: key name: {err}") from err
    raw_root = Path(str(data["raw_root"]))
    tables = tuple(
        LabelTableSpec.from_dict(entry, raw_root=raw_root, source=f"cohort file {path}: label_tables[{i}]")
        for i, entry in enumerate(data.get("label_tables") or [])
    )
    seg = data.get("segmentation") or {}
    layout = str(data["layout"])
    seg_path = seg.get("path")
    if seg_path is None and layout == "brats_nifti":
        seg_path = "{raw_root}/{subject}/{subject}_seg.nii.gz"
    elif seg_path is None and layout == "nifti_folder":
        seg_path = "{raw_root}/{subject}/seg.nii.gz"
    source = seg.get("source", "manual" if layout == "brats_nifti" else "none")
    inclusion = data.get("inclusion") or {}
    return Cohort(
        name=name,
        layout=layout,
        raw_root=raw_root,
        file=path,
        institute=str(data.get("institute", "")),
        patient_id_pattern=data.get("patient_id_pattern"),
        label_tables=tables,
        segmentation_source=source,
        segmentation_path=seg_path,
        whole_tumor_labels=tuple(int(v) for v in seg.get("whole_tumor_labels", ()) or ()),
        require_sequences=tuple(inclusion.get("require_sequences", SEQUENCES)),
        preoperative_only=bool(inclusion.get("preoperative_only", True)),
        extra={k: v for k, v in data.items() if k == "synthetic"},
    )
