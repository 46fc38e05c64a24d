"""``keymap.json`` in the data directory: the user's remappings of the chat's keys.

Each of the chat's bindings has an id (``QAApp.BINDINGS``, ``PromptInput.BINDINGS``); the file maps
ids to keys, ``{"toggle_sources": "f5", "send": "ctrl+enter"}``, and Textual's ``set_keymap``
applies it. A missing or unreadable file remaps nothing: the chat still opens.
"""
from __future__ import annotations

import json
from pathlib import Path

from qa.paths import data_dir

KEYMAP_FILE = "keymap.json"


def load_keymap(path: Path | None = None) -> dict[str, str]:
    """Key remappings from ``keymap.json`` in the data directory: {"binding id": "keys"}."""
    path = path or data_dir() / KEYMAP_FILE
    try:
        keymap = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return {str(k): str(v) for k, v in keymap.items()} if isinstance(keymap, dict) else {}
