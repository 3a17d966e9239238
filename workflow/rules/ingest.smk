# Ingest, the first stage: discover patients -> per patient, convert and select the four scans ->
# subject sheet per cohort -> inclusion summary. Logic: src/glioma/ingest (see README.md).
# Later stages: list patients with get_included_subjects(cohort) (common.smk) and depend on
# results/ingest/{cohort}/{subject}/record.json; the NIfTI files beside it are named in subjects.tsv.


checkpoint ingest_discover:
    input:
        raw=get_raw_marker,
    output:
        discovered="results/ingest/{cohort}/discovered.tsv",
        labels="results/ingest/{cohort}/labels.tsv",
    params:
        cohort_file=get_cohort_file,  # a param, not an input: see get_cohort_spec (common.smk)
        spec=get_cohort_spec,
    log:
        "logs/ingest/{cohort}/discover.log",
    benchmark:
        "results/benchmarks/ingest/{cohort}/discover.tsv"
    threads: 1
    resources:
        mem_mb=2000,  # the TCGA-CDR workbook takes ~1 GB in pandas
        runtime=30,
    conda:
        "../envs/glioma.yaml"
    script:
        "../scripts/ingest_discover.py"


rule ingest_subject:
    input:
        raw=get_raw_marker,
        discovered="results/ingest/{cohort}/discovered.tsv",
    output:
        record="results/ingest/{cohort}/{subject}/record.json",
    params:
        cohort_file=get_cohort_file,  # a param, not an input: see get_cohort_spec (common.smk)
        spec=get_cohort_spec,
    log:
        "logs/ingest/{cohort}/{subject}.log",
    benchmark:
        "results/benchmarks/ingest/{cohort}/{subject}.tsv"
    threads: 1
    resources:
        mem_mb=2000,  # dcm2niix and nibabel hold a few native volumes
        runtime=20,
    conda:
        "../envs/glioma.yaml"
    script:
        "../scripts/ingest_subject.py"


checkpoint ingest_sheet:
    input:
        discovered="results/ingest/{cohort}/discovered.tsv",
        labels="results/ingest/{cohort}/labels.tsv",
        records=get_ingest_records,
    output:
        subjects=report(
            "results/ingest/{cohort}/subjects.tsv",
            caption="../report/ingest_subjects.rst",
            category="0. Ingest",
            labels={"cohort": "{cohort}", "table": "subject sheet"},
        ),
        exclusions="results/ingest/{cohort}/exclusions.tsv",
    params:
        cohort_file=get_cohort_file,  # a param, not an input: see get_cohort_spec (common.smk)
        spec=get_cohort_spec,
    log:
        "logs/ingest/{cohort}/sheet.log",
    benchmark:
        "results/benchmarks/ingest/{cohort}/sheet.tsv"
    threads: 1
    resources:
        mem_mb=1000,
        runtime=10,
    conda:
        "../envs/glioma.yaml"
    script:
        "../scripts/ingest_sheet.py"


rule inclusion_summary:
    input:
        subjects=expand("results/ingest/{cohort}/subjects.tsv", cohort=COHORT_NAMES),
        exclusions=expand("results/ingest/{cohort}/exclusions.tsv", cohort=COHORT_NAMES),
    output:
        summary=report(
            "results/ingest/inclusion_summary.tsv",
            caption="../report/inclusion_summary.rst",
            category="0. Ingest",
            labels={"table": "inclusion summary"},
        ),
    params:
        cohorts=COHORT_NAMES,
    log:
        "logs/ingest/inclusion_summary.log",
    benchmark:
        "results/benchmarks/ingest/inclusion_summary.tsv"
    threads: 1
    resources:
        mem_mb=500,
        runtime=5,
    conda:
        "../envs/glioma.yaml"
    script:
        "../scripts/ingest_summary.py"
