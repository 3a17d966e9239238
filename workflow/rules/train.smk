# Model selection (one run per grid point, validated on the 15% hold-out), its summary, and the
# final training on the whole training set. Run folders keep Lightning's last.ckpt: a killed job
# rerun with the same settings resumes from it.
# Resources come from the config's train: section (glioma.model.distributed.training_resources):
# one rank is a plain job; devices x num_nodes > 1 ranks is a multi-task SLURM job (mpi="srun",
# tasks_per_node/tasks, nodes, GPUs per node) whose adapter starts the ranks with srun.
import os

from glioma.model.config import grid_points, training_fingerprint
from glioma.model import targets as model_paths
from glioma.model.distributed import training_resources

TRAIN_GRID = list(grid_points(config.get("train", {}).get("grid")))
# an edited model/train setting reruns training (Snakemake's params trigger); threads do not
TRAIN_SETTINGS = training_fingerprint(config)
# demo: volumes held in memory (~2 MB each at 3 mm) plus the network, per rank; 1 mm needs a GPU
TRAIN_RESOURCES = training_resources(config, mem_mb_per_task=4000, runtime=120)


wildcard_constraints:
    params=r"[A-Za-z0-9][A-Za-z0-9.+-]*",


rule train_select:
    input:
        splits=model_paths.SPLITS,
    output:
        result=f"{model_paths.SELECT_DIR}/{{params}}/result.json",
        metrics=f"{model_paths.SELECT_DIR}/{{params}}/metrics.csv",
    params:
        preprocess_root="results/preprocess",
        out_dir=lambda wildcards, output: os.path.dirname(output.result),
        settings=TRAIN_SETTINGS,
    log:
        "logs/train/select/{params}.log",
    benchmark:
        "results/benchmarks/train/select/{params}.tsv"
    threads: config.get("train", {}).get("threads", 2)
    resources:
        **TRAIN_RESOURCES,
    conda:
        "../envs/glioma.yaml"
    script:
        "../scripts/train_select.py"


rule train_summary:
    input:
        results=expand(f"{model_paths.SELECT_DIR}/{{params}}/result.json", params=TRAIN_GRID),
    output:
        summary=report(
            f"{model_paths.SELECT_DIR}/summary.tsv",
            caption="../report/train_selection.rst",
            category="3. Model",
            labels={"table": "model selection"},
        ),
    log:
        "logs/train/summary.log",
    benchmark:
        "results/benchmarks/train/summary.tsv"
    threads: 1
    resources:
        mem_mb=500,
        runtime=5,
    conda:
        "../envs/glioma.yaml"
    script:
        "../scripts/train_summary.py"


rule train_final:
    input:
        splits=model_paths.SPLITS,
        summary=f"{model_paths.SELECT_DIR}/summary.tsv",
    output:
        **model_paths.final_outputs(),
    params:
        preprocess_root="results/preprocess",
        out_dir=lambda wildcards, output: os.path.dirname(output.weights),
        settings=TRAIN_SETTINGS,
    log:
        "logs/train/final.log",
    benchmark:
        "results/benchmarks/train/final.tsv"
    threads: config.get("train", {}).get("threads", 2)
    resources:
        **TRAIN_RESOURCES,
    conda:
        "../envs/glioma.yaml"
    script:
        "../scripts/train_final.py"
