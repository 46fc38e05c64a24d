"""Library maintenance commands: ``qa remove`` and ``qa doctor``."""
from __future__ import annotations

import click


@click.command()
@click.argument("targets", nargs=-1, required=True)
def remove(targets: tuple[str, ...]) -> None:
    """Remove articles by ARTICLE_ID or source PATH."""
    raise click.ClickException("not implemented yet")


@click.command()
def doctor() -> None:
    """Check that a library's store, vectors and keyword index agree, and repair them."""
    raise click.ClickException("not implemented yet")
