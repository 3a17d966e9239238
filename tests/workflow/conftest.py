"""Fixtures for running the real Snakemake on a temporary copy of workflow/ and config/.

``workspace`` gives a folder holding copies of the repository's ``workflow/`` and ``config/``
whose ``config/config.yaml`` lists only the cohorts a test writes (all other settings are the
repository's), plus helpers to write tiny ``nifti_folder`` cohorts and to run Snakemake there.

Snakemake's SLURM executor plugin runs ``scontrol show config`` every time Snakemake starts; on a
machine with a SLURM client but no reachable controller that waits ~9 s per call. These tests use
the local executor only, so an ``scontrol`` that fails at once is put first on PATH (set
``GLIOMA_TEST_SLURM_PROBE=1`` to keep the real one). Nothing else is replaced.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
SNAKEMAKE = Path(sys.executable).with_name("snakemake")
SEQUENCES = ("t1", "t1c", "t2", "flair")


def brain_like(shape: tuple[int, int, int] = (12, 12, 8), seed: int = 0) -> np.ndarray:
    """A small int16 volume with an ellipsoid of signal (a placeholder head)."""
    rng = np.random.default_rng(seed)
    grid = np.stack(np.meshgrid(*[np.linspace(-1, 1, s) for s in shape], indexing="ij"))
    inside = (grid**2).sum(axis=0) < 0.8
    return (inside * rng.integers(200, 400, shape) + rng.integers(0, 20, shape)).astype(np.int16)


def save_nifti(path: Path, data: np.ndarray, affine: np.ndarray | None = None) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    nib.save(nib.Nifti1Image(data, np.eye(4) if affine is None else affine), str(path))
    return path


@dataclass
class Run:
    returncode: int
    output: str

    def jobs(self) -> list[tuple[str, dict[str, str]]]:
        """(rule, wildcards) of every job a (dry) run printed, in order."""
        jobs: list[tuple[str, dict[str, str]]] = []
        for block in re.split(r"\n(?=(?:local)?(?:checkpoint|rule) )", "\n" + self.output):
            head = re.match(r"(?:local)?(?:checkpoint|rule) (\w+):", block.strip())
            if not head:
                continue
            wildcards = {}
            found = re.search(r"^\s+wildcards: (.*)$", block, flags=re.MULTILINE)
            if found:
                for item in found.group(1).split(", "):
                    key, _, value = item.partition("=")
                    wildcards[key.strip()] = value.strip()
            jobs.append((head.group(1), wildcards))
        return jobs


class Workspace:
    """A temporary working directory with copies of workflow/ and config/."""

    repo = REPO
    brain_like = staticmethod(brain_like)
    save_nifti = staticmethod(save_nifti)

    def __init__(self, root: Path, bin_dir: Path | None):
        self.root = root
        self.bin_dir = bin_dir
        shutil.copytree(REPO / "workflow", root / "workflow")
        shutil.copytree(REPO / "config", root / "config")
        self.base_config = yaml.safe_load((REPO / "config" / "config.yaml").read_text())

    def path(self, relative: str) -> Path:
        return self.root / relative

    def include_rules(self, name: str) -> bool:
        """Include ``workflow/rules/<name>.smk`` in the copy's Snakefile if it exists and is not yet."""
        snakefile = self.root / "workflow" / "Snakefile"
        text = snakefile.read_text()
        if not (self.root / "workflow" / "rules" / f"{name}.smk").is_file():
            return False
        if f'rules/{name}.smk"' not in text:
            text = text.replace('include: "rules/ingest.smk"\n', f'include: "rules/ingest.smk"\ninclude: "rules/{name}.smk"\n')
            snakefile.write_text(text)
        return True

    def write_cohort(self, cohort: dict, role: str = "train") -> Path:
        path = self.root / "config" / "cohorts" / f"{cohort['name']}.yaml"
        path.write_text(yaml.safe_dump(cohort, sort_keys=False))
        return path

    def write_config(self, cohorts: Iterable[tuple[str, str]], **overrides: object) -> Path:
        """config/config.yaml of the copy: the repository's, with ``cohorts`` = (name, role) pairs."""
        config = dict(self.base_config)
        config["cohorts"] = [{"file": f"config/cohorts/{name}.yaml", "role": role} for name, role in cohorts]
        config.update(overrides)
        path = self.root / "config" / "config.yaml"
        path.write_text(yaml.safe_dump(config, sort_keys=False))
        return path

    def nifti_cohort(self, name: str, subjects: Iterable[str], *, labels: str | None = None,
                     label_columns: dict | None = None, shape: tuple[int, int, int] = (12, 12, 8)) -> Path:
        """A nifti_folder cohort under raw/<name>: four small scans per subject (+ label CSV)."""
        raw = self.root / "raw" / name
        raw.mkdir(parents=True, exist_ok=True)
        for index, subject in enumerate(subjects):
            for k, seq in enumerate(SEQUENCES):
                save_nifti(raw / subject / f"{seq}.nii.gz", brain_like(shape, seed=index * 10 + k))
        cohort: dict = {"name": name, "layout": "nifti_folder", "raw_root": f"raw/{name}", "institute": name}
        if labels is not None:
            table = self.root / "raw" / f"{name}_labels.csv"
            table.write_text(labels)
            cohort["label_tables"] = [{"path": f"raw/{name}_labels.csv", "id_column": "pid", "missing": ["NA"],
                                       "columns": label_columns or {}}]
        return self.write_cohort(cohort)

    def env(self) -> dict[str, str]:
        path = f"{SNAKEMAKE.parent}{os.pathsep}{os.environ.get('PATH', '')}"
        if self.bin_dir is not None:
            path = f"{self.bin_dir}{os.pathsep}{path}"
        return {**os.environ, "PATH": path, "OMP_NUM_THREADS": "1", "ITK_GLOBAL_DEFAULT_NUMBER_OF_THREADS": "1",
                "MPLBACKEND": "Agg"}

    def snakemake(self, *args: str, cores: int = 1, timeout: float = 600, check: bool = True) -> Run:
        cmd = [str(SNAKEMAKE), "--cores", str(cores), *args]
        proc = subprocess.run(cmd, cwd=self.root, env=self.env(), capture_output=True, text=True,
                              timeout=timeout, check=False)
        run = Run(proc.returncode, proc.stdout + proc.stderr)
        if check and proc.returncode != 0:
            raise AssertionError(f"snakemake {' '.join(args)} exited {proc.returncode}:\n{run.output[-5000:]}")
        return run


@pytest.fixture(scope="session")
def fast_scontrol(tmp_path_factory: pytest.TempPathFactory) -> Path | None:
    # also when no scontrol is installed yet: test_slurm.py installs SLURM during the session
    if os.environ.get("GLIOMA_TEST_SLURM_PROBE") == "1":
        return None
    folder = tmp_path_factory.mktemp("bin")
    script = folder / "scontrol"
    script.write_text("#!/bin/sh\nexit 1\n")
    script.chmod(0o755)
    return folder


@pytest.fixture
def workspace(tmp_path: Path, fast_scontrol: Path | None) -> Workspace:
    root = tmp_path / "ws"
    root.mkdir()
    return Workspace(root, fast_scontrol)
