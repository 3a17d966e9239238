"""Thread control for ITK (ANTsPy), BLAS/OpenMP and torch, set from one ``threads`` value."""

from __future__ import annotations

import logging
import os

logger = logging.getLogger(__name__)

#: fixed seed of ANTs' registration sampling (read by antsRegistration from the environment)
ANTS_RANDOM_SEED = "20220101"

_ENV_VARS = (
    "ITK_GLOBAL_DEFAULT_NUMBER_OF_THREADS",
    "OMP_NUM_THREADS",
    "OPENBLAS_NUM_THREADS",
    "MKL_NUM_THREADS",
    "NUMEXPR_NUM_THREADS",
)


def set_threads(threads: int) -> int:
    """Limit ITK, BLAS/OpenMP and torch to ``threads`` threads (at least 1); return the value.

    Call it before ANTsPy registers anything: ITK reads ``ITK_GLOBAL_DEFAULT_NUMBER_OF_THREADS``
    when its first multi-threaded filter is built.
    """
    threads = max(1, int(threads))
    for name in _ENV_VARS:
        os.environ[name] = str(threads)
    # ANTs seeds its metric sampling from this variable: with one thread a rerun is bit-identical;
    # with several, ITK's threaded sums still differ in the last bits (a user may set their own).
    os.environ.setdefault("ANTS_RANDOM_SEED", ANTS_RANDOM_SEED)
    try:
        import torch

        torch.set_num_threads(threads)
    except ImportError:  # pragma: no cover - torch is a dependency
        pass
    logger.debug("threads set to %d", threads)
    return threads
