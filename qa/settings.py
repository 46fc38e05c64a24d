"""``$QA_HOME/config.toml``: the user's defaults, so that a library, a model or a port need not
be typed every time. Command-line flags win over the file, and so do environment variables
(``QA_MODEL``, ``QA_THREADS``, ``QA_API_KEY``)::

    library = "news"          # a name (see qa libraries), a folder or a milvus:// URI
    model = "qwen2.5-coder-0.5b-instruct"
    k = 8
    threads = 1

    [serve]
    host = "127.0.0.1"
    port = 8080
"""
from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from qa.errors import BadInput

KEYS = {"library": str, "model": str, "k": int, "threads": int}
SERVE_KEYS = {"host": str, "port": int}


def config_path() -> Path:
    from qa.paths import data_dir

    return data_dir() / "config.toml"


def load_settings(path: Path | None = None) -> dict[str, Any]:
    """The file's settings, checked: a wrong key or type is bad input naming the file."""
    path = path or config_path()
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}
    except (OSError, UnicodeDecodeError) as e:
        raise BadInput(f"{path}: not a readable TOML file: {e}") from None
    import tomllib  # only where there is a file: its import compiles a few regexes (~5 ms)

    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise BadInput(f"{path}: not a readable TOML file: {e}") from None
    allowed = {**KEYS, "serve": dict}
    for key, value in data.items():
        if key not in allowed:
            raise BadInput(f"{path}: unknown setting {key!r} (known: {', '.join(allowed)})")
        if not isinstance(value, allowed[key]) or isinstance(value, bool):
            raise BadInput(f"{path}: {key} must be {allowed[key].__name__}, not {value!r}")
    for key, value in data.get("serve", {}).items():
        if key not in SERVE_KEYS:
            raise BadInput(f"{path}: unknown setting serve.{key} (known: {', '.join(SERVE_KEYS)})")
        if not isinstance(value, SERVE_KEYS[key]) or isinstance(value, bool):
            raise BadInput(f"{path}: serve.{key} must be {SERVE_KEYS[key].__name__}, not {value!r}")
    if "k" in data and not 1 <= data["k"] <= 50:
        raise BadInput(f"{path}: k must be from 1 to 50, not {data['k']}")
    if "threads" in data and data["threads"] < 1:
        raise BadInput(f"{path}: threads must be 1 or more, not {data['threads']}")
    return data


def in_force(settings: Mapping[str, Any]) -> dict[str, Any]:
    """Each setting's value and where it came from (env, config.toml, or qa's default)."""
    from qa.llm import cpu_cores
    from qa.models import DEFAULT_LLM
    from qa.paths import default_library_dir

    serve = settings.get("serve", {})

    def pick(env: str | None, key: str, default, table=settings):
        if env and os.environ.get(env):
            return {"value": os.environ[env], "from": f"${env}"}
        if key in table:
            return {"value": table[key], "from": str(config_path())}
        return {"value": default, "from": "default"}
    return {"library": pick(None, "library", str(default_library_dir())),
            "model": pick("QA_MODEL", "model", DEFAULT_LLM), "k": pick(None, "k", 5),
            "threads": pick("QA_THREADS", "threads", cpu_cores()),
            "serve.host": pick(None, "host", "127.0.0.1", serve), "serve.port": pick(None, "port", 8080, serve)}


class Defaults(Mapping):
    """Click's ``default_map`` for the ``qa`` group, read from config.toml when a command
    starts (not at import, so QA_HOME may change in between). Only defaults: a flag given on
    the command line wins. The file's ``threads`` becomes QA_THREADS unless that is set.
    ``tables`` names, for each command that takes defaults, which: "common" (library, model, k)
    or "serve" (those and the ``[serve]`` table)."""

    def __init__(self, tables: Mapping[str, str]) -> None:
        self.tables = dict(tables)

    def _table(self) -> dict[str, dict[str, Any]]:
        settings = load_settings()
        if "threads" in settings and not os.environ.get("QA_THREADS"):
            os.environ["QA_THREADS"] = str(settings["threads"])
        common = {key: settings[key] for key in ("library", "k") if key in settings}
        if "model" in settings and not os.environ.get("QA_MODEL"):
            common["model"] = settings["model"]
        serve = {**common, **settings.get("serve", {})}
        return {name: serve if table == "serve" else common for name, table in self.tables.items()}

    def __getitem__(self, command: str) -> dict[str, Any]:
        return self._table()[command]

    def __iter__(self):
        return iter(self._table())

    def __len__(self) -> int:
        return len(self._table())
