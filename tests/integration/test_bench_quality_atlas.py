"""benchmarks/bench_quality_atlas.py runs end to end (tiny cohort, one epoch) and prints its table."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_quality_benchmark_prints_model_and_oracle(tmp_path):
    out = tmp_path / "quality.json"
    proc = subprocess.run(
        [sys.executable, str(REPO / "benchmarks" / "bench_quality_atlas.py"), "--train", "10", "--test", "12",
         "--resolution", "6", "--epochs", "1", "--threads", "1", "--root", str(tmp_path / "bench"),
         "--override", json.dumps({"train": {"batch_size": 2}}), "--json", str(out)],
        capture_output=True, text=True, timeout=900, cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(REPO / "src")})
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "model AUC" in proc.stdout and "oracle AUC" in proc.stdout, proc.stdout
    result = json.loads(out.read_text())
    assert 0.0 <= result["dice"] <= 1.0 and result["epochs"] == 1
    for model, oracle in result["aucs"].values():
        assert 0.0 <= model <= 1.0 and 0.5 <= oracle <= 1.0
    assert set(result["readers"]) == {"true latents", "measured signs"}
    assert all(0.0 <= auc <= 1.0 for reader in result["readers"].values() for auc in reader.values())
    assert "measured signs" in proc.stdout
    assert all(0.5 <= auc <= 1.0 for auc in result["sign_detectability"].values())
    assert (tmp_path / "bench" / "n10-12_6mm" / "splits.tsv").is_file()
