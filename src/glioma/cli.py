"""The ``glioma`` command line: one subcommand per pipeline stage.

Each subcommand lives in its stage's ``cli`` module, which defines ``add_arguments(parser)`` and
``run(args) -> int``. Modules are imported lazily so that ``glioma --help`` stays fast.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from collections.abc import Sequence

from glioma import __version__

#: subcommand -> (module, one-line help)
COMMANDS: dict[str, tuple[str, str]] = {
    "synth": ("glioma.synth.cli", "generate a synthetic multi-institute raw glioma cohort"),
    "ingest": ("glioma.ingest.cli", "discover, convert and select series; include/exclude; unify labels"),
    "preprocess": ("glioma.preprocess.cli", "preprocess one patient's four scans into atlas space"),
    "cohort": ("glioma.data.cli", "assemble train/validation/test splits and Table 1"),
    "train": ("glioma.model.cli", "train the multi-task network (Lightning)"),
    "predict": ("glioma.model.predict_cli", "run a trained model on preprocessed patients"),
    "evaluate": ("glioma.evaluate.cli", "Table 2, bootstrap CIs, subtypes, segmentation, survival"),
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="glioma",
        description="Multi-task deep learning for glioma: IDH, 1p/19q, grade and tumour segmentation.",
    )
    parser.add_argument("--version", action="version", version=f"glioma {__version__}")
    parser.add_argument("-v", "--verbose", action="count", default=0, help="more log output")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, (_module, help_text) in COMMANDS.items():
        sub.add_parser(name, help=help_text, add_help=False)
    return parser


def _load(name: str):  # noqa: ANN202 - returns a module
    return importlib.import_module(COMMANDS[name][0])


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    # Parse only the global part first; the subcommand's own parser takes the rest.
    global_args, rest = parser.parse_known_args(argv)
    if global_args.command is None:
        parser.print_help()
        return 2
    module = _load(global_args.command)
    sub_parser = argparse.ArgumentParser(
        prog=f"glioma {global_args.command}", description=COMMANDS[global_args.command][1]
    )
    module.add_arguments(sub_parser)
    args = sub_parser.parse_args(rest)
    level = logging.DEBUG if global_args.verbose > 0 else logging.INFO
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    return int(module.run(args) or 0)


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
