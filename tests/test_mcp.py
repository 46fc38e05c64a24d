"""`qa mcp`: the official MCP SDK's own client starts the server over stdio and calls its tools
(with the fake encoder and LLM, in a child process; and once with the real models)."""
from __future__ import annotations

import sys

import anyio
import pytest

from conftest import REPO
from fakes import FakeEncoder
from qa.api import Assistant

Q2003 = "What did Russia propose in 2003 for North Korea six-sided discussions?"

# The child process: `qa mcp` from this checkout; and with the fakes of tests/fakes.py in place of the real models.
LAUNCH = f"import sys; sys.path.insert(0, {str(REPO)!r}); from qa.cli import main; main(sys.argv[1:], prog_name='qa')"
LAUNCH_WITH_FAKES = f"""
import sys
sys.path[:0] = [{str(REPO)!r}, {str(REPO / "tests")!r}]
from fakes import FakeEncoder, FakeLLM, loads
from qa import loaders
from qa.cli import main
with loaders.use(encoder=FakeEncoder, llm=loads(FakeLLM("Russia proposed six-sided discussions [1]."))):
    main(sys.argv[1:], prog_name="qa")
"""


def session_calls(args: list[str], env: dict[str, str], calls: list[tuple[str, dict]]):
    """Start the server with ``args`` and make ``calls``; the tool names it lists and each result."""
    from mcp.client.session import ClientSession
    from mcp.client.stdio import StdioServerParameters, stdio_client

    async def main():
        params = StdioServerParameters(command=sys.executable, args=args, env=env, cwd=str(REPO))
        async with stdio_client(params) as (read, write):
            async with ClientSession(read, write) as session:
                await session.initialize()
                tools = sorted(t.name for t in (await session.list_tools()).tools)
                return tools, [await session.call_tool(name, arguments) for name, arguments in calls]
    return anyio.run(main)


def test_the_sdk_client_calls_every_tool_over_stdio(qa_home):
    tools, (found, dated, answer, article, missing, news) = session_calls(
        ["-c", LAUNCH_WITH_FAKES, "mcp"], {"QA_HOME": str(qa_home)},
        [("search_articles", {"query": Q2003, "k": 3}),
         ("search_articles", {"query": Q2003, "since": "2010", "source": "000_8e1adf5baa08f22c.txt"}),
         ("ask", {"question": Q2003}),
         ("get_article", {"id": "PLACEHOLDER"}),
         ("get_article", {"id": "nope"}),
         ("list_stories", {"since": "2000", "limit": 2})])
    assert tools == ["ask", "get_article", "list_stories", "search_articles"]
    passages = found.structured_content["passages"]
    assert len(passages) == 3 and "003_c13b77ec0b5e076f" in passages[0]["article_id"]
    assert [p["date"] for p in dated.structured_content["passages"]] == ["2013-04-10"]
    assert answer.structured_content["answer"] == "Russia proposed six-sided discussions [1]."
    assert "003_c13b77ec0b5e076f" in answer.structured_content["citations"][0]["article_id"]
    assert article.is_error and missing.is_error and "nope" in missing.content[0].text
    stories = news.structured_content["stories"]
    expected = Assistant(encoder=FakeEncoder()).stories(since="2000", limit=2, write=False, mark_seen=False)
    assert stories and news.structured_content["window"]["since"] == "2000-01-01"
    assert [[a["article_id"] for a in s["articles"]] for s in stories] == \
        [[a.id for a in s.all_articles] for s in expected.stories]  # what the Python API lists, limit applied
    assert [s["event"] for s in stories] == [s.event for s in expected.stories]
    for story in stories:
        own = {a["article_id"] for a in story["articles"]}
        assert story["text"].endswith("[1]") and story["citations"][0]["article_id"] in own

    (_, (whole,)) = session_calls(["-c", LAUNCH_WITH_FAKES, "mcp"], {"QA_HOME": str(qa_home)},
                                  [("get_article", {"id": passages[0]["article_id"]})])
    assert not whole.is_error and "Losyukov" in whole.structured_content["text"]


def test_arguments_have_the_http_limits_and_errors_name_the_field(qa_home):
    from qa.server.requests import K_MAX, MAX_QUESTION

    calls = [("search_articles", {"query": Q2003, "k": 10**12}), ("search_articles", {"query": Q2003, "k": -5}),
             ("search_articles", {"query": Q2003, "k": True}), ("search_articles", {"query": "x" * 200_000}),
             ("search_articles", {"query": "   "}), ("ask", {"question": "y" * (MAX_QUESTION + 1)}),
             ("search_articles", {"query": Q2003, "since": "2014", "until": "2013"}),
             ("search_articles", {"query": Q2003, "since": "in 2014"}),
             ("search_articles", {"query": Q2003, "k": K_MAX})]
    _, results = session_calls(["-c", LAUNCH_WITH_FAKES, "mcp"], {"QA_HOME": str(qa_home)}, calls)
    *refused, fine = results
    for (tool, arguments), result in zip(calls, refused):
        field = "since" if "since" in arguments else next(iter(set(arguments) - {"query"}), "query")
        text = result.content[0].text
        assert result.is_error and (f"\n{field}\n" in text or f"'{field}'" in text), (arguments, text[:300])
    assert not fine.is_error and len(fine.structured_content["passages"]) == 4  # all four seeds: k 50 is allowed


@pytest.mark.slow
def test_real_models_answer_over_stdio(seed_library, qa_home):
    _, (found, answer) = session_calls(
        ["-c", LAUNCH, "mcp", "--library", str(seed_library)], {"QA_HOME": str(qa_home)},
        [("search_articles", {"query": "What did Russia propose in 2003?"}),
         ("ask", {"question": "What did Russia propose in 2003?"})])
    assert "003_c13b77ec0b5e076f" in found.structured_content["passages"][0]["article_id"]
    assert not answer.structured_content["abstained"]
    assert any("003_c13b77ec0b5e076f" in c["article_id"] for c in answer.structured_content["citations"])
