"""Model artefact round trip, predictions CSV schemas, PrognosAIs format, model vs oracle."""

import json

import pandas as pd
import pytest
import torch

from glioma.data.splits import assemble_splits
from glioma.data.toy import make_toy_cohort
from glioma.model.artefact import load_artefact, save_artefact
from glioma.model.config import settings_from_config
from glioma.model.infer import (
    from_prognosais,
    model_vs_oracle,
    predict_cohort,
    to_prognosais,
)
from glioma.model.network import PSNet
from glioma.schema import PREDICTION_COLUMNS, PROGNOSAIS_COLUMNS

SETTINGS = settings_from_config(
    {"model": {"base_filters": 4, "depth": 3, "dense_units": 8, "norm": "instance"}}
)


@pytest.fixture(scope="module")
def artefact(tmp_path_factory):
    folder = tmp_path_factory.mktemp("model")
    torch.manual_seed(0)
    net = PSNet(SETTINGS.network)
    save_artefact(folder, net, SETTINGS, spatial_shape=(12, 12, 12), training={"patients": 3})
    return folder, net


def test_round_trip_with_weights_only(artefact):
    folder, net = artefact
    state = torch.load(folder / "model.pt", weights_only=True)
    assert set(state) == set(net.state_dict())
    loaded, info = load_artefact(folder)
    assert info["channels"] == ["t1", "t1c", "t2", "flair"]
    assert info["label_maps"]["grade"] == {"2": 0, "3": 1, "4": 2}
    net.eval()
    x = torch.randn(1, 4, 12, 12, 12)
    with torch.no_grad():
        for key, value in net(x).items():
            torch.testing.assert_close(loaded(x)[key], value)
    card = (folder / "MODEL_CARD.md").read_text()
    assert "Not for clinical use" in card and "Intended use" in card


@pytest.mark.parametrize("structure", ["codeletion_within_idh", "who_classes"])
def test_round_trip_keeps_the_label_structure(structure, tmp_path):
    settings = settings_from_config({"model": {"base_filters": 4, "depth": 3, "dense_units": 8, "norm": "instance",
                                               "pooling": "tumour_only", "label_structure": structure}})
    torch.manual_seed(0)
    net = PSNet(settings.network).eval()
    save_artefact(tmp_path, net, settings, spatial_shape=(12, 12, 12), training={"patients": 3})
    loaded, info = load_artefact(tmp_path)
    assert info["network"]["label_structure"] == structure
    assert f"label structure `{structure}`" in (tmp_path / "MODEL_CARD.md").read_text()
    x = torch.randn(1, 4, 12, 12, 12)
    with torch.no_grad():
        expected, got = net(x), loaded(x)
    for key in ("idh", "codeletion", "grade"):
        torch.testing.assert_close(got[key], expected[key])


def test_round_trip_keeps_the_ordinal_grade_head(tmp_path):
    settings = settings_from_config({"model": {"base_filters": 4, "depth": 3, "dense_units": 0, "norm": "instance",
                                               "pooling": "tumour_only", "grade_head": "ordinal"}})
    torch.manual_seed(0)
    net = PSNet(settings.network).eval()
    with torch.no_grad():  # thresholds away from their initial values: the loaded ones are used
        net.heads["grade"].cut.fill_(-2.5)
        net.heads["grade"].gaps.fill_(0.1)
    save_artefact(tmp_path, net, settings, spatial_shape=(12, 12, 12), training={"patients": 3})
    loaded, info = load_artefact(tmp_path)
    assert info["network"]["grade_head"] == "ordinal"
    assert "grade head `ordinal`" in (tmp_path / "MODEL_CARD.md").read_text()
    x = torch.randn(1, 4, 12, 12, 12)
    with torch.no_grad():
        torch.testing.assert_close(loaded(x)["grade"], net(x)["grade"])
    torch.testing.assert_close(loaded.heads["grade"].thresholds(), net.heads["grade"].thresholds())


def test_same_weights_give_the_same_bytes(artefact, tmp_path):
    """model.pt depends only on the weights (not on the temporary file name it was written
    through), so two runs of the same training give the same file and checksum."""
    folder, net = artefact
    save_artefact(tmp_path, net, SETTINGS, spatial_shape=(12, 12, 12), training={"patients": 3})
    assert (tmp_path / "model.pt").read_bytes() == (folder / "model.pt").read_bytes()
    checksums = [json.loads((f / "model.json").read_text())["weights_sha256"] for f in (folder, tmp_path)]
    assert checksums[0] == checksums[1]


def test_tampered_weights_are_refused(artefact, tmp_path):
    folder, _ = artefact
    for name in ("model.pt", "model.json", "MODEL_CARD.md"):
        (tmp_path / name).write_bytes((folder / name).read_bytes())
    info = json.loads((tmp_path / "model.json").read_text())
    info["weights_sha256"] = "0" * 64
    (tmp_path / "model.json").write_text(json.dumps(info))
    with pytest.raises(ValueError, match="checksum"):
        load_artefact(tmp_path)


def test_weights_of_another_network_layout_are_refused_clearly(artefact, tmp_path):
    folder, _ = artefact
    for name in ("model.pt", "model.json", "MODEL_CARD.md"):
        (tmp_path / name).write_bytes((folder / name).read_bytes())
    info = json.loads((tmp_path / "model.json").read_text())
    info["network"]["dense_units"] = 9  # the heads the weights were saved from had 8 units
    (tmp_path / "model.json").write_text(json.dumps(info))
    with pytest.raises(ValueError, match=r"model\.pt: the weights do not fit .*model\.json.*glioma"):
        load_artefact(tmp_path)


def test_predict_cohort_writes_both_formats(artefact, tmp_path, shared_data):
    folder, _ = artefact
    pre, sheet = make_toy_cohort(tmp_path, "777", 3, shape=(12, 12, 12), seed=1)
    splits, _ = assemble_splits({"777": sheet}, {"777": "test"}, pre)
    out = tmp_path / "infer"
    frame = predict_cohort(folder, splits, "777", pre, out, native=False)
    assert list(frame.columns) == list(PREDICTION_COLUMNS)
    assert len(frame) == 3
    ours = pd.read_csv(out / "predictions.csv", dtype={"subject": str, "cohort": str})
    assert ours["subject"].tolist() == ["0001", "0002", "0003"]
    assert ours[["score_grade_2", "score_grade_3", "score_grade_4"]].sum(axis=1).round(4).eq(1).all()
    theirs = pd.read_csv(out / "predictions_prognosais.csv")
    published = pd.read_csv(shared_data / "prognosais_supplementary" / "test_predictions.csv")
    assert list(theirs.columns) == list(PROGNOSAIS_COLUMNS) == list(published.columns)
    assert (out / "0001" / "seg.nii.gz").is_file()
    # the published file converts to our schema and back without loss
    back = to_prognosais(from_prognosais(published))
    pd.testing.assert_frame_equal(back.reset_index(drop=True), published, check_dtype=False)


def test_model_vs_oracle_table():
    preds = pd.DataFrame({
        "cohort": "c", "subject": ["1", "2", "3", "4"],
        "idh": ["0", "1", "0", "1"], "codeletion": ["", "", "0", "1"], "grade": ["2", "3", "4", "4"],
        "score_idh_wildtype": [0.9, 0.2, 0.8, 0.1], "score_idh_mutated": [0.1, 0.8, 0.2, 0.9],
        "score_1p19q_intact": [0.5] * 4, "score_1p19q_codeleted": [0.2, 0.2, 0.3, 0.7],
        "score_grade_2": [0.8, 0.1, 0.1, 0.1], "score_grade_3": [0.1, 0.8, 0.1, 0.1],
        "score_grade_4": [0.1, 0.1, 0.8, 0.8],
    })
    table = model_vs_oracle(preds, {"IDH": 0.9, "1p19q": 0.8, "grade": 0.85}, dice=0.9)
    assert table["task"].tolist() == ["IDH", "1p19q", "grade", "dice"]
    assert table.loc[0, "model_auc"] == 1.0 and table.loc[1, "model_auc"] == 1.0
    assert table.loc[3, "oracle_auc"] == 1.0 and table.loc[3, "model_auc"] == 0.9


def test_model_vs_oracle_uses_the_posterior_of_the_predicted_patients():
    preds = pd.DataFrame({
        "cohort": "c", "subject": ["1", "2", "3", "4"],
        "idh": ["0", "1", "0", "1"], "codeletion": ["0", "0", "0", "1"], "grade": ["2", "3", "4", "4"],
        "score_idh_wildtype": [0.9, 0.2, 0.8, 0.1], "score_idh_mutated": [0.1, 0.8, 0.2, 0.9],
        "score_1p19q_intact": [0.5] * 4, "score_1p19q_codeleted": [0.2, 0.2, 0.3, 0.7],
        "score_grade_2": [0.8, 0.1, 0.1, 0.1], "score_grade_3": [0.1, 0.8, 0.1, 0.1],
        "score_grade_4": [0.1, 0.1, 0.8, 0.8],
    })
    oracle = pd.DataFrame({
        "subject": ["4", "3", "2", "1", "99"],  # another order, and a patient not predicted
        "oracle_p_idh_mutated": [0.6, 0.7, 0.4, 0.1, 0.5],  # ranks 1 above 0 only partly
        "oracle_p_1p19q_codeleted": [0.9, 0.1, 0.1, 0.1, 0.5],
        "oracle_p_grade_2": [0.1, 0.1, 0.2, 0.7, 0.3],
        "oracle_p_grade_3": [0.1, 0.2, 0.6, 0.2, 0.3],
        "oracle_p_grade_4": [0.8, 0.7, 0.2, 0.1, 0.4],
    })
    table = model_vs_oracle(preds, oracle, dice=0.5).set_index("task")
    # IDH truth (subject order 1..4) 0,1,0,1; oracle p 0.1,0.4,0.7,0.6 -> pairs (1>0): 0.4>0.1, 0.4<0.7, 0.6>0.1, 0.6<0.7
    assert table.loc["IDH", "oracle_auc"] == pytest.approx(0.5)
    assert table.loc["1p19q", "oracle_auc"] == pytest.approx(1.0)
    assert table.loc["grade", "oracle_auc"] == pytest.approx(1.0)
    with pytest.raises(ValueError, match="lacks predicted patients"):
        model_vs_oracle(preds.assign(subject=["1", "2", "3", "5"]), oracle, dice=0.5)
