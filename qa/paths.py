"""Where qa keeps its data: libraries, caches and assembled model files.

Libraries live in the user data directory (``QA_HOME`` moves it; tests point
it at a temporary folder). Assembled model weights are rebuildable and large,
so they live in the cache directory (``QA_CACHE`` moves it), shared by all
libraries.
"""
from __future__ import annotations

import os
from pathlib import Path

import platformdirs

ENV_HOME = "QA_HOME"
ENV_CACHE = "QA_CACHE"


def data_dir() -> Path:
    """The user data directory: ``$QA_HOME`` or the platform's data dir."""
    home = os.environ.get(ENV_HOME)
    return Path(home).expanduser() if home else Path(platformdirs.user_data_dir("qa", appauthor=False))


def cache_dir() -> Path:
    """Rebuildable files (assembled model weights): ``$QA_CACHE`` or the platform cache dir."""
    cache = os.environ.get(ENV_CACHE)
    if cache:
        return Path(cache).expanduser()
    return Path(platformdirs.user_cache_dir("qa", appauthor=False))


def default_library_dir() -> Path:
    """The library built from the bundled sample articles on first use."""
    return data_dir() / "libraries" / "default"
