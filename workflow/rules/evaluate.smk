# Evaluation of our own model on the test cohorts, and the patient tables of the study.
# Inputs are the contracts of src/glioma/schema.py: results/infer/{cohort}/predictions.csv and
# .../{subject}/seg.nii.gz (inference), results/preprocess/{cohort}/{subject}/ (ground truth and
# images), results/ingest/{cohort}/subjects.tsv and results/ingest/inclusion_summary.tsv.
# `snakemake evaluate` builds everything; the lead adds evaluate_targets(...) to `rule all`.
from glioma.evaluate import targets as evaluate_targets

EVAL_DIR = "results/evaluate"


rule evaluate:
    input:
        evaluate_targets.evaluate_targets(
            [name for name, entry in COHORTS.items() if entry["role"] == "test"]
        ),
    default_target: False


rule evaluate_table1:
    input:
        sheets=expand("results/ingest/{cohort}/subjects.tsv", cohort=COHORT_NAMES),
    output:
        table1=report(
            f"{EVAL_DIR}/table1.csv",
            caption="../report/table1.rst",
            category="1. Patients (Table 1, Fig. 2)",
            labels={"figure": "Table 1"},
        ),
    params:
        roles=[COHORTS[name]["role"] for name in COHORT_NAMES],
    log:
        "logs/evaluate/table1.log",
    benchmark:
        "results/benchmarks/evaluate/table1.tsv"
    threads: 1
    resources:
        mem_mb=500,
        runtime=5,
    conda:
        "../envs/glioma.yaml"
    script:
        "../scripts/evaluate_table1.py"


rule evaluate_flowchart:
    input:
        summary="results/ingest/inclusion_summary.tsv",
        # preprocessing-QC exclusions and the number analysed, per cohort
        qc=expand("results/preprocess/{cohort}/qc.tsv", cohort=COHORT_NAMES),
    output:
        flowchart=report(
            f"{EVAL_DIR}/flowchart.png",
            caption="../report/flowchart.rst",
            category="1. Patients (Table 1, Fig. 2)",
            labels={"figure": "Fig. 2 inclusion flowchart"},
        ),
        flowchart_pdf=f"{EVAL_DIR}/flowchart.pdf",
    log:
        "logs/evaluate/flowchart.log",
    benchmark:
        "results/benchmarks/evaluate/flowchart.tsv"
    threads: 1
    resources:
        mem_mb=500,
        runtime=5,
    conda:
        "../envs/glioma.yaml"
    script:
        "../scripts/evaluate_flowchart.py"


rule evaluate_table2:
    input:
        predictions="results/infer/{cohort}/predictions.csv",
    output:
        table2=report(
            f"{EVAL_DIR}/{{cohort}}/table2.csv",
            caption="../report/table2.rst",
            category="2. Classification (Table 2, Fig. 3)",
            subcategory="{cohort}",
            labels={"figure": "Table 2", "set": "{cohort}"},
        ),
        table2_formatted=f"{EVAL_DIR}/{{cohort}}/table2_formatted.csv",
        roc=report(
            f"{EVAL_DIR}/{{cohort}}/roc.png",
            caption="../report/roc.rst",
            category="2. Classification (Table 2, Fig. 3)",
            subcategory="{cohort}",
            labels={"figure": "Fig. 3 ROC curves", "set": "{cohort}"},
        ),
        roc_pdf=f"{EVAL_DIR}/{{cohort}}/roc.pdf",
    params:
        n_resamples=config["evaluate"]["bootstrap_resamples"],
        seed=config["evaluate"]["seed"],
        ci_method=config["evaluate"]["ci_method"],
    log:
        "logs/evaluate/{cohort}/table2.log",
    benchmark:
        "results/benchmarks/evaluate/{cohort}/table2.tsv"
    threads: 1
    resources:
        mem_mb=1000,
        runtime=10,
    conda:
        "../envs/glioma.yaml"
    script:
        "../scripts/evaluate_table2.py"


rule evaluate_subtypes:
    input:
        predictions="results/infer/{cohort}/predictions.csv",
    output:
        confusion_idh=f"{EVAL_DIR}/{{cohort}}/confusion_idh.csv",
        confusion_idh_png=report(
            f"{EVAL_DIR}/{{cohort}}/confusion_idh.png",
            caption="../report/confusion.rst",
            category="4. Appendix D and H: confusion matrices",
            subcategory="{cohort}",
            labels={"figure": "IDH", "set": "{cohort}"},
        ),
        confusion_idh_pdf=f"{EVAL_DIR}/{{cohort}}/confusion_idh.pdf",
        confusion_1p19q=f"{EVAL_DIR}/{{cohort}}/confusion_1p19q.csv",
        confusion_1p19q_png=report(
            f"{EVAL_DIR}/{{cohort}}/confusion_1p19q.png",
            caption="../report/confusion.rst",
            category="4. Appendix D and H: confusion matrices",
            subcategory="{cohort}",
            labels={"figure": "1p/19q", "set": "{cohort}"},
        ),
        confusion_1p19q_pdf=f"{EVAL_DIR}/{{cohort}}/confusion_1p19q.pdf",
        confusion_grade=f"{EVAL_DIR}/{{cohort}}/confusion_grade.csv",
        confusion_grade_png=report(
            f"{EVAL_DIR}/{{cohort}}/confusion_grade.png",
            caption="../report/confusion.rst",
            category="4. Appendix D and H: confusion matrices",
            subcategory="{cohort}",
            labels={"figure": "grade", "set": "{cohort}"},
        ),
        confusion_grade_pdf=f"{EVAL_DIR}/{{cohort}}/confusion_grade.pdf",
        confusion_who2016=f"{EVAL_DIR}/{{cohort}}/confusion_who2016.csv",
        confusion_who2016_png=report(
            f"{EVAL_DIR}/{{cohort}}/confusion_who2016.png",
            caption="../report/confusion_who.rst",
            category="4. Appendix D and H: confusion matrices",
            subcategory="{cohort}",
            labels={"figure": "WHO 2016 subtype", "set": "{cohort}"},
        ),
        confusion_who2016_pdf=f"{EVAL_DIR}/{{cohort}}/confusion_who2016.pdf",
        confusion_who2021=f"{EVAL_DIR}/{{cohort}}/confusion_who2021.csv",
        confusion_who2021_png=report(
            f"{EVAL_DIR}/{{cohort}}/confusion_who2021.png",
            caption="../report/confusion_who.rst",
            category="4. Appendix D and H: confusion matrices",
            subcategory="{cohort}",
            labels={"figure": "WHO 2021 subtype", "set": "{cohort}"},
        ),
        confusion_who2021_pdf=f"{EVAL_DIR}/{{cohort}}/confusion_who2021.pdf",
        performance=report(
            f"{EVAL_DIR}/{{cohort}}/subtype_performance.csv",
            caption="../report/subtype_performance.rst",
            category="4. Appendix D and H: confusion matrices",
            subcategory="{cohort}",
            labels={"figure": "per-subtype performance", "set": "{cohort}"},
        ),
        appendix_e=report(
            f"{EVAL_DIR}/{{cohort}}/appendix_e_predictions.csv",
            caption="../report/appendix_e.rst",
            category="5. Appendix E: per-patient predictions",
            subcategory="{cohort}",
            labels={"figure": "Appendix E", "set": "{cohort}"},
        ),
    log:
        "logs/evaluate/{cohort}/subtypes.log",
    benchmark:
        "results/benchmarks/evaluate/{cohort}/subtypes.tsv"
    threads: 1
    resources:
        mem_mb=1000,
        runtime=10,
    conda:
        "../envs/glioma.yaml"
    script:
        "../scripts/evaluate_subtypes.py"


rule evaluate_survival:
    input:
        predictions="results/infer/{cohort}/predictions.csv",
        subjects="results/ingest/{cohort}/subjects.tsv",
    output:
        logrank=report(
            f"{EVAL_DIR}/{{cohort}}/survival_logrank.csv",
            caption="../report/survival_logrank.rst",
            category="7. Appendix G: survival",
            subcategory="{cohort}",
            labels={"figure": "log-rank tests", "set": "{cohort}"},
        ),
        km=report(
            f"{EVAL_DIR}/{{cohort}}/survival_km.png",
            caption="../report/survival_km.rst",
            category="7. Appendix G: survival",
            subcategory="{cohort}",
            labels={"figure": "Kaplan-Meier curves", "set": "{cohort}"},
        ),
        km_pdf=f"{EVAL_DIR}/{{cohort}}/survival_km.pdf",
    log:
        "logs/evaluate/{cohort}/survival.log",
    benchmark:
        "results/benchmarks/evaluate/{cohort}/survival.tsv"
    threads: 1
    resources:
        mem_mb=1000,
        runtime=10,
    conda:
        "../envs/glioma.yaml"
    script:
        "../scripts/evaluate_survival.py"


# The per-patient masks are read from the two folders below; predictions.csv (written by
# inference after its segmentations) stands for them in the DAG.
rule evaluate_segmentation:
    input:
        predictions="results/infer/{cohort}/predictions.csv",
    output:
        metrics=report(
            f"{EVAL_DIR}/{{cohort}}/segmentation_metrics.tsv",
            caption="../report/segmentation_metrics.rst",
            category="3. Segmentation (Fig. 4)",
            subcategory="{cohort}",
            labels={"figure": "per-patient metrics", "set": "{cohort}"},
        ),
        boxplot=report(
            f"{EVAL_DIR}/{{cohort}}/segmentation_boxplot.png",
            caption="../report/segmentation_boxplot.rst",
            category="3. Segmentation (Fig. 4)",
            subcategory="{cohort}",
            labels={"figure": "Fig. 4 boxplots", "set": "{cohort}"},
        ),
        boxplot_pdf=f"{EVAL_DIR}/{{cohort}}/segmentation_boxplot.pdf",
    params:
        reference_dir=lambda wildcards: f"results/preprocess/{wildcards.cohort}",
        prediction_dir=lambda wildcards: f"results/infer/{wildcards.cohort}",
    log:
        "logs/evaluate/{cohort}/segmentation.log",
    benchmark:
        "results/benchmarks/evaluate/{cohort}/segmentation.tsv"
    threads: 1
    resources:
        # two 3-D masks and their distance maps at a time
        mem_mb=2000,
        runtime=20,
    conda:
        "../envs/glioma.yaml"
    script:
        "../scripts/evaluate_segmentation.py"


rule evaluate_overlays:
    input:
        predictions="results/infer/{cohort}/predictions.csv",
    output:
        overlay=report(
            f"{EVAL_DIR}/{{cohort}}/overlays.png",
            caption="../report/overlays.rst",
            category="6. Appendix F: segmentation overlays",
            subcategory="{cohort}",
            labels={"figure": "Appendix F overlays", "set": "{cohort}"},
        ),
        overlay_pdf=f"{EVAL_DIR}/{{cohort}}/overlays.pdf",
    params:
        image_dir=lambda wildcards: f"results/preprocess/{wildcards.cohort}",
        prediction_dir=lambda wildcards: f"results/infer/{wildcards.cohort}",
        n_patients=config["evaluate"]["overlay_patients"],
        seed=config["evaluate"]["seed"],
        sequence=config["evaluate"]["overlay_sequence"],
    log:
        "logs/evaluate/{cohort}/overlays.log",
    benchmark:
        "results/benchmarks/evaluate/{cohort}/overlays.tsv"
    threads: 1
    resources:
        mem_mb=1500,
        runtime=10,
    conda:
        "../envs/glioma.yaml"
    script:
        "../scripts/evaluate_overlays.py"
