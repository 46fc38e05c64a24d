"""Libraries in Milvus (Milvus Lite: the real engine): every command through the CLI, a server
shared by several processes, and ingest with the embedding on Ray."""
from __future__ import annotations

import json
import socket
import subprocess
import sys
import textwrap

import pytest
from click.testing import CliRunner

from qa import cli
from qa.library import LibraryError, open_library

from conftest import REPO, SEEDS
from fakes import FakeEncoder
from test_cli import run

pytest.importorskip("pymilvus", reason="pip install 'qa-news[milvus]'")

Q2003 = "What did Russia propose in 2003 for North Korea six-sided discussions?"


@pytest.fixture(autouse=True)
def _engines():
    from qa.library.milvus import disconnect_all

    yield
    disconnect_all()


def test_every_command_works_on_a_milvus_lite_library(fakes, tmp_path):
    lib = f"milvus://{tmp_path}/news.db/seeds"
    result = run("ingest", str(SEEDS), "--library", lib)
    assert result.exit_code == 0, result.output
    assert "4 articles added" in result.output
    again = run("ingest", str(SEEDS), "--library", lib)
    assert "0 articles added" in again.output and "4 unchanged files skipped" in again.output

    listed = run("list", "--json", "--library", lib).stdout.splitlines()
    assert len(listed) == 4 and json.loads(listed[0])["date"].startswith("2003")
    found = json.loads(run("ask", "--no-llm", "--json", "--library", lib, Q2003).stdout)
    assert found["passages"][0]["date"].startswith("2003")

    fakes.replies.append("Russia proposed six-sided discussions [1].")
    answer = json.loads(run("ask", "--json", "--library", lib, Q2003).stdout)
    assert answer["abstained"] is False and answer["citations"][0]["date"].startswith("2003")

    assert "healthy" in run("doctor", "--library", lib).output
    removed = run("remove", "--library", lib, str(SEEDS / "003_c13b77ec0b5e076f.txt"))
    assert removed.exit_code == 0 and "1 articles removed" in removed.output
    after = json.loads(run("ask", "--no-llm", "--json", "--library", lib, Q2003).stdout)
    assert not any((p["date"] or "").startswith("2003") for p in after["passages"])
    assert len(run("list", "--json", "--library", lib).stdout.splitlines()) == 3


def test_a_library_made_with_another_embedder_is_refused(tmp_path):
    class Other(FakeEncoder):
        name = "other-embedder"

    lib = f"milvus://{tmp_path}/news.db/seeds"
    from qa.library import create_library

    create_library(lib, FakeEncoder()).add([SEEDS / "000_8e1adf5baa08f22c.txt"], FakeEncoder())
    with pytest.raises(LibraryError, match="built with embedder 'fake-bow'"):
        open_library(lib, Other())


def test_bad_addresses_name_what_is_wrong(fakes, tmp_path):
    out = run("ask", "--no-llm", "--library", "milvus:///nowhere/x.db/seeds", "question")
    assert out.exit_code == 2 and "/nowhere" in out.output
    out = run("ask", "--no-llm", "--library", "milvus://127.0.0.1:1", "question")
    assert out.exit_code == 2 and "must end in /NAME" in out.output
    out = run("ask", "--no-llm", "--library", "redis://host/x", "question")
    assert out.exit_code == 2 and "unknown library address" in out.output


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


SERVER = textwrap.dedent("""
    import sys, warnings
    warnings.filterwarnings("ignore")
    from milvus_lite.server import Server
    server = Server(sys.argv[1], address="127.0.0.1:" + sys.argv[2])
    assert server.init() and server.start()
    print("ready", flush=True)
    sys.stdin.read()  # until the test closes it
    server.stop()
""")

CLIENT = textwrap.dedent("""
    import json, sys
    sys.path.insert(0, sys.argv[1])
    sys.path.insert(0, sys.argv[1] + "/tests")
    from conftest import SEEDS
    from fakes import FakeEncoder
    from qa.library import create_library, open_library
    from qa.retrieval import Retriever
    role, lib = sys.argv[2], sys.argv[3]
    enc = FakeEncoder()
    if role == "ingest":
        report = create_library(lib, enc).add([sys.argv[4]], enc)
        print(json.dumps({"added": len(report.added)}))
    else:
        seen = []
        for _ in range(15):
            library = open_library(lib, enc)
            passages = Retriever(library, enc).search("Russia North Korea tensions", 5)
            assert len({p.chunk.row for p in passages}) == len(passages)
            seen.append(library.counts["articles"])
        print(json.dumps({"seen": seen}))
""")


def test_two_processes_ask_while_a_third_ingests_one_milvus_lite_library(tmp_path):
    """Milvus Lite serves one library to several processes through its server on a loopback port."""
    port = _free_port()
    server = subprocess.Popen([sys.executable, "-c", SERVER, str(tmp_path / "shared.db"), str(port)],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert server.stdout.readline().strip() == "ready"
        lib = f"milvus://127.0.0.1:{port}/news"
        first = subprocess.run([sys.executable, "-c", CLIENT, str(REPO), "ingest", lib,
                                str(SEEDS / "000_8e1adf5baa08f22c.txt")], capture_output=True, text=True,
                               timeout=300)
        assert first.returncode == 0, first.stderr
        procs = [subprocess.Popen([sys.executable, "-c", CLIENT, str(REPO), role, lib, str(SEEDS)],
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
                 for role in ("ask", "ask", "ingest")]
        outs = [p.communicate(timeout=300) for p in procs]
        for p, (out, err) in zip(procs, outs):
            assert p.returncode == 0, err
        results = [json.loads(out.splitlines()[-1]) for out, _ in outs]
        assert results[2] == {"added": 3}
        for seen in (results[0]["seen"], results[1]["seen"]):
            assert set(seen) <= {1, 4} and seen == sorted(seen)  # before, then after; never between
        library = open_library(lib, FakeEncoder())
        assert library.counts == {"articles": 4, "chunks": len(library.chunk_texts())}
        rows = [c.row for a in library.articles() for c in library.article_chunks(a.id)]
        assert len(rows) == len(set(rows)) == library.counts["chunks"]  # nothing lost, no duplicates
    finally:
        from qa.library.milvus import disconnect_all

        disconnect_all()
        server.stdin.close()
        server.wait(timeout=60)


@pytest.mark.slow
def test_ray_ingest_into_milvus_lite_answers_the_2003_question(tmp_path, encoder):
    pytest.importorskip("ray", reason="pip install 'qa-news[cluster]'")
    lib = f"milvus://{tmp_path}/news.db/seeds"
    result = CliRunner().invoke(cli.main, ["ingest", str(SEEDS), "--library", lib, "--ray", "auto",
                                           "--ray-actors", "1"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert "4 articles added" in result.output
    import ray

    ray.shutdown()
    from qa.retrieval import Retriever

    library = open_library(lib, encoder)
    assert library.counts["articles"] == 4
    rows = sorted(c.row for a in library.articles() for c in library.article_chunks(a.id))
    from qa.reading.chunking import ChunkParams, chunk_vectors

    made_here = chunk_vectors(encoder, [(c.article.title, c.text) for c in library.chunks(rows[:3])],
                              ChunkParams.from_dict(library.chunking))  # as a one-machine ingest makes them
    assert (library.vectors(rows[:3]) @ made_here.T).diagonal() == pytest.approx(1, abs=1e-4)
    passages = Retriever(library, encoder).search("What did Russia propose in 2003?", 3)
    assert passages[0].article.date.startswith("2003")


def test_a_lite_file_is_free_for_another_process_once_this_one_disconnects(tmp_path):
    from qa.library import create_library
    from qa.library.milvus import disconnect_all

    lib = f"milvus://{tmp_path}/news.db/seeds"
    create_library(lib, FakeEncoder()).add([SEEDS / "000_8e1adf5baa08f22c.txt"], FakeEncoder())
    disconnect_all()
    probe = textwrap.dedent("""
        import sys
        sys.path[:0] = [sys.argv[1], sys.argv[1] + "/tests"]
        from fakes import FakeEncoder
        from qa.library import open_library
        print(open_library(sys.argv[2], FakeEncoder()).counts["articles"])
    """)
    other = subprocess.run([sys.executable, "-c", probe, str(REPO), lib], capture_output=True, text=True,
                           timeout=120)
    assert other.returncode == 0 and other.stdout.split()[-1] == "1", other.stderr


class Killed(BaseException):
    """Stands for the process being killed: nothing of qa's catches it."""


def test_an_ingest_killed_between_staged_batches_and_its_switch_leaves_nothing_visible(tmp_path, monkeypatch):
    """Ingest writes chunk rows under the pending generation as batches are encoded; a write that
    dies before its switch shows none of them, and running it again completes it once."""
    from embeddings.encoder import EncodingQueue
    from qa.library import create_library
    from qa.library.milvus import MilvusLibrary

    lib, enc = f"milvus://{tmp_path}/news.db/seeds", FakeEncoder()
    create_library(lib, enc).add([SEEDS / "000_8e1adf5baa08f22c.txt"], enc)
    before = open_library(lib, enc)
    generation, counts = before.manifest["generation"], dict(before.counts)
    monkeypatch.setattr(EncodingQueue, "batch", 5)
    real_stage, staged = MilvusLibrary.stage, []

    def stage_then_die(self, chunks, vectors, articles):
        assert real_stage(self, chunks, vectors, articles)
        staged.append(len(chunks))
        if len(staged) == 2:
            raise Killed

    monkeypatch.setattr(MilvusLibrary, "stage", stage_then_die)
    with pytest.raises(Killed):
        open_library(lib, enc).add([SEEDS], enc)
    pending = before.db.count(before.db.chunks, f"added > {generation}")
    assert pending == sum(staged) > 0  # the rows went in before the ingest's end

    after = open_library(lib, enc)
    assert after.manifest["generation"] == generation and after.counts == counts
    assert [a.title for a in after.articles()] == [a.title for a in before.articles()]
    vector = enc.encode(["Russia proposed six-sided discussions with North Korea in 2003"])[0]
    assert {c.article.id for c in after.chunks(r for r, _ in after.dense_search(vector, 50))} == {
        a.id for a in before.articles()}
    assert after.doctor(lib, repair=False).problems == [f"{pending} rows left by an interrupted write"]

    monkeypatch.setattr(MilvusLibrary, "stage", real_stage)
    assert len(open_library(lib, enc).add([SEEDS], enc).added) == 3
    done = open_library(lib, enc)
    assert done.counts["articles"] == 4 and done.manifest["generation"] == generation + 1
    rows = [c.row for a in done.articles() for c in done.article_chunks(a.id)]
    assert len(rows) == len(set(rows)) == done.counts["chunks"]
    assert done.db.count(done.db.chunks, "id >= 0") == done.counts["chunks"]  # no leftovers, no copies


def test_a_library_made_before_the_month_field_still_filters_by_date(tmp_path, monkeypatch):
    """Libraries whose chunks have no ``month`` (made by an earlier release) open, take new
    articles and filter by date as new ones do; where month is a partition key (a server), the
    filter names the months as well."""
    from datetime import date

    from qa.library import Filters, create_library
    from qa.library.milvus.client import Collections
    from qa.library.milvus.expressions import date_expr

    from test_library_contract import articles_file

    real_call = Collections.call

    def as_before(self, method, *args, **kwargs):
        if method == "create_collection" and args[0].endswith("_chunks"):
            kwargs["schema"].fields[:] = [f for f in kwargs["schema"].fields if f.name != "month"]
        return real_call(self, method, *args, **kwargs)

    enc, source = FakeEncoder(), articles_file(tmp_path / "harbour.jsonl")
    spring = Filters(since=date(2020, 3, 1), until=date(2020, 5, 15))
    assert date_expr(spring, months=True).startswith('month in ["2020-03", "2020-04", "2020-05"] and date >= ')
    found = {}
    for name in ("now", "before"):
        if name == "before":
            monkeypatch.setattr(Collections, "call", as_before)
        lib = f"milvus://{tmp_path}/{name}.db/news"
        create_library(lib, enc).add([source], enc)
        monkeypatch.undo()
        library = open_library(lib, enc)
        assert (library._month_field is not None) == (name == "now") and not library._months  # Lite: no key
        vector = enc.encode(["harbour bridge repair council tolls ferries"])[0]
        found[name] = [sorted(c.article.title for c in library.chunks(r for r, _ in library.dense_search(
            vector, 10, where))) for where in (spring, Filters(since=date(2020, 10, 1)),
                                               Filters(until=date(2020, 1, 31)))]
    assert found["now"] == found["before"]
    assert [len(titles) for titles in found["now"]] == [3, 3, 1]
