"""`qa serve`: the real `openai` client against the server on a loopback port (plain and
streaming), the qa endpoints, concurrent chats that keep their own answers, the bounded LLM
queue (503 + Retry-After), a disconnect that cancels its generation, searches that do not wait
behind an answer, the API key, the size cap; and once with the real models."""
from __future__ import annotations

import json
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from click.testing import CliRunner

from qa.api import Assistant
from qa.llm import LLM, Messages
from qa.server.guard import is_loopback
from qa.server.http import build_app, running
from qa.server.requests import BadRequest, ChatRequest, parse

from fakes import FakeEncoder, GatedLLM

Q2003 = "What did Russia propose in 2003 for North Korea six-sided discussions?"
QLAVROV = "What did Lavrov warn against, heating up the North Korea crisis with military maneuvers?"
REPLIES = {Q2003: "Russia proposed six-sided discussions [1].",
           QLAVROV: "Lavrov warned against military maneuvers [1]."}


class KeyedLLM(LLM):
    """Answers each question with its own reply (so a mixed-up answer shows), word by word."""

    name = "keyed"

    def stream(self, messages: Messages, max_tokens: int = 200) -> Iterator[str]:
        prompt = messages[-1]["content"]
        reply = next((r for q, r in REPLIES.items() if q in prompt), "NOT IN ARTICLES")
        for i, word in enumerate(reply.split(" ")):
            time.sleep(0.001)  # let other requests' threads run between tokens
            yield word if i == 0 else " " + word


def gated() -> GatedLLM:
    """Writes its answer, then a dot every 10 ms until its gate opens: it holds the LLM while
    it writes, as a real model does, and a server notices a client that left."""
    return GatedLLM(REPLIES[Q2003], REPLIES[Q2003], REPLIES[Q2003], gate_after=None, tick=0.01)


@pytest.fixture
def assistant_with(qa_home):
    def make(llm: LLM) -> Assistant:
        return Assistant(encoder=FakeEncoder(), llm=llm)  # the default library: the four seeds
    return make


def wait_for(condition, what: str) -> None:
    for _ in range(1000):
        if condition():
            return
        time.sleep(0.01)
    pytest.fail(f"never happened: {what}")


def test_openai_client_plain_and_streaming(assistant_with):
    from openai import OpenAI

    with running(build_app(assistant_with(KeyedLLM()))) as url:
        client = OpenAI(base_url=f"{url}/v1", api_key="unused", max_retries=0)
        assert [m.id for m in client.models.list()] == ["qa/default"]

        reply = client.chat.completions.create(model="qa/default", messages=[{"role": "user", "content": Q2003}])
        content = reply.choices[0].message.content
        assert content.startswith("Russia proposed six-sided discussions [1].")
        assert "Sources:\n[1] Russia Urges Washington, Pyongyang to Reduce Tensions" in content
        extra = reply.model_extra["qa"]
        assert extra["abstained"] is False and "003_c13b77ec0b5e076f" in extra["citations"][0]["article_id"]
        assert extra["passages"] and extra["question"] == Q2003

        chunks = list(client.chat.completions.create(
            model="qa/default", messages=[{"role": "user", "content": Q2003}], stream=True))
        text = "".join(c.choices[0].delta.content or "" for c in chunks)
        assert text == content  # the same reply, piece by piece
        assert len(chunks) > 4 and chunks[-1].choices[0].finish_reason == "stop"
        assert chunks[-1].model_extra["qa"]["citations"] == extra["citations"]


def test_a_model_name_other_than_the_library_s_is_refused_by_name(assistant_with):
    from openai import NotFoundError, OpenAI

    with running(build_app(assistant_with(KeyedLLM()))) as url:
        client = OpenAI(base_url=f"{url}/v1", api_key="unused", max_retries=0)
        for stream in (False, True):
            with pytest.raises(NotFoundError, match="'qa/other'.*'qa/default'"):
                client.chat.completions.create(model="qa/other", stream=stream,
                                               messages=[{"role": "user", "content": Q2003}])
        wrong = httpx.post(f"{url}/v1/chat/completions",
                           json={"model": "gpt-4o", "messages": [{"role": "user", "content": Q2003}]})
        assert wrong.status_code == 404 and "'gpt-4o'" in wrong.json()["error"]["message"]
        unnamed = httpx.post(f"{url}/v1/chat/completions", json={"messages": [{"role": "user", "content": Q2003}]})
        assert unnamed.status_code == 200  # curl users may leave it out


def test_a_follow_up_is_retrieved_with_the_earlier_turns(assistant_with):
    with running(build_app(assistant_with(KeyedLLM()))) as url:
        messages = [{"role": "system", "content": "Be brief."},
                    {"role": "user", "content": Q2003},
                    {"role": "assistant", "content": REPLIES[Q2003]},
                    {"role": "user", "content": [{"type": "text", "text": "Who said it?"}]}]
        obj = httpx.post(f"{url}/v1/chat/completions", json={"messages": messages}).json()
        assert obj["qa"]["question"] == "Who said it?"
        assert "003_c13b77ec0b5e076f" in obj["qa"]["passages"][0]["article_id"]


def test_search_ask_articles_and_health(assistant_with):
    assistant = assistant_with(KeyedLLM())
    with running(build_app(assistant)) as url:
        found = httpx.post(f"{url}/v1/search", json={"query": Q2003, "k": 3}).json()
        assert found["answer"] == "" and found["abstained"] is False and len(found["passages"]) == 3
        assert "003_c13b77ec0b5e076f" in found["passages"][0]["article_id"]
        assert set(found["timings"]) == {"retrieve_s", "total_s"}
        dated = httpx.post(f"{url}/v1/search", json={"query": Q2003, "since": "2010"}).json()
        assert all(p["date"] >= "2010" for p in dated["passages"]) and dated["filters"]["since"] == "2010-01-01"

        answer = httpx.post(f"{url}/v1/ask", json={"question": Q2003}).json()
        assert answer["answer"] == REPLIES[Q2003] and answer["model"] == "keyed"

        article_id = found["passages"][0]["article_id"]
        article = httpx.get(f"{url}/v1/articles/{article_id}").json()
        assert article["title"].startswith("Russia Urges Washington") and "Losyukov" in article["text"]
        missing = httpx.get(f"{url}/v1/articles/nope")
        assert missing.status_code == 404 and "nope" in missing.json()["error"]["message"]

        health = httpx.get(f"{url}/health").json()
        assert health == {"status": "ok", "model": "qa/default", "articles": 4,
                          "chunks": assistant.library.counts["chunks"], "generating": 0, "waiting": 0}

        for path, body, why in [("/v1/search", {}, "'query'"), ("/v1/ask", {"question": "x", "k": 0}, "'k'"),
                                ("/v1/chat/completions", {"messages": []}, "'messages'"),
                                ("/v1/search", {"query": "x", "since": "2014", "until": "2013"}, "after")]:
            bad = httpx.post(url + path, json=body)
            assert bad.status_code == 400 and why in bad.json()["error"]["message"], (path, bad.text)
        assert httpx.post(f"{url}/v1/search", content=b"{oops").status_code == 400
        assert httpx.post(f"{url}/v1/ingest", json={}).status_code == 404  # read-only


def test_concurrent_chats_each_get_their_own_answer(assistant_with):
    from openai import OpenAI

    with running(build_app(assistant_with(KeyedLLM()), queue=16)) as url:
        client = OpenAI(base_url=f"{url}/v1", api_key="unused", max_retries=0)

        def chat(i: int) -> tuple[str, str]:
            question = (Q2003, QLAVROV)[i % 2]
            messages = [{"role": "user", "content": question}]
            if i % 3 == 0:
                pieces = client.chat.completions.create(model="qa/default", messages=messages, stream=True)
                return question, "".join(c.choices[0].delta.content or "" for c in pieces)
            return question, client.chat.completions.create(model="qa/default", messages=messages) \
                .choices[0].message.content

        with ThreadPoolExecutor(8) as pool:
            results = list(pool.map(chat, range(12)))
    for question, content in results:
        assert content.startswith(REPLIES[question]), (question, content)


def test_a_full_queue_is_503_and_searches_do_not_wait_behind_answers(assistant_with):
    llm = gated()
    with running(build_app(assistant_with(llm), queue=1)) as url:
        with ThreadPoolExecutor(2) as pool:
            first = pool.submit(httpx.post, f"{url}/v1/ask", json={"question": Q2003}, timeout=30)
            assert llm.started.wait(10)
            second = pool.submit(httpx.post, f"{url}/v1/chat/completions",
                                 json={"messages": [{"role": "user", "content": Q2003}]}, timeout=30)
            wait_for(lambda: httpx.get(f"{url}/health").json()["waiting"] == 1, "the second answer waits")

            refused = httpx.post(f"{url}/v1/chat/completions", json={"messages": [{"role": "user", "content": Q2003}]})
            assert refused.status_code == 503 and refused.headers["retry-after"].isdigit()
            assert "busy" in refused.json()["error"]["message"]
            searched = httpx.post(f"{url}/v1/search", json={"query": Q2003}, timeout=30)
            assert searched.status_code == 200 and not first.done()  # answered while the LLM was held

            llm.gate.set()
            assert first.result().status_code == 200 and second.result().status_code == 200
        assert "six-sided" in first.result().json()["answer"], first.result().json()["answer"]
        assert httpx.get(f"{url}/health").json()["waiting"] == 0


def test_a_client_that_disconnects_cancels_its_generation(assistant_with):
    llm = gated()
    with running(build_app(assistant_with(llm))) as url:
        body = {"messages": [{"role": "user", "content": Q2003}], "stream": True}
        with httpx.stream("POST", f"{url}/v1/chat/completions", json=body, timeout=30) as response:
            for line in response.iter_lines():
                if "six-sided" in line:
                    break  # the first words arrived: hang up
        assert llm.closed.wait(10), "the generation went on after the client left"
        wait_for(lambda: httpx.get(f"{url}/health").json()["generating"] == 0, "the LLM is free")
        llm.gate.set()
        after = httpx.post(f"{url}/v1/ask", json={"question": Q2003}, timeout=30)
        assert after.status_code == 200


def test_api_key_size_cap_and_loopback_rule(assistant_with, monkeypatch):
    from qa import cli

    with running(build_app(assistant_with(KeyedLLM()), api_key="s3cret", max_body=2000)) as url:
        assert httpx.get(f"{url}/v1/models").status_code == 401
        assert httpx.get(f"{url}/v1/models", headers={"Authorization": "Bearer wrong"}).status_code == 401
        assert httpx.get(f"{url}/v1/models", headers={"Authorization": "Bearer s3cret"}).status_code == 200
        assert httpx.get(f"{url}/health").status_code == 200
        key = {"Authorization": "Bearer s3cret"}
        big = httpx.post(f"{url}/v1/search", headers=key, json={"query": "x" * 3000})
        assert big.status_code == 413

        def chunked():
            yield b'{"query": "'
            yield b"y" * 3000
            yield b'"}'
        assert httpx.post(f"{url}/v1/search", headers=key, content=chunked()).status_code == 413

    assert is_loopback("127.0.0.1") and is_loopback("::1") and is_loopback("localhost")
    assert not is_loopback("0.0.0.0") and not is_loopback("192.168.1.5")
    monkeypatch.delenv("QA_API_KEY", raising=False)
    result = CliRunner().invoke(cli.main, ["serve", "--host", "0.0.0.0"])
    assert result.exit_code == 2 and "--api-key" in result.output


def test_the_api_key_from_a_file_or_the_environment_and_bearer_in_any_case(fakes, tmp_path, monkeypatch):
    import uvicorn

    from qa import cli

    apps = []
    monkeypatch.setattr(uvicorn, "run", lambda app, **kwargs: apps.append(app))
    monkeypatch.delenv("QA_API_KEY", raising=False)
    key_file = tmp_path / "key"
    key_file.write_text("from-file\n", encoding="utf-8")
    started = CliRunner().invoke(cli.main, ["serve", "--api-key-file", str(key_file)])
    assert started.exit_code == 0, started.output
    monkeypatch.setenv("QA_API_KEY", "from-env")
    assert CliRunner().invoke(cli.main, ["serve"]).exit_code == 0
    for app, key in zip(apps, ("from-file", "from-env"), strict=True):
        with running(app) as url:
            assert httpx.get(f"{url}/v1/models").status_code == 401
            for scheme in ("Bearer", "bearer", "BEARER"):
                assert httpx.get(f"{url}/v1/models", headers={"Authorization": f"{scheme} {key}"}).status_code == 200
            assert httpx.get(f"{url}/v1/models", headers={"Authorization": f"Basic {key}"}).status_code == 401

    both = CliRunner().invoke(cli.main, ["serve", "--api-key-file", str(key_file)])
    assert both.exit_code == 2 and "one way" in both.output
    monkeypatch.delenv("QA_API_KEY")
    (tmp_path / "empty").write_text("\n", encoding="utf-8")
    for name, why in (("nope", "No such file"), ("empty", "holds no key")):
        refused = CliRunner().invoke(cli.main, ["serve", "--api-key-file", str(tmp_path / name)])
        assert refused.exit_code == 2 and str(tmp_path / name) in refused.output and why in refused.output


def test_half_sent_bodies_are_dropped_after_the_body_timeout(assistant_with):
    import socket

    with running(build_app(assistant_with(KeyedLLM()), body_timeout_s=0.5)) as url:
        host, port = url.removeprefix("http://").split(":")
        clients = []
        for _ in range(30):
            client = socket.create_connection((host, int(port)), timeout=5)
            client.sendall(b"POST /v1/search HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                           b"Content-Length: 100\r\n\r\n{\"query\": \"Rus")
            clients.append(client)
        for client in clients:
            with client:
                reply = b""
                while chunk := client.recv(4096):  # until the server closes the connection
                    reply += chunk
                assert reply.startswith(b"HTTP/1.1 408") and b"did not arrive within 0.5 s" in reply, reply
        assert httpx.post(f"{url}/v1/search", json={"query": Q2003}).status_code == 200


def test_no_body_of_any_shape_ends_in_a_500(assistant_with):
    from hypothesis import given, settings
    from hypothesis import strategies as st

    scalars = (st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False)
               | st.text(max_size=12) | st.sampled_from(["2003", "2003-04", "2003-04-08", "9999", "0001", " "]))
    values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=3)
                          | st.dictionaries(st.text(max_size=6), inner, max_size=3), max_leaves=6)
    fields = st.sampled_from(["query", "question", "k", "today", "since", "until", "sources", "source",
                              "include_undated", "messages", "qa", "model", "stream"])
    with running(build_app(assistant_with(KeyedLLM()), queue=16)) as url, httpx.Client(base_url=url) as http:
        @settings(max_examples=80, deadline=None, database=None)
        @given(path=st.sampled_from(["/v1/search", "/v1/ask", "/v1/chat/completions"]),
               body=st.dictionaries(fields, values, max_size=5), qa=st.dictionaries(fields, values, max_size=3))
        def post(path, body, qa):
            if path.endswith("completions"):
                body = {"messages": [{"role": "user", "content": Q2003}], **body, "qa": qa}
            else:
                body = {"query" if path.endswith("search") else "question": Q2003, **body}
            reply = http.post(path, json=body, timeout=30)
            assert reply.status_code in (200, 400, 404), (path, body, reply.text)
        post()


def test_without_a_key_only_loopback_host_names_are_served(assistant_with):
    with running(build_app(assistant_with(KeyedLLM()))) as url:
        port = url.rsplit(":", 1)[1]
        for host in ("evil.example", f"evil.example:{port}", "127.0.0.1.nip.io", f"localhost.evil.example:{port}",
                     "[::2]", "0.0.0.0"):
            for refused in (httpx.get(f"{url}/v1/models", headers={"Host": host}),
                            httpx.post(f"{url}/v1/search", headers={"Host": host}, json={"query": Q2003})):
                assert refused.status_code == 403, (host, refused.text)
                assert repr(host) in refused.json()["error"]["message"]
        for host in (f"127.0.0.1:{port}", f"localhost:{port}", "localhost", f"[::1]:{port}", "LocalHost.", "127.0.0.2"):
            assert httpx.get(f"{url}/v1/models", headers={"Host": host}).status_code == 200, host
    with running(build_app(assistant_with(KeyedLLM()), api_key="k")) as url:  # behind a proxy, by its name
        assert httpx.get(f"{url}/v1/models", headers={"Host": "qa.example", "Authorization": "Bearer k"}) \
            .status_code == 200


def test_the_question_is_the_last_user_message():
    def question_of(messages):
        return parse(ChatRequest, {"messages": messages}).question()

    assert question_of([{"role": "user", "content": "a b"}, {"role": "assistant", "content": None},
                        {"role": "user", "content": [{"type": "text", "text": " c "}, {"type": "image_url"}]}]) \
        == ("c", ["a b"])
    for bad in (None, [], [{"role": "system", "content": "hi"}], [{"role": "user", "content": 3}], ["x"]):
        with pytest.raises(BadRequest):
            question_of(bad)


def test_every_field_is_checked_and_a_bad_one_is_named_never_a_500(assistant_with):
    user = {"role": "user", "content": Q2003}
    cases = [("/v1/search", {"query": "Russia", "since": 2003}, "'since'"),
             ("/v1/search", {"query": "Russia", "until": "2003-02-30"}, "'until'"),
             ("/v1/search", {"query": "Russia", "today": 123}, "'today'"),
             ("/v1/search", {"query": "Russia", "sources": 5}, "'sources'"),
             ("/v1/search", {"query": "Russia", "sources": ["a", 5]}, "'sources[1]'"),
             ("/v1/search", {"query": "Russia", "source": ["a"]}, "'source'"),
             ("/v1/search", {"query": "Russia", "k": True}, "'k'"),
             ("/v1/search", {"query": "Russia", "k": 2.5}, "'k'"),
             ("/v1/search", {"query": "Russia", "qeury": "x"}, "'qeury'"),
             ("/v1/search", {"query": 5}, "'query'"),
             ("/v1/ask", {"question": "Russia", "include_undated": "yes"}, "'include_undated'"),
             ("/v1/ask", {"question": ["Russia"]}, "'question'"),
             ("/v1/ask", {"question": " " * 10}, "'question'"),
             ("/v1/chat/completions", {"messages": [user], "qa": "x"}, "'qa'"),
             ("/v1/chat/completions", {"messages": [user], "qa": {"until": []}}, "'qa.until'"),
             ("/v1/chat/completions", {"messages": [user], "qa": {"k": 0}}, "'qa.k'"),
             ("/v1/chat/completions", {"messages": [{"role": "user", "content": [{"type": "text", "text": 5}]}]},
              "'messages[0].content'"),
             ("/v1/chat/completions", {"messages": [{"role": 1, "content": "x"}]}, "'messages[0].role'"),
             ("/v1/chat/completions", {"messages": [user], "stream": "yes"}, "'stream'")]
    with running(build_app(assistant_with(KeyedLLM()))) as url:
        for path, body, why in cases:
            bad = httpx.post(url + path, json=body)
            assert bad.status_code == 400 and why in bad.json()["error"]["message"], (path, body, bad.text)
        fine = httpx.post(f"{url}/v1/search", json={"query": Q2003, "k": 2, "today": "2020-01-01", "source": "x",
                                                    "sources": ["y"], "include_undated": True, "until": "2019"})
        assert fine.status_code == 200 and fine.json()["filters"]["sources"] == ["y", "x"]
        for edge in ({"since": "0001", "until": "9999"}, {"today": "9999-12-31"}, {"today": "0001-01-01"}):
            found = httpx.post(f"{url}/v1/search", json={"query": Q2003, **edge})
            assert found.status_code == 200 and found.json()["passages"], (edge, found.text)


@pytest.mark.slow
def test_real_models_stream_a_cited_answer(seed_library, encoder):
    from openai import OpenAI

    assistant = Assistant(seed_library, encoder=encoder)
    with running(build_app(assistant)) as url:
        client = OpenAI(base_url=f"{url}/v1", api_key="unused", max_retries=0, timeout=300)
        chunks = list(client.chat.completions.create(
            model=f"qa/{assistant.library.name}", messages=[{"role": "user", "content": Q2003}], stream=True))
        extra = chunks[-1].model_extra["qa"]
        assert not extra["abstained"] and extra["citations"]
        assert any("003_c13b77ec0b5e076f" in c["article_id"] for c in extra["citations"])
        text = "".join(c.choices[0].delta.content or "" for c in chunks)
        assert "[1]" in text and "Sources:" in text
        found = json.loads(httpx.post(f"{url}/v1/search", json={"query": Q2003}).text)
        assert "003_c13b77ec0b5e076f" in found["passages"][0]["article_id"]


def test_stories_are_listed_with_their_window_and_bad_parameters_are_400(assistant_with):
    with running(build_app(assistant_with(KeyedLLM()))) as url:
        found = httpx.get(f"{url}/v1/stories", params={"since": "2000", "limit": 2}).json()
        expected = Assistant(encoder=FakeEncoder()).stories(since="2000", limit=2, write=False, mark_seen=False)
        assert found["window"]["since"] == "2000-01-01" and found["stories"]
        assert [[a["article_id"] for a in s["articles"]] for s in found["stories"]] == \
            [[a.id for a in s.all_articles] for s in expected.stories]  # what the Python API lists, limit applied
        assert [s["event"] for s in found["stories"]] == [s.event for s in expected.stories]
        for story in found["stories"]:
            own = {a["article_id"] for a in story["articles"]}
            assert story["text"] and all(c["article_id"] in own for c in story["citations"])
        late = httpx.get(f"{url}/v1/stories", params={"since": "2014-01-01"}).json()
        assert late["stories"] == [] and late["window"]["articles"] == 0
        for params in ({"limit": "0"}, {"since": "yesterday"}, {"since": "2014", "until": "2013"}):
            bad = httpx.get(f"{url}/v1/stories", params=params)
            assert bad.status_code == 400, params
