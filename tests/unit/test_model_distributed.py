"""Rank layout, rule resources and the srun command of multi-task training
(glioma.model.distributed). The real launch under SLURM: tests/workflow/test_slurm.py."""

from __future__ import annotations

import sys

import pytest

from glioma.model.distributed import (
    Layout,
    device_count,
    launch,
    launch_command,
    layout_from_train,
    should_launch,
    training_resources,
)


@pytest.mark.parametrize(("devices", "count"), [(1, 1), (4, 4), ("2", 2), ("0,1,3", 3), ([0, 1], 2),
                                                 ("auto", None), (-1, None), ("-1", None)])
def test_device_count(devices, count):
    assert device_count(devices) == count


@pytest.mark.parametrize("devices", ["two", True])
def test_device_count_rejects_nonsense(devices):
    with pytest.raises(ValueError, match="train.devices"):
        device_count(devices)


def test_one_rank_is_a_plain_job():
    res = training_resources({"train": {"devices": 1, "num_nodes": 1, "accelerator": "cpu"}},
                             mem_mb_per_task=4000, runtime=120)
    assert res == {"mem_mb": 4000, "runtime": 120}
    # a config without train: section (defaults) too
    assert training_resources({}, mem_mb_per_task=10, runtime=5) == {"mem_mb": 10, "runtime": 5}


def test_one_gpu_is_the_standard_gpu_resource():
    res = training_resources({"train": {"devices": 1, "accelerator": "gpu"}}, mem_mb_per_task=4000, runtime=60)
    assert res == {"mem_mb": 4000, "runtime": 60, "gpu": 1}


def test_two_cpu_ranks_on_one_node():
    res = training_resources({"train": {"devices": 2, "num_nodes": 1, "accelerator": "cpu"}},
                             mem_mb_per_task=1000, runtime=30)
    assert res == {"mem_mb": 2000, "runtime": 30, "mpi": "srun", "nodes": 1, "tasks_per_node": 2}


def test_four_gpus_on_two_nodes():
    res = training_resources({"train": {"devices": 2, "num_nodes": 2, "accelerator": "gpu"}},
                             mem_mb_per_task=1000, runtime=30)
    # per node: 2 tasks, 2 GPUs (gres), memory of 2 ranks; no --ntasks-per-gpu binding
    assert res == {"mem_mb": 2000, "runtime": 30, "gres": "gpu:2", "mpi": "srun", "nodes": 2,
                   "tasks_per_node": 2, "tasks_per_gpu": 0}


def test_one_rank_per_node_uses_tasks():
    # the plugin wants tasks_per_node > 1 for MPI jobs; one rank on each of 3 nodes is tasks=3
    res = training_resources({"train": {"devices": 1, "num_nodes": 3}}, mem_mb_per_task=1000, runtime=30)
    assert res["tasks"] == 3 and res["nodes"] == 3 and "tasks_per_node" not in res


def test_should_launch_only_inside_an_allocation_and_outside_a_task():
    two = Layout(tasks_per_node=2, nodes=1, gpu=False)
    one = Layout(tasks_per_node=1, nodes=1, gpu=False)
    job = {"SLURM_JOB_ID": "7"}
    assert should_launch("srun", two, job)
    assert not should_launch("srun", two, {})  # local run: Lightning's own launcher
    assert not should_launch("srun", one, job)
    assert not should_launch(None, two, job)  # rule without an mpi resource
    assert not should_launch("srun", two, {**job, "SLURM_PROCID": "0"})  # already a rank


def test_launch_command():
    lay = layout_from_train({"devices": 2, "num_nodes": 2})
    cmd = launch_command("srun --mpi=none", lay, 3, ["train", "final", "--out", "x"])
    assert cmd[:8] == ["srun", "--mpi=none", "--ntasks=4", "--nodes=2", "--ntasks-per-node=2",
                       "--cpus-per-task=3", "--kill-on-bad-exit=1", "--label"]
    assert cmd[8:] == [sys.executable, "-m", "glioma.cli", "train", "final", "--out", "x"]


def test_launch_names_a_missing_launcher():
    with pytest.raises(RuntimeError, match="not on PATH"):
        launch("no-such-srun-here", Layout(2, 1, False), 1, ["train"])
