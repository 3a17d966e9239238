# Test-set inference with the final model artefact, and the comparison with the synthetic
# generator's oracle AUCs (written next to the cohort's evaluation).


rule infer:
    input:
        weights=model_paths.final_outputs()["weights"],
        info=model_paths.final_outputs()["info"],
        splits=model_paths.SPLITS,
    output:
        predictions="results/infer/{cohort}/predictions.csv",
        prognosais="results/infer/{cohort}/predictions_prognosais.csv",
        excluded="results/infer/{cohort}/excluded.tsv",
    params:
        model_dir=lambda wildcards, input: os.path.dirname(input.weights),
        preprocess_root="results/preprocess",
        out_dir=lambda wildcards, output: os.path.dirname(output.predictions),
        native=config.get("infer", {}).get("native", True),
    log:
        "logs/infer/{cohort}.log",
    benchmark:
        "results/benchmarks/infer/{cohort}.tsv"
    threads: 2
    resources:
        mem_mb=4000,
        runtime=60,
    conda:
        "../envs/glioma.yaml"
    script:
        "../scripts/infer_predict.py"


rule infer_model_vs_oracle:
    input:
        predictions="results/infer/{cohort}/predictions.csv",
        oracle=lambda wildcards: f"{get_raw_root(wildcards)}/oracle.tsv",
    output:
        table=report(
            "results/evaluate/{cohort}/model_vs_oracle.csv",
            caption="../report/model_vs_oracle.rst",
            category="3. Model",
            subcategory="{cohort}",
            labels={"table": "model vs oracle AUC"},
        ),
    params:
        preprocess_root="results/preprocess",
        infer_dir=lambda wildcards, input: os.path.dirname(input.predictions),
    log:
        "logs/infer/{cohort}_model_vs_oracle.log",
    benchmark:
        "results/benchmarks/infer/{cohort}_model_vs_oracle.tsv"
    threads: 1
    resources:
        mem_mb=1000,
        runtime=5,
    conda:
        "../envs/glioma.yaml"
    script:
        "../scripts/infer_model_vs_oracle.py"


rule model:
    input:
        model_paths.model_targets(
            [name for name, entry in COHORTS.items() if entry["role"] == "test"],
            [name for name in SYNTHETIC_COHORTS if COHORTS[name]["role"] == "test"],
        ),
    default_target: False
