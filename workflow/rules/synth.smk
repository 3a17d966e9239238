# Embedded synthetic cohort generator: writes the raw download of each synthetic cohort.


rule synth_cohort:
    output:
        marker="results/raw/{cohort}/cohort.json",
        oracle="results/raw/{cohort}/oracle.tsv",
        oracle_auc="results/raw/{cohort}/oracle_auc.json",
        phi_canaries="results/raw/{cohort}/phi_canaries.txt",
    log:
        "logs/synth/{cohort}.log",
    benchmark:
        "results/benchmarks/synth/{cohort}.tsv"
    params:
        cohort_file=get_cohort_file,  # a param, not an input: see get_cohort_spec (common.smk)
        spec=get_synth_spec,
        seed=config.get("seed", 42),
    wildcard_constraints:
        cohort="|".join(SYNTHETIC_COHORTS) if SYNTHETIC_COHORTS else "NO_SYNTHETIC_COHORT",
    threads: 1
    resources:
        # template + tissue maps + four contrasts at 1 mm (~0.6 GB) plus one series in flight
        mem_mb=3000,
        runtime=30,
    conda:
        "../envs/glioma.yaml"
    script:
        "../scripts/synth_cohort.py"
