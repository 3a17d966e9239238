# Cohort assembly: who trains, who validates (15% hold-out), who is tested.
# results/cohort/splits.tsv is an editable table (like nnU-Net's splits); see README.md.


rule cohort_splits:
    input:
        sheets=expand("results/ingest/{cohort}/subjects.tsv", cohort=COHORT_NAMES),
        # qc.json of every included patient of every cohort (after the ingest checkpoints)
        qc=lambda wildcards: [
            f"results/preprocess/{cohort}/{subject}/qc.json"
            for cohort in COHORT_NAMES
            for subject in get_included_subjects(cohort)
        ],
    output:
        splits="results/cohort/splits.tsv",
        excluded="results/cohort/excluded.tsv",
        counts="results/cohort/fold_counts.tsv",
    params:
        roles=[COHORTS[name]["role"] for name in COHORT_NAMES],
        preprocess_root="results/preprocess",
        validation_fraction=config.get("cohort", {}).get("validation_fraction", 0.15),
        seed=config.get("cohort", {}).get("seed", config.get("seed", 42)),
    log:
        "logs/cohort/splits.log",
    benchmark:
        "results/benchmarks/cohort/splits.tsv"
    threads: 1
    resources:
        mem_mb=500,
        runtime=5,
    conda:
        "../envs/glioma.yaml"
    script:
        "../scripts/cohort_splits.py"
