"""The errors qa raises to its users, and the exit code the command line gives them.

One home, so that no module has to import the command line to raise what it
maps: the CLI turns a :class:`LibraryError` into :class:`BadInput` (exit 2).
"""
from __future__ import annotations

import click

EXIT_BAD_INPUT = 2


class LibraryError(RuntimeError):
    """A library that is missing, unreadable, damaged, busy, or made with another embedder or format."""


class FormatError(LibraryError):
    """A library written by another version of qa (not damage: doctor leaves it alone)."""


class BadInput(click.ClickException):
    """Exit code 2: a missing library, an unreadable or failed file, a target that matches nothing."""

    exit_code = EXIT_BAD_INPUT
