"""The ``qa`` command line: ingest articles, ask questions, list a library, serve it.

The group and its command table: :mod:`qa.cli.commands` (each command's module is imported only
when it runs). The options commands share (one ``--library``, one ``--model``, the filters):
:mod:`qa.cli.options`; opening the Assistant: :mod:`qa.cli.assistant`; what they print:
:mod:`qa.cli.output`, :mod:`qa.cli.stream`, :mod:`qa.cli.outlets`.
"""
from qa.cli.commands import main

__all__ = ["main"]
