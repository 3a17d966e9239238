"""The final run's training-curve check against the selection run, and the grid's selection (glioma.model.train)."""

import pandas as pd
import pytest

from glioma.model.train import compare_training_curves, selected_run_dir


def _curve(losses, start=0):
    return pd.DataFrame({"epoch": range(start, start + len(losses)), "train_loss": losses})


def test_a_final_run_that_follows_the_selection_run_is_ok():
    selection = _curve([3.0, 2.0, 1.5, 1.2, 1.1, 1.05, 1.0])
    final = _curve([2.9, 2.1, 1.4, 1.3, 1.0])  # trained for best epoch + 1 = 5 epochs
    check = compare_training_curves(final, selection)
    assert check["status"] == "ok"
    assert check["epochs"] == [2, 3, 4]  # the final run's last three, compared epoch by epoch
    assert check["final_train_loss"] == pytest.approx((1.4 + 1.3 + 1.0) / 3)
    assert check["selection_train_loss"] == pytest.approx((1.5 + 1.2 + 1.1) / 3)


def test_a_diverging_final_run_is_flagged():
    # measured on the demo before (README): training loss 4.2 -> 5.0 after epoch 8
    selection = _curve([4.6, 4.4, 4.3, 4.2, 4.1, 4.0, 3.9, 3.9, 3.8, 3.8])
    final = _curve([4.6, 4.4, 4.3, 4.2, 4.3, 4.5, 4.7, 4.9, 5.0, 5.0])
    flagged = compare_training_curves(final, selection)
    assert flagged["status"] == "diverged" and flagged["ratio"] == pytest.approx(4.967 / 3.833, abs=0.01)
    assert compare_training_curves(final, selection, tolerance=1.35)["status"] == "ok"
    worse = _curve([4.6, 4.4, 4.3, 6.0, 7.5, 8.0, 8.5, 9.0, 9.5, 9.9])
    assert compare_training_curves(worse, selection)["status"] == "diverged"


def test_no_common_epochs_is_not_compared():
    check = compare_training_curves(_curve([1.0, 1.0], start=10), _curve([1.0, 1.0]))
    assert check["status"] == "not compared" and check["epochs"] == []


def test_selected_run_dir(tmp_path):
    summary = tmp_path / "select" / "summary.tsv"
    summary.parent.mkdir()
    summary.write_text("params\tbest_epoch\tselected\nlr0.003\t3\t0\nlr0.001\t5\t1\n")
    assert selected_run_dir(summary) == tmp_path / "select" / "lr0.001"


def _result(tmp_path, name, mode, best_epoch, best_loss, epochs, last_ma):
    import json

    from glioma.model.train import selection_score

    row = {"params": name, "settings": {"lr": float(name[2:])}, "best_epoch": best_epoch,
           "best_val_loss": best_loss, "best_val_loss_ma": best_loss, "epochs_trained": epochs,
           "last_val_loss_ma": last_ma}
    row.update(selection_score(row, mode))
    path = tmp_path / name / "result.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(row))
    return path


@pytest.mark.parametrize(("mode", "winner", "epochs"), [("best", "lr0.003", 7), ("last", "lr0.001", 20)])
def test_select_epoch_best_or_last_decides_the_winner_and_the_final_epochs(tmp_path, mode, winner, epochs):
    from glioma.model.train import selected_from_summary, summarize_selection

    # lr 3e-3: lowest loss early (epoch 6) by chance, worse at its end; lr 1e-3: settled lower
    paths = [_result(tmp_path, "lr0.003", mode, 6, 4.49, 15, 4.83),
             _result(tmp_path, "lr0.001", mode, 17, 4.55, 20, 4.60)]
    table = summarize_selection(paths, tmp_path / "summary.tsv")
    assert table.loc[table["selected"] == 1, "params"].item() == winner
    params, n_epochs = selected_from_summary(tmp_path / "summary.tsv")
    assert params == {"lr": float(winner[2:])} and n_epochs == epochs


def test_summary_refuses_mixed_or_unscored_selection_results(tmp_path):
    import json

    from glioma.model.train import summarize_selection

    best = _result(tmp_path, "lr0.003", "best", 6, 4.49, 15, 4.83)
    last = _result(tmp_path, "lr0.001", "last", 17, 4.55, 20, 4.60)
    with pytest.raises(ValueError, match="disagree on train.select_epoch"):
        summarize_selection([best, last], tmp_path / "summary.tsv")
    old = json.loads(best.read_text())
    del old["score"]
    best.write_text(json.dumps(old))
    with pytest.raises(ValueError, match="without a score"):
        summarize_selection([best], tmp_path / "summary.tsv")
    assert not (tmp_path / "summary.tsv").exists()


def test_select_epoch_is_validated():
    from glioma.errors import ConfigError
    from glioma.model.config import TrainConfig

    assert TrainConfig.from_dict({"select_epoch": "last"}).select_epoch == "last"
    with pytest.raises(ConfigError, match="select_epoch"):
        TrainConfig.from_dict({"select_epoch": "final"})
