"""Logging set-up shared by the CLI and the workflow adapters."""

from __future__ import annotations

import logging
import sys
from pathlib import Path

FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def setup_logging(log_file: str | Path | None = None, level: int = logging.INFO) -> None:
    """Send the package's log records to ``log_file`` (Snakemake's ``log[0]``) and stderr."""
    handlers: list[logging.Handler] = [logging.StreamHandler(sys.stderr)]
    if log_file is not None:
        Path(log_file).parent.mkdir(parents=True, exist_ok=True)
        handlers.append(logging.FileHandler(log_file, mode="w"))
    logging.basicConfig(level=level, format=FORMAT, handlers=handlers, force=True)
    logging.captureWarnings(True)
    sys.excepthook = _log_uncaught


def _log_uncaught(exc_type, exc, tb) -> None:  # noqa: ANN001
    """Put an uncaught exception into the log file too (Snakemake shows only the log)."""
    if not issubclass(exc_type, KeyboardInterrupt):
        logging.getLogger("glioma").critical("uncaught %s: %s", exc_type.__name__, exc, exc_info=(exc_type, exc, tb))
    sys.__excepthook__(exc_type, exc, tb)
