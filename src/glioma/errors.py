"""Errors that name the patient, the file and what is wrong."""

from __future__ import annotations

from pathlib import Path


class GliomaError(Exception):
    """Base class of the package's own errors."""


class InputError(GliomaError):
    """Bad input for one patient: it is excluded with this message as the recorded reason."""

    def __init__(self, problem: str, *, subject: str | None = None, path: str | Path | None = None):
        self.problem = problem
        self.subject = subject
        self.path = None if path is None else str(path)
        parts = []
        if subject is not None:
            parts.append(f"patient {subject!r}")
        if path is not None:
            parts.append(f"file {str(path)!r}")
        prefix = ", ".join(parts)
        super().__init__(f"{prefix}: {problem}" if prefix else problem)


class ConfigError(GliomaError):
    """A config or cohort file is invalid; the message names the file and the key."""
