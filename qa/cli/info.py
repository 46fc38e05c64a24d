"""``qa info``: what this install is and where it keeps things — the version, every path,
each listed model and whether its file checks out, and the settings in force with where
each came from. The first thing to look at when something behaves unexpectedly."""
from __future__ import annotations

import json
from pathlib import Path

import click


def model_states() -> list[dict]:
    """Each models.txt entry and its state, without hashing anything: "verified" (its file
    matches a previous check), "installed" (checked, or assembled from its parts, at first
    use) or "not installed" with the pip command."""
    import importlib.util

    from qa.models import is_verified, load_manifest
    from qa.paths import cache_dir

    rows = []
    for spec in load_manifest():
        missing = [p for p in spec.packages if importlib.util.find_spec(p.replace("-", "_")) is None]
        state, path = "installed", None
        if missing:
            state = f"not installed: pip install {' '.join(missing)}"
        else:
            if len(spec.packages) == 1:
                found = importlib.util.find_spec(spec.packages[0].replace("-", "_"))
                path = Path(next(iter(found.submodule_search_locations))) / spec.file
            else:
                path = cache_dir() / "models" / spec.file
            if path.is_file() and is_verified(path, spec):
                state = "verified"
        rows.append({"role": spec.role, "name": spec.name, "state": state, "path": str(path) if path else None,
                     "size": spec.size, "sha256": spec.sha256})
    return rows


@click.command("info")
@click.option("--json", "as_json", is_flag=True, help="One JSON object.")
def info(as_json: bool) -> None:
    """Show the version, the paths qa uses, the models and their state, and the settings in force.

    Settings come from $QA_HOME/config.toml (library, model, k, threads, [serve] host and
    port); environment variables (QA_MODEL, QA_THREADS) and command-line flags win over it.
    """
    from qa import __version__
    from qa.libraries import libraries_dir
    from qa.paths import cache_dir, data_dir
    from qa.settings import config_path, in_force, load_settings

    config = config_path()
    report = {"version": __version__,
              "paths": {"data": str(data_dir()), "cache": str(cache_dir()),
                        "config": str(config) + ("" if config.is_file() else " (absent)"),
                        "libraries": str(libraries_dir())},
              "models": model_states(), "settings": in_force(load_settings())}
    if as_json:
        click.echo(json.dumps(report, ensure_ascii=False))
        return
    click.echo(f"qa {__version__}")
    for key, value in report["paths"].items():
        click.echo(f"  {key + ' dir' if key != 'config' else key:14} {value}")
    click.echo("models")
    for m in report["models"]:
        click.echo(f"  {m['role']:9} {m['name']:30} {m['state']}")
    click.echo("settings")
    for key, s in report["settings"].items():
        click.echo(f"  {key:14} {s['value']!s:40} ({s['from']})")
