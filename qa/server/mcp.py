"""``qa mcp``: one library as an MCP server over stdio, for agents and desktop assistants.

They speak the Model Context Protocol rather than HTTP: the client starts ``qa mcp`` as a
child process and calls its tools. ``search_articles`` is retrieval only (no LLM is loaded
until ``ask`` is called); ``ask`` is the cited answer; ``get_article`` one whole article;
``list_stories`` what happened in a window (``qa stories --json``).
The tools return the same objects as ``qa ask --json`` and the HTTP server, and read the
library only.
"""
from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any

import click

if TYPE_CHECKING:
    from qa.api import Assistant


def load_mcp():
    """The SDK's server class, or an error that names the extra to install."""
    try:
        from mcp.server.mcpserver import MCPServer
    except ImportError as e:
        raise click.ClickException(
            f"qa mcp needs the MCP SDK ({e.name} is missing): pip install 'qa-news[serve]'") from None
    return MCPServer


def build_server(assistant: "Assistant"):
    """An MCP server whose tools answer from ``assistant``'s library. Tools run on worker
    threads (the protocol keeps flowing while an answer is written), one at a time: one model.
    Their arguments have the HTTP server's limits (qa/server/requests.py): the SDK refuses a ``k``
    or a question out of range by the field's name before the tool runs."""
    import anyio

    from qa.server.requests import Options, k_field, parse, question_field

    MCPServer = load_mcp()
    from mcp.server.mcpserver.exceptions import ToolError

    server = MCPServer("qa", instructions=(
        f"Search and answer from the news library {assistant.library.name!r} "
        f"({assistant.library.counts.get('articles', 0)} articles). Answers cite passages as [n]; "
        "prefer search_articles to find what the articles say, ask for a checked, cited answer."))
    tool_lock = threading.Lock()

    async def run_tool(work) -> Any:
        """``work()`` on a worker thread, after any other tool's; bad arguments (a bad date, an
        empty question) come back as the tool's error message, for the model to read."""
        def locked():
            with tool_lock:
                try:
                    return work()
                except ValueError as e:
                    raise ToolError(str(e)) from None
        return await anyio.to_thread.run_sync(locked)

    @server.tool()
    async def search_articles(query: str = question_field(what="the query"), k: int = k_field(5),
                              since: str | None = None, until: str | None = None,
                              source: str | None = None) -> dict[str, Any]:
        """Passages of news articles that bear on the query, best first, with each article's id,
        title, date, outlet and url. since/until: YYYY, YYYY-MM or YYYY-MM-DD (inclusive);
        source: an outlet's name or domain. "abstained" is true when none comes close."""
        def search() -> dict[str, Any]:
            where = parse(Options, {"since": since, "until": until, "source": source}).where()
            return assistant.retrieve_only(query.strip(), k, None, where).to_dict()
        return await run_tool(search)

    @server.tool()
    async def ask(question: str = question_field()) -> dict[str, Any]:
        """A short answer from the articles, each sentence citing a passage as [n] and checked
        against it; "citations" quote the sentence behind each [n]. When the articles don't say,
        "abstained" is true and the answer says so instead of guessing."""
        return await run_tool(lambda: assistant.ask(question.strip()).to_dict())

    @server.tool()
    async def get_article(id: str) -> dict[str, Any]:
        """One article's whole text with its title, date (and how it was found), outlet and url
        (ids come from search_articles and ask)."""
        def read():
            found = assistant.library.article(id)
            if found is None:
                raise ValueError(f"no article {id!r} in the library {assistant.library.name}")
            return found
        article = await run_tool(read)
        return article.to_dict()

    @server.tool()
    async def list_stories(since: str = "7d", until: str | None = None, source: str | None = None,
                           limit: int = 10, write: bool = False) -> dict[str, Any]:
        """What happened: the library's articles in a window grouped into stories (one event each,
        any outlet), best covered first, each with a one-line text citing its own articles as [n],
        its outlets, first and last dates and articles, and its event: the rank of the first story
        of the same event when a large event came as several stories, else null. since: "7d"/"2w"
        back from the newest article, or YYYY[-MM[-DD]]; until: YYYY[-MM[-DD]]; source: an outlet's
        name or domain.
        write: have the LLM write each line (slower) instead of quoting the central article."""
        limit = max(1, min(int(limit), 100))
        return await run_tool(lambda: assistant.stories(since, until, (source,) if source else (), limit=limit,
                                                        write=write, mark_seen=False).to_dict())

    return server
