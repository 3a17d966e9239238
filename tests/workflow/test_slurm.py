"""The workflow through a real SLURM cluster, with training as a 2-task DDP job.

A throwaway single-node cluster on localhost (tools/local-slurm/start.sh: slurmctld, slurmd,
munged; installed with apt when missing) runs a slice of the tiny study (6 + 3 synthetic
patients: synth, ingest, preprocessing, cohort, model selection, final training, test-set
inference, Table 2, model vs oracle) through the real snakemake-executor-plugin-slurm with
``--profile profiles/slurm --workflow-profile tests/workflow/slurm-profile`` (test overrides:
status via squeue, 1 s polling, logs kept). The training rules run with ``train.devices: 2,
strategy: ddp`` on CPU (gloo): each is one SLURM job of 2 tasks whose ranks the adapter starts
with ``srun``; Lightning's SLURMEnvironment takes the ranks from SLURM.

Checked: every job was a SLURM job that completed (the plugin's submissions, the kept SLURM job
logs, ``scontrol``/``squeue``), both training jobs had 2 tasks whose 2 ranks (2 PIDs, SLURM task
ids 0 and 1, one job step) trained together (run_info.json, the job's log), the outputs are valid
(the model artefact loads, predictions for every included test patient, Table 2) and a rerun has
nothing to do.

Needs root (the cluster's daemons, apt) and 2 CPUs; skipped otherwise. Not covered: several
nodes, GPUs. Runtime: 31 SLURM jobs, 15 min on 2 CPU cores shared with other runs (load ~7),
mostly per-job overhead; plus ~15 s of apt on a fresh machine.
"""
from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
from pathlib import Path

import pandas as pd
import pytest
import yaml

from glioma.schema import PREDICTION_COLUMNS

from .conftest import REPO, SNAKEMAKE, Workspace

pytestmark = [pytest.mark.slurm, pytest.mark.workflow, pytest.mark.slow]

TINY = Path(__file__).parent / "tiny"
LOCAL_SLURM = REPO / "tools" / "local-slurm"
PROFILE = REPO / "profiles" / "slurm"
TEST_PROFILE = Path(__file__).parent / "slurm-profile"
SNAKEMAKE_LIMIT_S = 1500  # `timeout -k` around Snakemake: a hung run fails instead of blocking CI
# a slice of the tiny study of test_end_to_end with fewer patients: ingest, preprocessing, cohort,
# model selection and final training (2 ranks each), test-set inference, Table 2, model vs oracle
PATIENTS = {"tiny_train": 6, "tiny_test": 3}
# plus one experiment run (the sequence ablation without T1), trained as the final model is
EXPERIMENT_RUN = "results/experiments/ablation/no_t1/train"
TARGETS = ["results/infer/tiny_test/predictions.csv", "results/evaluate/tiny_test/table2.csv",
           "results/evaluate/tiny_test/model_vs_oracle.csv", f"{EXPERIMENT_RUN}/model.pt"]
DDP = {"train": {"devices": 2, "num_nodes": 1, "strategy": "ddp", "accelerator": "cpu", "threads": 1}}
CONFIG = ["--configfile", "config/config.yaml", "tests/workflow/tiny/overrides.yaml", "slurm-ddp.yaml"]


def _sh(*cmd: str, timeout: float = 60) -> str:
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=True).stdout


@pytest.fixture(scope="module")
def slurm_cluster(tmp_path_factory: pytest.TempPathFactory):
    """The localhost cluster, up for this module only (stop.sh ends exactly what start.sh began)."""
    if os.geteuid() != 0:
        pytest.skip("the local SLURM cluster needs root (tools/local-slurm/start.sh starts slurmctld/slurmd/munged)")
    if shutil.which("slurmctld") is None and shutil.which("apt-get") is None:
        pytest.skip("SLURM is not installed and apt-get is not available to install it")
    base = tmp_path_factory.mktemp("slurm")
    # finished jobs stay in squeue/scontrol for an hour: the plugin's status checks and ours see them
    env = {**os.environ, "SLURM_BASE": str(base), "MIN_JOB_AGE": "3600"}
    started = subprocess.run(["bash", str(LOCAL_SLURM / "start.sh")], env=env, capture_output=True,
                             text=True, timeout=900)
    try:
        assert started.returncode == 0, f"start.sh failed:\n{started.stdout}\n{started.stderr}"
        cpus = int(_sh("sinfo", "-h", "-N", "-o", "%c").split()[0])
        if cpus < 2:
            pytest.skip(f"the 2-task training job needs 2 CPUs; the SLURM node has {cpus}")
        yield base
    finally:
        subprocess.run(["bash", str(LOCAL_SLURM / "stop.sh")], env=env, capture_output=True, timeout=300)


@pytest.fixture(scope="module")
def slurm_run(slurm_cluster: Path, tmp_path_factory: pytest.TempPathFactory):
    root = tmp_path_factory.mktemp("slurm_ws") / "ws"
    root.mkdir()
    ws = Workspace(root, None)  # the real scontrol: the plugin talks to the running controller
    shutil.copytree(TINY, root / "tests" / "workflow" / "tiny")
    for cohort, n in PATIENTS.items():
        path = root / "tests" / "workflow" / "tiny" / "cohorts" / f"{cohort}.yaml"
        spec = yaml.safe_load(path.read_text())
        spec["synthetic"]["n_patients"] = n
        spec["synthetic"]["fraction_postop"] = 0.0  # every patient included: train and val folds
        path.write_text(yaml.safe_dump(spec, sort_keys=False))
    (root / "slurm-ddp.yaml").write_text(yaml.safe_dump(DDP))
    command = ["timeout", "-k", "30", str(SNAKEMAKE_LIMIT_S), str(SNAKEMAKE),
               *TARGETS, "--profile", str(PROFILE), "--workflow-profile", str(TEST_PROFILE), *CONFIG]
    proc = subprocess.Popen(command, cwd=root, env=ws.env(), stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, start_new_session=True)
    try:
        output, _ = proc.communicate(timeout=SNAKEMAKE_LIMIT_S + 60)
    finally:
        if proc.poll() is None:  # only if `timeout` itself hung: end Snakemake and its children
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    (root / "snakemake-slurm.out").write_text(output)
    assert proc.returncode == 0, f"snakemake through SLURM exited {proc.returncode}:\n{output[-6000:]}"
    return ws, output


def _submitted(output: str) -> dict[str, Path]:
    """SLURM job id -> job log path of every job the plugin submitted."""
    found = re.findall(r"has been submitted with SLURM jobid (\d+) \(log: (\S+?)\)", output)
    return {job: Path(log) for job, log in found}


def _job(jobid: str) -> dict[str, str]:
    """`scontrol show job` as key -> value (finished jobs stay for the cluster's MinJobAge)."""
    text = _sh("scontrol", "show", "job", "-o", jobid)
    return dict(re.findall(r"(\w+)=(\S*)", text))


def test_every_job_went_through_slurm(slurm_run) -> None:
    ws, output = slurm_run
    submitted = _submitted(output)
    assert submitted, output[-3000:]
    # every job of the run was a SLURM job: as many submissions as finished jobs, all rules
    done = re.findall(r"Finished jobid: \d+ \(Rule: (\w+)\)", output)
    assert len(done) == len(submitted), (len(done), len(submitted))
    logged = {p.parts[p.parts.index("slurm_logs") + 1].removeprefix("rule_") for p in submitted.values()}
    assert logged == set(done) and {"ingest_subject", "preprocess_subject", "train_final"} <= logged
    for jobid, log in submitted.items():
        assert log.is_file(), log  # kept (slurm-keep-successful-logs)
        job = _job(jobid)
        assert job["JobState"] == "COMPLETED", (jobid, job.get("JobState"), log.read_text()[-2000:])
        assert job["Comment"].startswith(("rule_", "group_")), job["Comment"]
    states = _sh("squeue", "-h", "--states=all", "-o", "%i %T").split()
    assert set(submitted) <= set(states[0::2])


@pytest.mark.parametrize("rule", ["train_select", "train_final", "experiment_train"])
def test_training_ran_as_two_slurm_tasks(slurm_run, rule: str) -> None:
    ws, output = slurm_run
    submitted = _submitted(output)
    [(jobid, log)] = [(j, p) for j, p in submitted.items() if f"rule_{rule}" in p.parts]
    job = _job(jobid)
    assert job["NumTasks"] == "2" and job["NumNodes"] == "1", job
    folder = ws.path({"train_final": "results/train/final", "experiment_train": EXPERIMENT_RUN}.get(
        rule, "results/train/select/lr0.001"))
    info = json.loads((folder / "run_info.json").read_text())
    assert info["world_size"] == 2
    assert info["distributed"]["cluster_environment"] == "SLURMEnvironment", info["distributed"]
    assert info["distributed"]["strategy"] == "DDPStrategy"
    ranks = info["ranks"]
    assert sorted(r["global_rank"] for r in ranks) == [0, 1]
    assert sorted(r["slurm_procid"] for r in ranks) == ["0", "1"]
    assert {r["slurm_job_id"] for r in ranks} == {jobid}
    assert len({r["slurm_step_id"] for r in ranks}) == 1 and ranks[0]["slurm_step_id"] not in {None, "batch"}
    assert len({r["pid"] for r in ranks}) == 2
    # the job's log: the adapter started both ranks with srun, each reported itself (srun --label)
    text = log.read_text()
    assert "starting 2 ranks" in text and "srun --ntasks=2" in text, text[-3000:]
    for rank in (0, 1):
        assert re.search(rf"rank {rank}: .* rank {rank} of 2 ", text), text[-3000:]
    metrics = pd.read_csv(folder / "metrics.csv")
    assert len(metrics) >= 1 and metrics["train_loss"].notna().all()


def test_outputs_are_valid(slurm_run) -> None:
    ws, _ = slurm_run
    from glioma.model.artefact import load_artefact

    net, info = load_artefact(ws.path("results/train/final"))
    assert info["train"]["devices"] == 2 and sum(p.numel() for p in net.parameters()) > 0
    preds = pd.read_csv(ws.path("results/infer/tiny_test/predictions.csv"), dtype={"subject": str})
    assert list(preds.columns) == list(PREDICTION_COLUMNS)
    included = pd.read_csv(ws.path("results/ingest/tiny_test/subjects.tsv"), sep="\t", dtype={"subject": str})
    assert set(preds["subject"]) == set(included.loc[included["included"] == 1, "subject"])
    assert preds[["score_grade_2", "score_grade_3", "score_grade_4"]].sum(axis=1).sub(1).abs().max() < 1e-4
    table2 = pd.read_csv(ws.path("results/evaluate/tiny_test/table2.csv"))
    assert {"IDH", "1p19q", "grade"} <= set(table2["task"])
    # only rank zero wrote: no leftovers of the launch or of concurrent writes
    leftovers = [p for folder in ("results/train", EXPERIMENT_RUN) for p in ws.path(folder).rglob(".*") if p.is_file()]
    assert not leftovers, leftovers


def test_rerun_has_nothing_to_do(slurm_run) -> None:
    ws, _ = slurm_run
    proc = subprocess.run(["timeout", "-k", "10", "300", str(SNAKEMAKE), "-n", *TARGETS, "--profile", str(PROFILE),
                           "--workflow-profile", str(TEST_PROFILE), *CONFIG],
                          cwd=ws.root, env=ws.env(), capture_output=True, text=True, timeout=360)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "Nothing to be done" in proc.stdout + proc.stderr
