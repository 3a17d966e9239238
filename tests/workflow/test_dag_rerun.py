"""Changing one cohort's config reruns only what depends on it (issue 6).

A tiny two-cohort workflow is ingested for real; then one cohort's YAML changes (a label mapping).
A comment or a new key order in the YAML reruns nothing. The dry run's job list holds that
cohort's jobs and the cross-cohort inclusion summary, none of the other cohort's; the real rerun
leaves every file of the other cohort untouched and applies the new mapping.
"""

from __future__ import annotations

import pandas as pd
import pytest
import yaml

TARGETS = ("results/ingest/inclusion_summary.tsv",)
LABELS = "pid,idh_status,grade_who\n{a},mut,II\n{b},wt,IV\n"
COLUMNS = {
    "idh": {"column": "idh_status", "map": {"mut": 1, "wt": 0}},
    "grade": {"column": "grade_who", "map": {"II": 2, "III": 3, "IV": 4}},
}


def _snapshot(root, cohort):
    """mtime (ns) and size of every file a cohort's jobs wrote."""
    files = [p for base in ("results/ingest", "logs/ingest") for p in (root / base / cohort).rglob("*") if p.is_file()]
    return {str(p.relative_to(root)): (p.stat().st_mtime_ns, p.stat().st_size) for p in files}


def _sheet(root, cohort):
    return pd.read_csv(root / f"results/ingest/{cohort}/subjects.tsv", sep="\t", dtype=str,
                       keep_default_na=False).set_index("subject")


@pytest.mark.workflow
def test_changing_one_cohort_reruns_only_its_jobs(workspace):
    ws = workspace
    ws.nifti_cohort("alpha", ["101", "102"], labels=LABELS.format(a="101", b="102"), label_columns=COLUMNS)
    ws.nifti_cohort("beta", ["0007", "B-2"], labels=LABELS.format(a="0007", b="B-2"), label_columns=COLUMNS)
    ws.write_config([("alpha", "train"), ("beta", "test")])
    ws.snakemake(*TARGETS)
    assert ws.snakemake("-n", *TARGETS).jobs() == []  # up to date
    beta_before = _snapshot(ws.root, "beta")
    alpha_before = _snapshot(ws.root, "alpha")
    assert _sheet(ws.root, "alpha").loc["101", "idh"] == "1"
    assert _sheet(ws.root, "beta").loc["0007", "idh"] == "1"  # numeric-only ID kept as a string

    # a comment and a new key order change the file (and its mtime) but not what it says: nothing
    # reruns (the content is a params of the rules that read it, the file no input)
    cohort_file = ws.path("config/cohorts/alpha.yaml")
    cohort = yaml.safe_load(cohort_file.read_text())
    reordered = dict(reversed(list(cohort.items())))
    cohort_file.write_text("# edited: a comment only\n" + yaml.safe_dump(reordered, sort_keys=False))
    assert ws.snakemake("-n", *TARGETS).jobs() == []

    # the label mapping of cohort alpha changes: "mut" now means unknown (YAML null)
    cohort["label_tables"][0]["columns"]["idh"]["map"]["mut"] = None
    cohort_file.write_text(yaml.safe_dump(cohort, sort_keys=False))

    jobs = ws.snakemake("-n", *TARGETS).jobs()
    listing = "\n".join(f"{rule} {wildcards}" for rule, wildcards in jobs)
    print(f"jobs after changing config/cohorts/alpha.yaml:\n{listing}")
    rules = sorted({rule for rule, _ in jobs})
    assert {"ingest_discover", "inclusion_summary"} <= set(rules), listing
    assert all(w.get("cohort") == "alpha" for rule, w in jobs if rule != "inclusion_summary"), listing
    assert not any("beta" in w.values() for _, w in jobs), listing

    ws.snakemake(*TARGETS)
    assert _snapshot(ws.root, "beta") == beta_before  # not one byte or mtime of beta changed
    alpha_after = _snapshot(ws.root, "alpha")
    for subject in ("101", "102"):  # the per-patient jobs ran again once the checkpoint had rerun
        record = f"results/ingest/alpha/{subject}/record.json"
        assert alpha_after[record][0] > alpha_before[record][0]
    alpha = _sheet(ws.root, "alpha")
    assert alpha.loc["101", "idh"] == "" and alpha.loc["102", "idh"] == "0"
    assert ws.snakemake("-n", *TARGETS).jobs() == []


@pytest.mark.workflow
def test_restart_after_a_kill_between_two_cohorts_ingest_plans_the_rest(workspace):
    """A run killed after one cohort's subject sheet and part of the next cohort's ingest restarts.

    Snakemake 9.15 counted the unfinished cohort's sheet checkpoint as done and the restarted
    `make demo` stopped with FileNotFoundError on its subjects.tsv (2026-12-06); the workflow now
    waits for that checkpoint and plans the missing ingest jobs.
    """
    ws = workspace
    for name, ids in (("alpha", ["101", "102"]), ("beta", ["201", "202"]), ("gamma", ["301", "302"])):
        ws.nifti_cohort(name, ids, labels=LABELS.format(a=ids[0], b=ids[1]), label_columns=COLUMNS)
    ws.write_config([("alpha", "train"), ("beta", "train"), ("gamma", "test")])
    # the state the kill left: alpha ingested, beta discovered with one of two patients ingested
    ws.snakemake("results/ingest/alpha/subjects.tsv", "results/ingest/beta/discovered.tsv",
                 "results/ingest/beta/201/record.json")

    jobs = ws.snakemake("-n").jobs()
    assert ("ingest_subject", {"cohort": "beta", "subject": "202"}) in jobs
    assert ("ingest_sheet", {"cohort": "beta"}) in jobs
    assert ("ingest_discover", {"cohort": "gamma"}) in jobs
    assert not any(rule == "ingest_sheet" and w == {"cohort": "alpha"} for rule, w in jobs)
