"""The trained model as one versioned artefact folder.

``model.pt``      the network's ``state_dict`` (plain tensors: ``torch.load(weights_only=True)``)
``model.json``    format version, network settings, channel order, label maps, input grid,
                  preprocessing settings, training summary and metrics
``MODEL_CARD.md`` data, metrics, intended use and limitations ("not for clinical use")
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import time
from collections.abc import Sequence
from pathlib import Path

import torch

from glioma import __version__
from glioma.data.dataset import LABEL_MAPS
from glioma.io.atomic import write_bytes, write_json, write_text
from glioma.model.config import ModelSettings
from glioma.model.network import NetworkConfig, PSNet
from glioma.schema import SEQUENCES

log = logging.getLogger(__name__)

FORMAT_VERSION = 1
WEIGHTS = "model.pt"
INFO = "model.json"
CARD = "MODEL_CARD.md"


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def save_artefact(
    out_dir: str | Path,
    net: PSNet,
    settings: ModelSettings,
    *,
    spatial_shape: Sequence[int],
    training: dict | None = None,
    preprocessing: dict | None = None,
    metrics: dict | None = None,
) -> Path:
    """Write ``model.pt``, ``model.json`` and ``MODEL_CARD.md`` into ``out_dir``."""
    out_dir = Path(out_dir)
    state = {k: v.detach().cpu().clone() for k, v in net.state_dict().items()}
    # serialised in memory: torch.save names the archive's records after the file it writes
    # to, which would put the random temporary name into model.pt (different bytes and checksum
    # for the same weights on every run)
    buffer = io.BytesIO()
    torch.save(state, buffer)
    write_bytes(out_dir / WEIGHTS, buffer.getvalue())
    info = {
        "format_version": FORMAT_VERSION,
        "glioma_version": __version__,
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "weights": WEIGHTS,
        "weights_sha256": _sha256(out_dir / WEIGHTS),
        "network": net.config.to_dict(),
        "channels": list(SEQUENCES),
        "label_maps": LABEL_MAPS,
        "spatial_shape": [int(s) for s in spatial_shape],
        "input_shape": None if settings.input_shape is None else list(settings.input_shape),
        "preprocessing": preprocessing or {},
        "train": settings.train.to_dict(),
        "training": training or {},
        "metrics": metrics or {},
    }
    write_json(out_dir / INFO, info)
    write_text(out_dir / CARD, model_card(info))
    log.info("model artefact written to %s", out_dir)
    return out_dir


def _curve_line(check: dict | None) -> str:
    """The model card's line on the final run's training curve against the selection run's."""
    if not check or check.get("status") == "not compared":
        return "Training curve not compared with a selection run (no validation-based check)."
    verdict = ("**DIVERGED: the final run's training loss is above the tolerance; do not trust "
               "this model before looking at `metrics.csv`**" if check["status"] == "diverged"
               else "within tolerance")
    return (f"Final run vs selection run, mean training loss over epochs {check['epochs']}: "
            f"{check['final_train_loss']:.4g} vs {check['selection_train_loss']:.4g} "
            f"(ratio {check['ratio']:.2f}, tolerance {check['tolerance']:.2f}): {verdict}.")


def _refit_line(refit: dict | None) -> str:
    """The model card's line on ``train.refit_heads``."""
    if not refit:
        return "Heads as trained end to end (no refit)."
    parts = ", ".join(f"{task} on {v['patients']} patients (C {v['C']:.3g})" for task, v in refit.items())
    return ("Heads refitted after training by cross-validated logistic regression on the pooled "
            f"features of the training patients: {parts}.")


def model_card(info: dict) -> str:
    training = info.get("training", {})
    net = info["network"]
    metrics = info.get("metrics") or {}
    metric_lines = "\n".join(f"| {k} | {v} |" for k, v in metrics.items()) or "| (none recorded) | |"
    return f"""# Model card: glioma multi-task network

**Not for clinical use.** Research software rebuilding van der Voort et al., Neuro-Oncology 2022.

## Model
- Architecture: PSNet-like 3D multi-task encoder-decoder (depth {net['depth']}, {net['base_filters']}
  base filters, first downsampling kernel {net['first_kernel']} stride {net['first_stride']},
  dense heads of {net['dense_units']} units, {net['norm']} normalisation; the heads read
  `{net.get('pooling', 'global')}` pooling; label structure `{net.get('label_structure', 'independent')}`;
  grade head `{net.get('grade_head', 'multinomial')}`; deep supervision of {net.get('deep_supervision', 0)} decoder levels, see the README's *Cohort, model, training and
  inference*).
- Inputs: {", ".join(info['channels'])} (this channel order), atlas space, z-scored within the
  brain, grid {info['spatial_shape']} (see `model.json` -> `preprocessing`).
- Outputs: IDH (wildtype/mutated), 1p/19q (intact/codeleted), WHO grade (2/3/4) softmax scores and
  a whole-tumour segmentation. Label maps in `model.json` -> `label_maps`.
- Format version {info['format_version']}, glioma {info['glioma_version']}, created {info['created']};
  weights `{info['weights']}` (sha256 `{info['weights_sha256'][:16]}...`), loadable with
  `torch.load(weights_only=True)`.

## Training data
- {training.get('patients', '?')} training patients, {training.get('epochs', '?')} epochs;
  selected hyperparameters: `{json.dumps(training.get('selected_params', {}))}`.
- Unknown labels were masked out of the loss; see the workflow's splits table for the cohorts.
- {_refit_line(training.get('refit_heads'))}
- {_curve_line(training.get('curve_check'))}

## Metrics
| metric | value |
|---|---|
{metric_lines}

## Intended use and limitations
- Intended for research on reproducible glioma subtyping pipelines and for the synthetic demo.
- A model trained by the demo has only seen synthetic data; it says nothing about real patients.
- Inputs must be preprocessed exactly as recorded in `model.json`; other scanners, protocols or
  preprocessing give unreliable scores. Not a medical device; not for diagnosis or treatment.
"""


def load_artefact(folder: str | Path, map_location: str = "cpu") -> tuple[PSNet, dict]:
    """Load the network (in eval mode) and its ``model.json``; checks the weights' checksum."""
    folder = Path(folder)
    info = json.loads((folder / INFO).read_text())
    if info.get("format_version") != FORMAT_VERSION:
        raise ValueError(f"{folder / INFO}: unsupported format version {info.get('format_version')}")
    weights = folder / info.get("weights", WEIGHTS)
    if info.get("weights_sha256") and _sha256(weights) != info["weights_sha256"]:
        raise ValueError(f"{weights}: checksum differs from model.json")
    state = torch.load(weights, map_location=map_location, weights_only=True)
    config = NetworkConfig.from_dict({**info["network"], "activation_checkpointing": False})
    net = PSNet(config)
    try:
        net.load_state_dict(state)
    except RuntimeError as error:  # e.g. a network layout of another glioma version
        raise ValueError(
            f"{weights}: the weights do not fit the network that {folder / INFO} describes "
            f"(saved by glioma {info.get('glioma_version')}, this is glioma {__version__}): "
            f"{str(error).splitlines()[0]} ...") from error
    net.eval()
    return net, info
