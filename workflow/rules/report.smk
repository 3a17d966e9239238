# The paper-predictions target (`snakemake paper`): Table 2, ROC curves, confusion matrices,
# subtypes, Appendix E and the survival comparison from the published PrognosAIs test-set
# predictions and the real TCGA clinical tables. Depends on no other stage.
# Report categories follow the paper; `snakemake paper --report results/paper_report.html`.
from glioma.evaluate import targets as evaluate_targets

PAPER_DIR = "results/paper"
EVAL_CFG = config["evaluate"]


rule paper:
    input:
        evaluate_targets.paper_targets(PAPER_DIR),
    default_target: False


rule paper_table2:
    input:
        predictions=EVAL_CFG["paper_predictions"],
    output:
        table2=report(
            f"{PAPER_DIR}/table2.csv",
            caption="../report/table2.rst",
            category="2. Classification (Table 2, Fig. 3)",
            subcategory="published predictions",
            labels={"figure": "Table 2", "set": "published test predictions"},
        ),
        table2_formatted=f"{PAPER_DIR}/table2_formatted.csv",
        roc=report(
            f"{PAPER_DIR}/roc.png",
            caption="../report/roc.rst",
            category="2. Classification (Table 2, Fig. 3)",
            subcategory="published predictions",
            labels={"figure": "Fig. 3 ROC curves", "set": "published test predictions"},
        ),
        roc_pdf=f"{PAPER_DIR}/roc.pdf",
    params:
        n_resamples=EVAL_CFG["bootstrap_resamples"],
        seed=EVAL_CFG["seed"],
        ci_method=EVAL_CFG["ci_method"],
    log:
        "logs/paper/table2.log",
    benchmark:
        "results/benchmarks/paper/table2.tsv"
    threads: 1
    resources:
        mem_mb=1000,
        runtime=10,
    conda:
        "../envs/glioma.yaml"
    script:
        "../scripts/evaluate_table2.py"


rule paper_subtypes:
    input:
        predictions=EVAL_CFG["paper_predictions"],
    output:
        confusion_idh=f"{PAPER_DIR}/confusion_idh.csv",
        confusion_idh_png=report(
            f"{PAPER_DIR}/confusion_idh.png",
            caption="../report/confusion.rst",
            category="4. Appendix D and H: confusion matrices",
            subcategory="published predictions",
            labels={"figure": "IDH", "set": "published test predictions"},
        ),
        confusion_idh_pdf=f"{PAPER_DIR}/confusion_idh.pdf",
        confusion_1p19q=f"{PAPER_DIR}/confusion_1p19q.csv",
        confusion_1p19q_png=report(
            f"{PAPER_DIR}/confusion_1p19q.png",
            caption="../report/confusion.rst",
            category="4. Appendix D and H: confusion matrices",
            subcategory="published predictions",
            labels={"figure": "1p/19q", "set": "published test predictions"},
        ),
        confusion_1p19q_pdf=f"{PAPER_DIR}/confusion_1p19q.pdf",
        confusion_grade=f"{PAPER_DIR}/confusion_grade.csv",
        confusion_grade_png=report(
            f"{PAPER_DIR}/confusion_grade.png",
            caption="../report/confusion.rst",
            category="4. Appendix D and H: confusion matrices",
            subcategory="published predictions",
            labels={"figure": "grade", "set": "published test predictions"},
        ),
        confusion_grade_pdf=f"{PAPER_DIR}/confusion_grade.pdf",
        confusion_who2016=f"{PAPER_DIR}/confusion_who2016.csv",
        confusion_who2016_png=report(
            f"{PAPER_DIR}/confusion_who2016.png",
            caption="../report/confusion_who.rst",
            category="4. Appendix D and H: confusion matrices",
            subcategory="published predictions",
            labels={"figure": "WHO 2016 subtype", "set": "published test predictions"},
        ),
        confusion_who2016_pdf=f"{PAPER_DIR}/confusion_who2016.pdf",
        confusion_who2021=f"{PAPER_DIR}/confusion_who2021.csv",
        confusion_who2021_png=report(
            f"{PAPER_DIR}/confusion_who2021.png",
            caption="../report/confusion_who.rst",
            category="4. Appendix D and H: confusion matrices",
            subcategory="published predictions",
            labels={"figure": "WHO 2021 subtype", "set": "published test predictions"},
        ),
        confusion_who2021_pdf=f"{PAPER_DIR}/confusion_who2021.pdf",
        performance=report(
            f"{PAPER_DIR}/subtype_performance.csv",
            caption="../report/subtype_performance.rst",
            category="4. Appendix D and H: confusion matrices",
            subcategory="published predictions",
            labels={"figure": "per-subtype performance", "set": "published test predictions"},
        ),
        appendix_e=report(
            f"{PAPER_DIR}/appendix_e_predictions.csv",
            caption="../report/appendix_e.rst",
            category="5. Appendix E: per-patient predictions",
            subcategory="published predictions",
            labels={"figure": "Appendix E", "set": "published test predictions"},
        ),
    log:
        "logs/paper/subtypes.log",
    benchmark:
        "results/benchmarks/paper/subtypes.tsv"
    threads: 1
    resources:
        mem_mb=1000,
        runtime=10,
    conda:
        "../envs/glioma.yaml"
    script:
        "../scripts/evaluate_subtypes.py"


rule paper_survival:
    input:
        predictions=EVAL_CFG["paper_predictions"],
        cdr=EVAL_CFG["survival"]["tcga_cdr"],
    output:
        logrank=report(
            f"{PAPER_DIR}/survival_logrank.csv",
            caption="../report/survival_logrank.rst",
            category="7. Appendix G: survival",
            subcategory="published predictions",
            labels={"figure": "log-rank tests", "set": "published test predictions"},
        ),
        km=report(
            f"{PAPER_DIR}/survival_km.png",
            caption="../report/survival_km.rst",
            category="7. Appendix G: survival",
            subcategory="published predictions",
            labels={"figure": "Kaplan-Meier curves", "set": "published test predictions"},
        ),
        km_pdf=f"{PAPER_DIR}/survival_km.pdf",
    log:
        "logs/paper/survival.log",
    benchmark:
        "results/benchmarks/paper/survival.tsv"
    threads: 1
    resources:
        # the TCGA-CDR workbook (11,160 patients) is read whole
        mem_mb=2000,
        runtime=10,
    conda:
        "../envs/glioma.yaml"
    script:
        "../scripts/evaluate_survival.py"
