"""Typed experiment settings from the workflow config's ``experiments:`` section.

Every run of the ablation and subset experiments is one :class:`RunSpec`: overrides of the main
model's settings (``drop_sequences`` or any other ``model:``/``train:`` key) and a selection of
the training patients (cohorts, institutes, a stratified random fraction). Runs reuse the main
model's selected hyperparameters and number of epochs (no selection of their own).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from glioma.schema import SEQUENCES

TRAINED_EXPERIMENTS: tuple[str, ...] = ("ablation", "subsets")
"""Experiments whose runs are trained models (the others analyse the main model)."""

REFERENCE_RUN = "full"
"""Name under which the main model (results/train/final) appears in the comparisons."""

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]*$")


@dataclass(frozen=True)
class RunSpec:
    """One trained run of an experiment."""

    experiment: str
    name: str
    description: str = ""
    drop_sequences: tuple[str, ...] = ()
    cohorts: tuple[str, ...] = ()  # training cohorts to keep (empty: all)
    institutes: tuple[str, ...] = ()  # training institutes to keep (empty: all)
    fraction: float = 1.0  # stratified random share of the (remaining) training patients
    seed: int = 42
    params: dict[str, Any] = field(default_factory=dict)  # other model/train overrides

    def overrides(self) -> dict[str, Any]:
        """Settings overrides for :func:`glioma.model.config.apply_params`."""
        out = dict(self.params)
        if self.drop_sequences:
            out["drop_sequences"] = list(self.drop_sequences)
        return out

    def label(self) -> str:
        return self.description or self.name

    def fingerprint(self) -> dict[str, Any]:
        """What decides the run's training subset and settings (a Snakemake param, so that an
        edited run retrains); the description only labels figures."""
        return {k: v for k, v in asdict(self).items() if k != "description"}


def _tuple(value: Any, what: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list | tuple):
        raise ValueError(f"{what} must be a list, got {value!r}")
    return tuple(str(v) for v in value)


def run_spec(experiment: str, name: str, values: Mapping[str, Any] | None, seed: int = 42) -> RunSpec:
    """Validate one run entry of the config."""
    if not _NAME.match(name) or name == REFERENCE_RUN:
        raise ValueError(f"experiments.{experiment}: bad run name {name!r} "
                         f"(letters, digits, _ and -; {REFERENCE_RUN!r} is the main model)")
    values = dict(values or {})
    known = {"description", "drop_sequences", "cohorts", "institutes", "fraction", "seed", "params"}
    unknown = sorted(set(values) - known)
    if unknown:
        raise ValueError(f"experiments.{experiment}.runs.{name}: unknown keys {unknown}")
    drop = _tuple(values.get("drop_sequences"), "drop_sequences")
    bad = sorted(set(drop) - set(SEQUENCES))
    if bad:
        raise ValueError(f"experiments.{experiment}.runs.{name}: unknown sequences {bad}")
    if len(set(drop)) >= len(SEQUENCES):
        raise ValueError(f"experiments.{experiment}.runs.{name}: cannot drop every sequence")
    fraction = float(values.get("fraction", 1.0))
    if not 0.0 < fraction <= 1.0:
        raise ValueError(f"experiments.{experiment}.runs.{name}: fraction must be in (0, 1]")
    return RunSpec(
        experiment=experiment,
        name=name,
        description=str(values.get("description", "")),
        drop_sequences=drop,
        cohorts=_tuple(values.get("cohorts"), "cohorts"),
        institutes=_tuple(values.get("institutes"), "institutes"),
        fraction=fraction,
        seed=int(values.get("seed", seed)),
        params=dict(values.get("params") or {}),
    )


def experiment_runs(config: Mapping[str, Any]) -> dict[str, dict[str, RunSpec]]:
    """experiment -> run name -> spec, for the trained experiments of ``config``."""
    section = dict(config.get("experiments") or {})
    seed = int(section.get("seed", config.get("seed", 42)))
    out: dict[str, dict[str, RunSpec]] = {}
    for experiment in TRAINED_EXPERIMENTS:
        runs = (section.get(experiment) or {}).get("runs") or {}
        out[experiment] = {name: run_spec(experiment, name, values, seed)
                           for name, values in runs.items()}
    return out


def get_run(config: Mapping[str, Any], experiment: str, name: str) -> RunSpec:
    runs = experiment_runs(config)
    if experiment not in runs or name not in runs[experiment]:
        raise KeyError(f"no run {name!r} in experiments.{experiment}.runs")
    return runs[experiment][name]
