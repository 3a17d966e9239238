# Preprocessing: every included patient's four native scans -> atlas-space, N4-corrected,
# skull-stripped, z-scored volumes + brain mask + transforms + QC (see README.md).
# A patient whose input is bad or whose registration fails QC gets qc.json with
# "status": "excluded" and the reason; the job still succeeds and the cohort goes on.
from glioma.preprocess.config import preprocess_fingerprint

# an edited processing setting reruns the patients (Snakemake's params trigger); threads do not
PREPROCESS_SETTINGS = preprocess_fingerprint(config)


rule preprocess_subject:
    input:
        unpack(get_preprocess_subject_inputs),
    output:
        # the other files (t1..flair, brain_mask, seg, qc.png, transforms/) are written next to
        # qc.json only for included patients; readers check qc.json's status first
        qc="results/preprocess/{cohort}/{subject}/qc.json",
    params:
        settings=PREPROCESS_SETTINGS,
        out_dir=lambda wildcards: f"results/preprocess/{wildcards.cohort}/{wildcards.subject}",
    log:
        "logs/preprocess/{cohort}/{subject}.log",
    benchmark:
        "results/benchmarks/preprocess/{cohort}/{subject}.tsv"
    threads: config.get("preprocess", {}).get("threads", 1)
    resources:
        # HD-BET v1 on CPU and the 1 mm grid peak near 3.5 GB; the demo's 3 mm grid far less
        mem_mb=4000,
        runtime=20,
    conda:
        "../envs/glioma.yaml"
    script:
        "../scripts/preprocess_subject.py"


rule preprocess_qc:
    input:
        qc=get_preprocess_qc_inputs,
    output:
        table="results/preprocess/{cohort}/qc.tsv",
        figure=report(
            "results/preprocess/{cohort}/qc_overview.png",
            caption="../report/preprocess_qc.rst",
            category="Preprocessing",
            labels={"cohort": "{cohort}", "figure": "QC overview"},
        ),
    log:
        "logs/preprocess/{cohort}/qc.log",
    benchmark:
        "results/benchmarks/preprocess/{cohort}/qc.tsv"
    threads: 1
    resources:
        mem_mb=1000,
        runtime=5,
    conda:
        "../envs/glioma.yaml"
    script:
        "../scripts/preprocess_qc.py"
