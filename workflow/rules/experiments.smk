# The paper's appendix experiments (README.md), each one named target:
#   snakemake ablation     Appendix L: the model trained and tested without one sequence
#   snakemake subsets      Appendix I: trained on subsets of the training data, same test set
#   snakemake saliency     Appendix J: gradient saliency per task and feature maps (main model)
#   snakemake robustness   Suppl. F/K: most confidently wrong predictions, lowest-quality scan
#   snakemake experiments  all of them
# Runs come from config `experiments:`; each is trained by the main model's recipe (its selected
# hyperparameters and epochs, glioma.model.train.final_run) and predicted by the same adapter as
# rule `infer`. The main model (results/train/final) is the reference run `full`.
import os

from glioma.experiments.config import TRAINED_EXPERIMENTS, experiment_runs
from glioma.experiments import targets as exp_paths
from glioma.model import targets as model_paths

EXP_DIR = exp_paths.EXP_DIR
EXP_CFG = config.get("experiments") or {}
EXP_RUNS = experiment_runs(config)
EXP_COHORTS = EXP_CFG.get("cohorts") or [
    name for name, entry in COHORTS.items() if entry["role"] == "test"
]
EXP_RUN_DIR = exp_paths.RUN_DIR


wildcard_constraints:
    experiment="|".join(TRAINED_EXPERIMENTS),
    run=r"[A-Za-z0-9][A-Za-z0-9_-]*",


rule experiment_train:
    input:
        splits=model_paths.SPLITS,
        summary=f"{model_paths.SELECT_DIR}/summary.tsv",
    output:
        **model_paths.final_outputs(f"{EXP_RUN_DIR}/train"),
        run_splits=f"{EXP_RUN_DIR}/train/splits.tsv",
        run_record=f"{EXP_RUN_DIR}/train/run.json",
    params:
        preprocess_root="results/preprocess",
        out_dir=lambda wildcards, output: os.path.dirname(output.weights),
        settings=TRAIN_SETTINGS,
        run=lambda wildcards: EXP_RUNS[wildcards.experiment][wildcards.run].fingerprint(),
    log:
        "logs/experiments/{experiment}/{run}/train.log",
    benchmark:
        "results/benchmarks/experiments/{experiment}/{run}/train.tsv"
    threads: config.get("train", {}).get("threads", 2)
    resources:
        # as train_final (rules/train.smk): one plain job, or a multi-task SLURM job for DDP
        **TRAIN_RESOURCES,
    conda:
        "../envs/glioma.yaml"
    script:
        "../scripts/experiments_train.py"


rule experiment_infer:
    input:
        weights=f"{EXP_RUN_DIR}/train/model.pt",
        info=f"{EXP_RUN_DIR}/train/model.json",
        splits=model_paths.SPLITS,
    output:
        predictions=f"{EXP_RUN_DIR}/infer/{{cohort}}/predictions.csv",
        prognosais=f"{EXP_RUN_DIR}/infer/{{cohort}}/predictions_prognosais.csv",
        excluded=f"{EXP_RUN_DIR}/infer/{{cohort}}/excluded.tsv",
    params:
        model_dir=lambda wildcards, input: os.path.dirname(input.weights),
        preprocess_root="results/preprocess",
        out_dir=lambda wildcards, output: os.path.dirname(output.predictions),
        native=False,
    log:
        "logs/experiments/{experiment}/{run}/infer_{cohort}.log",
    benchmark:
        "results/benchmarks/experiments/{experiment}/{run}/infer_{cohort}.tsv"
    threads: 2
    resources:
        mem_mb=4000,
        runtime=60,
    conda:
        "../envs/glioma.yaml"
    script:
        "../scripts/infer_predict.py"


rule experiment_compare:
    input:
        predictions=lambda wildcards: [
            entry[0]
            for entry in exp_paths.comparison_runs(
                EXP_RUNS, wildcards.experiment, wildcards.cohort
            ).values()
        ],
        reference_model=model_paths.final_outputs()["info"],
    output:
        table=report(
            f"{EXP_DIR}/{{experiment}}/{{cohort}}/comparison.csv",
            caption="../report/experiments_comparison.rst",
            category="Experiments",
            subcategory="{experiment}",
            labels={"experiment": "{experiment}", "cohort": "{cohort}", "item": "table"},
        ),
        figure=report(
            f"{EXP_DIR}/{{experiment}}/{{cohort}}/comparison.png",
            caption="../report/experiments_comparison.rst",
            category="Experiments",
            subcategory="{experiment}",
            labels={"experiment": "{experiment}", "cohort": "{cohort}", "item": "figure"},
        ),
        figure_pdf=f"{EXP_DIR}/{{experiment}}/{{cohort}}/comparison.pdf",
    params:
        runs=lambda wildcards: exp_paths.comparison_runs(
            EXP_RUNS, wildcards.experiment, wildcards.cohort
        ),
        preprocess_root="results/preprocess",
        n_resamples=EXP_CFG.get("bootstrap_resamples", 1000),
        seed=EXP_CFG.get("seed", config.get("seed", 42)),
        ci_method=config["evaluate"]["ci_method"],
    log:
        "logs/experiments/{experiment}/{cohort}_compare.log",
    benchmark:
        "results/benchmarks/experiments/{experiment}/{cohort}_compare.tsv"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=15,
    conda:
        "../envs/glioma.yaml"
    script:
        "../scripts/experiments_compare.py"


rule experiment_saliency:
    input:
        weights=model_paths.final_outputs()["weights"],
        info=model_paths.final_outputs()["info"],
        predictions="results/infer/{cohort}/predictions.csv",
    output:
        table=report(
            f"{EXP_DIR}/saliency/{{cohort}}/saliency.csv",
            caption="../report/experiments_saliency.rst",
            category="Experiments",
            subcategory="saliency",
            labels={"experiment": "saliency", "cohort": "{cohort}", "item": "table"},
        ),
        figure=report(
            f"{EXP_DIR}/saliency/{{cohort}}/saliency.png",
            caption="../report/experiments_saliency.rst",
            category="Experiments",
            subcategory="saliency",
            labels={"experiment": "saliency", "cohort": "{cohort}", "item": "saliency maps"},
        ),
        figure_pdf=f"{EXP_DIR}/saliency/{{cohort}}/saliency.pdf",
        features=report(
            f"{EXP_DIR}/saliency/{{cohort}}/feature_maps.png",
            caption="../report/experiments_feature_maps.rst",
            category="Experiments",
            subcategory="saliency",
            labels={"experiment": "saliency", "cohort": "{cohort}", "item": "feature maps"},
        ),
        features_pdf=f"{EXP_DIR}/saliency/{{cohort}}/feature_maps.pdf",
    params:
        model_dir=lambda wildcards, input: os.path.dirname(input.weights),
        preprocess_root="results/preprocess",
        out_dir=lambda wildcards, output: os.path.dirname(output.table),
        settings=EXP_CFG.get("saliency") or {},
    log:
        "logs/experiments/saliency/{cohort}.log",
    benchmark:
        "results/benchmarks/experiments/saliency/{cohort}.tsv"
    threads: 2
    resources:
        mem_mb=4000,
        runtime=30,
    conda:
        "../envs/glioma.yaml"
    script:
        "../scripts/experiments_saliency.py"


rule experiment_robustness:
    input:
        predictions="results/infer/{cohort}/predictions.csv",
    output:
        table=report(
            f"{EXP_DIR}/robustness/{{cohort}}/cases.csv",
            caption="../report/experiments_robustness.rst",
            category="Experiments",
            subcategory="robustness",
            labels={"experiment": "robustness", "cohort": "{cohort}", "item": "table"},
        ),
        quality=f"{EXP_DIR}/robustness/{{cohort}}/quality.csv",
        figure=report(
            f"{EXP_DIR}/robustness/{{cohort}}/overlays.png",
            caption="../report/experiments_robustness.rst",
            category="Experiments",
            subcategory="robustness",
            labels={"experiment": "robustness", "cohort": "{cohort}", "item": "overlays"},
        ),
        figure_pdf=f"{EXP_DIR}/robustness/{{cohort}}/overlays.pdf",
    params:
        infer_dir=lambda wildcards, input: os.path.dirname(input.predictions),
        preprocess_root="results/preprocess",
        out_dir=lambda wildcards, output: os.path.dirname(output.table),
        settings=EXP_CFG.get("robustness") or {},
    log:
        "logs/experiments/robustness/{cohort}.log",
    benchmark:
        "results/benchmarks/experiments/robustness/{cohort}.tsv"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=15,
    conda:
        "../envs/glioma.yaml"
    script:
        "../scripts/experiments_robustness.py"


rule ablation:
    input:
        exp_paths.experiment_targets(["ablation"], EXP_COHORTS),
    default_target: False


rule subsets:
    input:
        exp_paths.experiment_targets(["subsets"], EXP_COHORTS),
    default_target: False


rule saliency:
    input:
        exp_paths.experiment_targets(["saliency"], EXP_COHORTS),
    default_target: False


rule robustness:
    input:
        exp_paths.experiment_targets(["robustness"], EXP_COHORTS),
    default_target: False


rule experiments:
    input:
        exp_paths.experiment_targets(["ablation", "subsets", "saliency", "robustness"], EXP_COHORTS),
    default_target: False
