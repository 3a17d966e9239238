"""Multi-process (DDP) training layout: rule resources for SLURM and the ``srun`` launch.

The training config (``train.devices``, ``train.num_nodes``, ``train.accelerator``) decides
the layout: one process (rank) per device, ``devices`` ranks on each of ``num_nodes`` nodes.

Under SLURM (snakemake-executor-plugin-slurm) a layout with more than one rank becomes an "MPI"
job in the plugin's sense: the rule declares ``mpi="srun"`` plus ``tasks``/``tasks_per_node``
and ``nodes``, the plugin allocates that many tasks and runs the Snakemake job once inside the
allocation (without its own ``srun``), and the training adapter starts the ranks with that
launcher: ``srun --ntasks=N --ntasks-per-node=D --nodes=M python -m glioma.cli train ...``.
Lightning's ``SLURMEnvironment`` then reads the ranks from ``SLURM_PROCID``/``SLURM_NTASKS``.

Outside a SLURM allocation nothing is launched here: one process, or Lightning's own launcher
when the config asks for several devices (as before).
"""

from __future__ import annotations

import logging
import os
import re
import shlex
import shutil
import subprocess
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

log = logging.getLogger(__name__)

#: the launcher the training rules declare as their ``mpi`` resource (plugin convention)
DEFAULT_LAUNCHER = "srun"


@dataclass(frozen=True)
class Layout:
    """Ranks of one training run: ``tasks_per_node`` devices on each of ``nodes`` nodes."""

    tasks_per_node: int
    nodes: int
    gpu: bool

    @property
    def world_size(self) -> int:
        return self.tasks_per_node * self.nodes


def device_count(devices: Any) -> int | None:
    """Number of devices per node that Lightning's ``devices`` asks for; None when it decides
    itself (``auto``, ``-1``)."""
    if isinstance(devices, bool):
        raise ValueError(f"train.devices must be a number or a device list, got {devices!r}")
    if isinstance(devices, int):
        return None if devices == -1 else devices
    if isinstance(devices, Sequence) and not isinstance(devices, str):
        return len(devices)
    text = str(devices).strip()
    if text in {"auto", "-1"}:
        return None
    if "," in text:  # a device list such as "0,1"
        return len([part for part in text.split(",") if part.strip()])
    try:
        return int(text)
    except ValueError:
        raise ValueError(f"train.devices must be a number, a device list or 'auto', got {devices!r}") from None


def layout_from_train(train: Mapping[str, Any]) -> Layout:
    """The rank layout of a ``train:`` config section (missing keys: one CPU process)."""
    count = device_count(train.get("devices", 1))
    nodes = int(train.get("num_nodes", 1))
    if nodes < 1:
        raise ValueError(f"train.num_nodes must be at least 1, got {nodes}")
    if count is not None and count < 1:
        raise ValueError(f"train.devices must be at least 1, got {count}")
    return Layout(tasks_per_node=count or 1, nodes=nodes,
                  gpu=str(train.get("accelerator", "cpu")) in {"gpu", "cuda"})


def training_resources(config: Mapping[str, Any], *, mem_mb_per_task: int, runtime: int) -> dict[str, Any]:
    """Snakemake resources of a training rule derived from the config's ``train:`` section.

    One rank: ``mem_mb``, ``runtime`` (and ``gpu`` on GPUs), exactly as a plain job. Several
    ranks: also ``mpi="srun"``, ``nodes`` and ``tasks_per_node`` (or ``tasks`` with one rank per
    node), ``mem_mb`` per node; GPUs per node as ``gpu`` (one node) or ``gres="gpu:D"``
    (several nodes), with ``tasks_per_gpu=0`` so that every rank sees all GPUs of its node.
    """
    lay = layout_from_train(config.get("train") or {})
    resources: dict[str, Any] = {"mem_mb": mem_mb_per_task * lay.tasks_per_node, "runtime": runtime}
    if lay.gpu:
        if lay.nodes == 1:
            resources["gpu"] = lay.tasks_per_node
        else:
            resources["gres"] = f"gpu:{lay.tasks_per_node}"
    if lay.world_size > 1:
        resources["mpi"] = DEFAULT_LAUNCHER
        resources["nodes"] = lay.nodes
        if lay.tasks_per_node > 1:
            resources["tasks_per_node"] = lay.tasks_per_node
        else:
            resources["tasks"] = lay.world_size
        if lay.gpu:
            resources["tasks_per_gpu"] = 0
    return resources


def should_launch(launcher: str | None, lay: Layout, environ: Mapping[str, str] | None = None) -> bool:
    """True when this process must start the ranks itself: a launcher is given (the rule's
    ``mpi`` resource), the layout has several ranks and we run inside a SLURM allocation but
    not inside one of its tasks (``SLURM_PROCID`` unset, as in the plugin's MPI jobs)."""
    env = os.environ if environ is None else environ
    return bool(launcher) and lay.world_size > 1 and "SLURM_JOB_ID" in env and "SLURM_PROCID" not in env


def launch_command(launcher: str, lay: Layout, threads: int, argv: Sequence[str]) -> list[str]:
    """``srun`` command line that starts ``python -m glioma.cli <argv>`` once per rank."""
    return [
        *shlex.split(launcher),
        f"--ntasks={lay.world_size}",
        f"--nodes={lay.nodes}",
        f"--ntasks-per-node={lay.tasks_per_node}",
        f"--cpus-per-task={max(1, int(threads))}",
        "--kill-on-bad-exit=1",
        "--label",
        sys.executable, "-m", "glioma.cli", *argv,
    ]


def launch(launcher: str, lay: Layout, threads: int, argv: Sequence[str]) -> None:
    """Run ``glioma <argv>`` as ``lay.world_size`` ranks with ``launcher``; every line the ranks
    print goes to this process's log, prefixed by the rank (``srun --label``)."""
    command = launch_command(launcher, lay, threads, argv)
    if shutil.which(command[0]) is None:
        raise RuntimeError(f"launcher {command[0]!r} (the training rule's `mpi` resource) is not on PATH")
    log.info("starting %d ranks (%d node(s) x %d): %s", lay.world_size, lay.nodes, lay.tasks_per_node,
             shlex.join(command))
    # fewer progress bars (tqdm's own; Lightning's are off in the ranks' config)
    env = {**os.environ, "TQDM_DISABLE": "1"}
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            errors="replace", env=env)
    assert proc.stdout is not None
    for line in proc.stdout:
        label, text = re.fullmatch(r"(\d+: )?(.*)", line.rstrip("\n"), flags=re.DOTALL).groups()
        text = text.split("\r")[-1]  # what is left of a redrawn progress line
        if text.strip():
            log.info("%s%s", f"rank {label}" if label else "", text)  # unlabelled: srun itself
    code = proc.wait()
    if code != 0:
        raise RuntimeError(f"{shlex.join(command[:7])} ... exited with status {code}; "
                           "the ranks' output is in the log above")
    log.info("all %d ranks finished", lay.world_size)
