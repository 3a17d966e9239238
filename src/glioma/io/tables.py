"""Label tables: read clinical tables as they are and unify them into the project's labels.

A cohort file's ``label_tables`` entries (see ``workflow/schemas/cohort.schema.yaml``) say how each
table's columns and codes map onto the unified labels of :mod:`glioma.schema`. Tables are read
with every cell as text (numeric-only IDs stay strings, ``00123`` stays ``00123``); missing codes
and empty cells mean unknown; a value that is neither mapped nor missing is an unknown label code,
reported per patient (the patient is excluded with that reason, the cohort goes on).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from glioma.errors import ConfigError, InputError
from glioma.schema import LABEL_COLUMNS

log = logging.getLogger(__name__)

#: unified columns a label table may fill (LABEL_COLUMNS plus two used by ingest itself)
TABLE_COLUMNS: tuple[str, ...] = (*LABEL_COLUMNS, "preoperative", "institute")

_ALLOWED: dict[str, set[Any] | None] = {
    "idh": {0, 1},
    "codeletion": {0, 1},
    "grade": {2, 3, 4},
    "os_event": {0, 1},
    "preoperative": {0, 1},
    "sex": {"M", "F"},
    "age": None,  # any non-negative number
    "os_time_days": None,
    "institute": None,  # any text
}
_INTEGER = {"idh", "codeletion", "grade", "os_event", "preoperative"}
_FLOAT = {"age", "os_time_days"}

ID_TRANSFORMS = ("none", "tcga_barcode12")


@dataclass(frozen=True)
class ColumnMap:
    column: str
    mapping: dict[str, Any] | None = None
    scale: float | None = None


@dataclass(frozen=True)
class LabelTableSpec:
    """One ``label_tables`` entry of a cohort file, with its path resolved."""

    path: Path
    id_column: str
    sheet: str | None = None
    header_row: int = 0
    id_transform: str = "none"
    missing: tuple[str, ...] = ()
    columns: dict[str, ColumnMap] = field(default_factory=dict)

    @classmethod
    def from_dict(
        cls, entry: Mapping[str, Any], *, raw_root: str | Path, source: str = "cohort file"
    ) -> LabelTableSpec:
        """Build from the YAML dict; ``{raw_root}`` in ``path`` is substituted."""
        try:
            path = Path(str(entry["path"]).format(raw_root=str(raw_root)))
            id_column = str(entry["id_column"])
        except KeyError as err:
            raise ConfigError(f"{source}: label_tables entry lacks key {err.args[0]!r}") from err
        transform = str(entry.get("id_transform", "none"))
        if transform not in ID_TRANSFORMS:
            raise ConfigError(f"{source}: label_tables.id_transform {transform!r} not in {ID_TRANSFORMS}")
        columns: dict[str, ColumnMap] = {}
        for key, spec in (entry.get("columns") or {}).items():
            if key not in TABLE_COLUMNS:
                raise ConfigError(f"{source}: label_tables.columns.{key} is not a unified label")
            raw_map = spec.get("map")
            mapping = None if raw_map is None else {_key_text(k): v for k, v in raw_map.items()}
            if mapping is not None:
                for raw, value in mapping.items():
                    if value is not None and not _in_domain(key, value):
                        raise ConfigError(
                            f"{source}: label_tables.columns.{key}.map[{raw!r}] = {value!r} "
                            f"is not a valid {key} value"
                        )
            scale = spec.get("scale")
            columns[key] = ColumnMap(
                column=str(spec["column"]), mapping=mapping, scale=None if scale is None else float(scale)
            )
        return cls(
            path=path,
            id_column=id_column,
            sheet=entry.get("sheet"),
            header_row=int(entry.get("header_row", 0)),
            id_transform=transform,
            missing=tuple(str(m) for m in entry.get("missing", ()) or ()),
            columns=columns,
        )


@dataclass
class UnifiedLabels:
    """Unified labels per subject, plus per-subject problems (category, message)."""

    labels: dict[str, dict[str, Any]]
    problems: dict[str, tuple[str, str]]


def _key_text(key: Any) -> str:
    if isinstance(key, bool):
        return str(int(key))
    if isinstance(key, float) and key.is_integer():
        return str(int(key))
    return str(key).strip()


def _in_domain(column: str, value: Any) -> bool:
    allowed = _ALLOWED[column]
    if column in _FLOAT:
        return isinstance(value, int | float) and not isinstance(value, bool) and value >= 0
    if column == "institute":
        return isinstance(value, str) and bool(value)
    if column in _INTEGER:
        return isinstance(value, int | float) and float(value).is_integer() and int(value) in allowed
    return value in allowed


def match_key(identifier: str, id_transform: str = "none") -> str:
    """The key under which a subject ID and a table ID are matched.

    ``tcga_barcode12``: the 12-character TCGA patient barcode (``TCGA-XX-XXXX``), with ``_``
    read as ``-``; so ``TCGA-HT_A614`` and ``TCGA-EZ-7265A`` match ``TCGA-HT-A614`` and
    ``TCGA-EZ-7265``.
    """
    text = str(identifier).strip()
    if id_transform == "tcga_barcode12":
        return text.replace("_", "-").upper()[:12]
    return text


def read_table(path: str | Path, *, sheet: str | None = None, header_row: int = 0) -> pd.DataFrame:
    """Read a CSV, TSV or XLSX table with every cell as text (empty cells as ``""``)."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"label table {str(path)!r} does not exist")
    suffix = path.suffix.lower()
    kwargs: dict[str, Any] = {"dtype": str, "keep_default_na": False, "header": header_row}
    try:
        if suffix in (".xlsx", ".xlsm", ".xls"):
            frame = pd.read_excel(path, sheet_name=sheet if sheet is not None else 0, **kwargs)
        elif suffix in (".tsv", ".tab", ".txt"):
            frame = pd.read_csv(path, sep="\t", **kwargs)
        else:
            frame = pd.read_csv(path, sep=None, engine="python", **kwargs)
    except ValueError as err:
        raise ConfigError(f"label table {str(path)!r}: cannot read ({err})") from err
    frame.columns = [str(c).strip() for c in frame.columns]
    return frame.fillna("").astype(str)


def _convert(column: str, cmap: ColumnMap, raw: str, missing: set[str]) -> Any:
    """Unified value of one raw cell; ``None`` = unknown; ValueError = unknown code."""
    text = raw.strip()
    if text == "" or text in missing:
        return None
    if cmap.mapping is not None:
        candidates = [text]
        try:
            number = float(text)
            if math.isfinite(number) and number.is_integer():
                candidates.append(str(int(number)))
        except ValueError:
            pass
        for candidate in candidates:
            if candidate in cmap.mapping:
                value = cmap.mapping[candidate]
                break
        else:
            raise ValueError(f"unknown code {text!r} in column {cmap.column!r} (not in its map or missing codes)")
        if value is None:
            return None
    elif column in ("institute", "sex"):
        value = text
    else:
        try:
            value = float(text)
        except ValueError as err:
            raise ValueError(f"unknown code {text!r} in column {cmap.column!r} (not a number)") from err
        if not math.isfinite(value):
            raise ValueError(f"unknown code {text!r} in column {cmap.column!r} (not finite)")
    if cmap.scale is not None and column in _FLOAT:
        value = float(value) * cmap.scale
    if column in _INTEGER:
        if not _in_domain(column, value):
            raise ValueError(f"value {text!r} in column {cmap.column!r} is not a valid {column}")
        return int(value)
    if column in _FLOAT:
        if float(value) < 0:
            # Real tables hold a few tiny negative survival times (e.g. -0.03 months): data errors.
            raise ValueError(f"negative {column} {text!r} in column {cmap.column!r}")
        return float(value)
    if not _in_domain(column, value):
        raise ValueError(f"value {text!r} in column {cmap.column!r} is not a valid {column}")
    return value


def unify_table(spec: LabelTableSpec) -> tuple[dict[str, dict[str, Any]], dict[str, tuple[str, str]]]:
    """Read one label table; return ``key -> unified values`` and ``key -> (category, problem)``.

    Problems are unknown codes and duplicate keys with conflicting values; rows whose ID is empty
    or contains a path separator or '..' are skipped with a warning.
    """
    frame = read_table(spec.path, sheet=spec.sheet, header_row=spec.header_row)
    where = f"label table {str(spec.path)!r}" + (f" sheet {spec.sheet!r}" if spec.sheet else "")
    needed = [spec.id_column] + [c.column for c in spec.columns.values()]
    absent = [c for c in needed if c not in frame.columns]
    if absent:
        raise ConfigError(f"{where}: columns {absent} not found (has {list(frame.columns)[:20]}...)")
    missing = set(spec.missing)
    values: dict[str, dict[str, Any]] = {}
    problems: dict[str, tuple[str, str]] = {}
    for row_number, cells in enumerate(frame.to_dict("records"), start=spec.header_row + 2):
        raw_id = str(cells[spec.id_column]).strip()
        if raw_id == "" or raw_id in missing:
            continue
        if "/" in raw_id or "\\" in raw_id or ".." in raw_id:
            log.warning("%s row %d: patient ID %r contains a path separator or '..'; row ignored",
                        where, row_number, raw_id)
            continue
        key = match_key(raw_id, spec.id_transform)
        if key != raw_id:
            log.debug("%s row %d: ID %r matched as %r", where, row_number, raw_id, key)
        unified: dict[str, Any] = {}
        for column, cmap in spec.columns.items():
            raw = str(cells[cmap.column])
            try:
                unified[column] = _convert(column, cmap, raw, missing)
            except ValueError as err:
                problems.setdefault(key, ("label_error", f"{where} row {row_number}: {err}"))
                unified[column] = None
        if key in values:
            previous = values[key]
            conflicts = [c for c in unified if previous.get(c) != unified[c]]
            if conflicts:
                problems.setdefault(key, (
                    "duplicate_id",
                    f"{where} row {row_number}: duplicate patient ID {raw_id!r} with conflicting {conflicts}",
                ))
            continue
        values[key] = unified
    return values, problems


def unify_labels(
    specs: Iterable[LabelTableSpec], subjects: Iterable[str], *, cohort: str = ""
) -> UnifiedLabels:
    """Merge the tables (in order; later tables fill gaps only) for ``subjects``.

    Each subject is matched under each table's ``id_transform``. A problem in any table for a
    subject is returned as ``(category, message)`` (``label_error`` or ``duplicate_id``); its labels are still filled where known.
    """
    subjects = list(subjects)
    labels: dict[str, dict[str, Any]] = {s: dict.fromkeys(TABLE_COLUMNS) for s in subjects}
    problems: dict[str, tuple[str, str]] = {}
    for spec in specs:
        table, table_problems = unify_table(spec)
        matched = 0
        for subject in subjects:
            key = match_key(subject, spec.id_transform)
            if key in table_problems and subject not in problems:
                category, message = table_problems[key]
                problems[subject] = (category, str(InputError(message, subject=subject)))
            row = table.get(key)
            if row is None:
                continue
            matched += 1
            if key != subject:
                log.info("%s: patient %r matched label table %s as %r", cohort, subject, spec.path.name, key)
            for column, value in row.items():
                if labels[subject][column] is None and value is not None:
                    labels[subject][column] = value
        log.info("%s: %d of %d patients found in %s", cohort, matched, len(subjects), spec.path)
    return UnifiedLabels(labels=labels, problems=problems)
