"""Resume after a crash gives the uninterrupted run's weights; 2-process DDP (gloo, CPU) follows
the 1-process loss trajectory with the same global batch.

Tolerances: resume is compared exactly (deterministic mode, same process count). DDP vs 1 process
differs only by floating-point summation order (gradient all-reduce vs batch sum): train and
validation losses of the first two epochs agree within rtol 1e-4 (measured ~1e-5); over all three
epochs within rtol 1e-2 (AdamW amplifies rounding: measured ~3e-3); all weights together within
1% relative L2 distance.
"""

from __future__ import annotations

import pytest
import pytorch_lightning as pl
import torch

from glioma.data.datamodule import GliomaDataModule, load_records
from glioma.data.splits import assemble_splits
from glioma.data.toy import make_toy_cohort
from glioma.model.config import settings_from_config
from glioma.model.train import train_run

NET = {"base_filters": 4, "depth": 3, "dense_units": 8, "dropout": 0.2, "norm": "instance"}


@pytest.fixture(scope="module")
def records(tmp_path_factory):
    root = tmp_path_factory.mktemp("toy")
    pre, sheet = make_toy_cohort(root, "toy", 12, shape=(14, 16, 14), seed=3, unknown_fraction=0.0)
    splits, _ = assemble_splits({"toy": sheet}, {"toy": "train"}, pre, 1 / 6, 0)  # 10 train, 2 val
    return (load_records(splits, pre, ["train"]), load_records(splits, pre, ["val"]))


def _settings(**train):
    base = {"max_epochs": 3, "batch_size": 2, "lr": 3e-3, "progress_bar": False, "threads": 1,
            "augmentation": {"prob": 0.5}}
    return settings_from_config({"model": NET, "train": {**base, **train}})


def _dm(records, settings):
    cfg = settings.train
    return GliomaDataModule(train_records=records[0], val_records=records[1],
                            batch_size=cfg.batch_size, augmentation=cfg.augmentation, seed=cfg.seed)


class Crash(pl.Callback):
    """Simulates a killed job: raises in the middle of an epoch."""

    def __init__(self, epoch: int):
        self.epoch = epoch

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx):
        if trainer.current_epoch == self.epoch and batch_idx == 1:
            raise KeyboardInterrupt("simulated kill")


@pytest.mark.slow
def test_resume_after_crash_equals_uninterrupted_run(tmp_path, records):
    settings = _settings()
    full = train_run(tmp_path / "full", settings, datamodule=_dm(records, settings))
    crashed_dir = tmp_path / "crashed"
    with pytest.raises(BaseException):  # noqa: B017 - Lightning may wrap the interrupt
        train_run(crashed_dir, settings, datamodule=_dm(records, settings),
                  extra_callbacks=[Crash(epoch=2)])
    last = crashed_dir / "checkpoints" / "last.ckpt"
    # the checkpoint of the last whole epoch (2 of 5 steps each), whatever the validation loss did
    assert torch.load(last, map_location="cpu", weights_only=False)["global_step"] == 2 * 5
    resumed = train_run(crashed_dir, settings, datamodule=_dm(records, settings))
    assert len(resumed.history) == len(full.history) == 3
    assert resumed.history["val_loss"].tolist() == full.history["val_loss"].tolist()
    a, b = full.module.net.state_dict(), resumed.module.net.state_dict()
    for key in a:
        assert torch.equal(a[key], b[key]), key
    # Lightning's step-level log is whole too: every step once, the same values as uninterrupted
    from glioma.model.train import STEP_LOG, read_step_log

    def rows(folder):
        return [{k: float(v) if v else None for k, v in r.items()} for r in read_step_log(folder / STEP_LOG)]

    assert rows(crashed_dir) == rows(tmp_path / "full")
    steps = [r["step"] for r in rows(crashed_dir) if r["train_loss_step"] is not None]
    assert steps == list(range(3 * 5))  # every step once: 3 epochs of 10 patients, batch 2
    assert sum(r["val_loss"] is not None for r in rows(crashed_dir)) == 3  # one validation row per epoch
    # a run that is not resumed (changed settings) starts over instead
    other = train_run(crashed_dir, _settings(lr=1e-3, max_epochs=1), datamodule=_dm(records, _settings()))
    assert len(other.history) == 1


def test_changed_training_data_trains_afresh_instead_of_resuming(tmp_path, records, caplog):
    """A finished run folder is resumed (nothing to do) only for the same data: a patient more
    or a corrected label means new training, not the old checkpoint's weights."""
    settings = _settings(max_epochs=1)
    first = train_run(tmp_path / "run", settings, datamodule=_dm(records, settings))
    weights = {k: v.clone() for k, v in first.module.net.state_dict().items()}
    caplog.set_level("INFO", logger="glioma.model.train")

    def resumed() -> bool:
        return any(r.getMessage().startswith("resuming from") for r in caplog.records)

    caplog.clear()
    again = train_run(tmp_path / "run", settings, datamodule=_dm(records, settings))
    assert resumed()
    assert all(torch.equal(weights[k], v) for k, v in again.module.net.state_dict().items())

    relabelled = [dict(r) for r in records[0]]
    relabelled[0]["grade"] = (relabelled[0]["grade"] + 1) % 3
    caplog.clear()
    changed = train_run(tmp_path / "run", settings, datamodule=_dm((relabelled, records[1]), settings))
    assert not resumed()
    assert "training data differ" in caplog.text
    assert not all(torch.equal(weights[k], v) for k, v in changed.module.net.state_dict().items())
    caplog.clear()
    fewer = train_run(tmp_path / "run", settings, datamodule=_dm((records[0][:-2], records[1]), settings))
    assert len(fewer.history) == 1 and not resumed()


@pytest.mark.slow
def test_ddp_two_processes_match_one_process(tmp_path, records):
    # same global batch: 1 process x batch 2 vs 2 processes x batch 1; no dropout (its draws
    # differ per process by design); uniform class weights and all labels known, so that the mean
    # of per-process means equals the global mean.
    one = _settings(class_weights="none")
    one = type(one)(network=type(one.network)(**{**one.network.to_dict(), "dropout": 0.0}),
                    train=one.train, input_shape=None)
    single = train_run(tmp_path / "single", one, datamodule=_dm(records, one))
    two_cfg = type(one.train).from_dict({**one.train.to_dict(), "batch_size": 1, "devices": 2,
                                         "strategy": "ddp_spawn"})
    two = type(one)(network=one.network, train=two_cfg, input_shape=None)
    ddp = train_run(tmp_path / "ddp", two, datamodule=_dm(records, two))
    import pandas as pd

    ddp_hist = pd.read_csv(tmp_path / "ddp" / "metrics.csv")
    # run_info.json names the two processes that trained (gathered once the process group was up)
    import json

    info = json.loads((tmp_path / "ddp" / "run_info.json").read_text())
    assert info["world_size"] == 2 and info["distributed"]["strategy"] == "DDPStrategy"
    assert sorted(r["global_rank"] for r in info["ranks"]) == [0, 1]
    assert len({r["pid"] for r in info["ranks"]}) == 2
    assert json.loads((tmp_path / "single" / "run_info.json").read_text())["world_size"] == 1
    assert len(ddp_hist) == len(single.history) == 3
    for column in ("train_loss", "val_loss"):
        d = torch.tensor(ddp_hist[column].to_numpy())
        s = torch.tensor(single.history[column].to_numpy())
        # first two epochs: summation order only
        torch.testing.assert_close(d[:2], s[:2], rtol=1e-4, atol=1e-6, msg=column)
        # whole trajectory: AdamW amplifies the rounding differences a little
        torch.testing.assert_close(d, s, rtol=1e-2, atol=1e-4, msg=column)
    a, b = single.module.net.state_dict(), ddp.module.net.state_dict()
    flat_a = torch.cat([a[k].flatten().float() for k in a])
    flat_b = torch.cat([b[k].flatten().float() for k in a])
    assert float((flat_a - flat_b).norm() / flat_a.norm()) < 1e-2


@pytest.mark.slow
def test_cosine_schedule_decays_to_zero_and_resumes_exactly(tmp_path, records):
    """train.lr_schedule: cosine: epoch e trains at lr (1 + cos(pi e / T)) / 2 over the run's T
    epochs, and a crashed run resumes onto the same schedule (same weights as uninterrupted)."""
    import math

    settings = _settings(lr_schedule="cosine", max_epochs=4)
    full = train_run(tmp_path / "full", settings, datamodule=_dm(records, settings))
    expected = [3e-3 * (1 + math.cos(math.pi * e / 4)) / 2 for e in range(4)]
    assert full.history["lr"].tolist() == pytest.approx(expected, rel=1e-6)
    crashed_dir = tmp_path / "crashed"
    with pytest.raises(BaseException):  # noqa: B017 - Lightning may wrap the interrupt
        train_run(crashed_dir, settings, datamodule=_dm(records, settings), extra_callbacks=[Crash(epoch=2)])
    resumed = train_run(crashed_dir, settings, datamodule=_dm(records, settings))
    assert resumed.history["lr"].tolist() == pytest.approx(expected, rel=1e-6)
    a, b = full.module.net.state_dict(), resumed.module.net.state_dict()
    for key in a:
        assert torch.equal(a[key], b[key]), key
    with pytest.raises(ValueError, match="lr_schedule"):
        train_run(tmp_path / "bad", _settings(lr_schedule="linear"), datamodule=_dm(records, settings))


class LastCheckpointProbe(pl.Callback):
    """At the start of every epoch after the first: the step last.ckpt was saved at."""

    def __init__(self, path):
        self.path, self.seen = path, []

    def on_train_epoch_start(self, trainer, pl_module):
        if trainer.current_epoch > 0:
            saved = torch.load(self.path, map_location="cpu", weights_only=False)["global_step"]
            self.seen.append((trainer.global_step, saved))


@pytest.mark.slow
@pytest.mark.parametrize("has_validation", [True, False])
def test_last_checkpoint_is_written_after_every_epoch(tmp_path, records, has_validation):
    """A killed run resumes from its last whole epoch: last.ckpt is rewritten after every epoch,
    also when the validation loss did not improve (a large rate makes it worsen) and without a
    validation set (the final run)."""
    settings = _settings(max_epochs=4, lr=0.05)
    probe = LastCheckpointProbe(tmp_path / "run" / "checkpoints" / "last.ckpt")
    result = train_run(tmp_path / "run", settings, datamodule=_dm(records, settings),
                       has_validation=has_validation, extra_callbacks=[probe])
    assert probe.seen == [(5 * epoch, 5 * epoch) for epoch in (1, 2, 3)]
    if has_validation:  # the test means something only if some epoch did not improve
        losses = result.history["val_loss"].tolist()
        assert any(b >= min(losses[:i + 1]) for i, b in enumerate(losses[1:]))
