"""The commands that start a server over one library: ``qa serve`` (HTTP, qa/server/http.py) and
``qa mcp`` (MCP over stdio, qa/server/mcp.py). Each opens its Assistant here, so the servers
themselves never import the command line."""
from __future__ import annotations

from pathlib import Path

import click

from qa.cli.assistant import open_assistant
from qa.cli.options import library_option, model_option
from qa.errors import BadInput
from qa.server.queue import DEFAULT_QUEUE


@click.command()
@library_option
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to listen on. Anything but loopback needs --api-key.")
@click.option("--port", default=8080, show_default=True, type=click.IntRange(0, 65535))
@click.option("--api-key", envvar="QA_API_KEY", metavar="KEY",
              help="Require 'Authorization: Bearer KEY' on every request but /health. Others on this machine "
                   "see a command line (ps): prefer QA_API_KEY=KEY or --api-key-file.")
@click.option("--api-key-file", type=click.Path(dir_okay=False, path_type=Path), metavar="FILE",
              help="Read the API key from the first line of FILE.")
@model_option
@click.option("-k", "k", default=5, show_default=True, type=click.IntRange(1, 50), help="Passages per answer.")
@click.option("--queue", default=DEFAULT_QUEUE, show_default=True, type=click.IntRange(0, 1000),
              help="Answers that may wait for the LLM while one is written; more get 503 with Retry-After.")
def serve(library: Path | str | None, host: str, port: int, api_key: str | None, api_key_file: Path | None,
          model: str | None, k: int, queue: int) -> None:
    """Serve a library over HTTP: an OpenAI-compatible chat API, search, answers, articles.

    \b
    Endpoints:
        POST /v1/chat/completions  OpenAI chat (\"stream\": true for server-sent events);
                                   the reply cites [n]; "qa" carries citations and passages
        GET  /v1/models            the library as a model: qa/<library>
        POST /v1/search            {"query": ...}: passages only (qa ask --no-llm --json)
        POST /v1/ask               {"question": ...}: the qa ask --json object
        GET  /v1/articles/ID       one article's text and metadata
        GET  /health
    Search and ask take "k", "since", "until", "sources", "include_undated", "today";
    chat takes them under "qa". Nothing over HTTP changes the library.

    \b
    Use it from the OpenAI client:
        qa serve --library ~/news-lib
        OpenAI(base_url="http://127.0.0.1:8080/v1", api_key="-")
    """
    from qa.server.guard import is_loopback, key_from_file
    from qa.server.http import build_app, load_starlette

    load_starlette()
    import uvicorn

    if api_key_file:
        if api_key:
            raise BadInput("give the API key one way: --api-key-file, or --api-key / QA_API_KEY, not both")
        api_key = key_from_file(api_key_file)
    if not is_loopback(host) and not api_key:
        raise BadInput(f"--host {host} would let other machines in: set --api-key KEY (or QA_API_KEY), "
                       f"or keep the default 127.0.0.1")
    assistant = open_assistant(library, model, k)
    from qa.models import ModelError

    try:
        click.echo(f"loading {assistant.llm.name} …", err=True)
    except ModelError as e:
        raise click.ClickException(str(e)) from None
    app = build_app(assistant, api_key=api_key, queue=queue)
    click.echo(f"qa serve: {assistant.library.name} ({assistant.library.counts['articles']} articles) on "
               f"http://{host}:{port}/v1  (Ctrl+C stops)", err=True)
    uvicorn.run(app, host=host, port=port, log_level="warning")


@click.command("mcp")
@library_option
@model_option
def mcp_command(library: Path | str | None, model: str | None) -> None:
    """Serve a library to MCP clients over stdio: search_articles, ask, get_article, list_stories.

    The client starts this command itself; in its configuration (Claude Desktop,
    oterm, editors):

    \b
        {"mcpServers": {"news": {"command": "qa", "args": ["mcp", "--library", "/home/me/news-lib"]}}}
    """
    from qa.server.mcp import build_server, load_mcp

    load_mcp()
    build_server(open_assistant(library, model)).run("stdio")
