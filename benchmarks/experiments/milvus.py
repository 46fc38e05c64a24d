"""A library in Milvus Lite beside the same library in a folder: recall, cold ask, query latency at scale.

    python benchmarks/experiments/milvus.py ../shared/eval/rtqa-2025 --library LIB [--sizes 100000,1000000] [--asks 5]
    python benchmarks/experiments/milvus.py ../shared/eval/rtqa-2025 --library LIB --scale-only --filtered --sizes 200000

Why: the Milvus backend must keep the folder's answers (recall@1/5/10 within 0.01) and
stay interactive as libraries grow. In one run:
(1) LIB (a folder library of the dataset's corpus) is copied into a Milvus Lite file
    through the storage seam (the same articles, chunks and vectors: no re-embedding),
    and the shipped retrieval is scored on both, score.py's way;
(2) ``qa ask --no-llm`` is timed cold (a new process each time) on both;
(3) for each size, the scale benchmark's vectors (``benchmarks/suite/scale.py``: the real
    vectors repeated with noise) go into a Milvus Lite collection with the backend's FLAT
    index and its generation filter, and single queries (k=10) are timed beside FAISS's
    exact IndexFlatIP over the same vectors;
(4) with ``--scale-only --filtered``: date-filtered latency on those vectors, dated by chance,
    with and without the chunks' month field (``filtered``).
"""
from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from benchmarks.common import REPO, describe  # noqa: E402

from qa.embedder import load_encoder  # noqa: E402
from qa import evaluation  # noqa: E402
from qa.reading.chunking import Chunk  # noqa: E402
from qa.library import Change, Library, create_library, open_library  # noqa: E402
from qa.retrieval import Retriever  # noqa: E402

QUESTION = "What did Russia propose in 2003?"
INSERT_BATCH = 1000  # rows per insert: 5,000-row batches went in at 142 rows/s, 1,000-row ones far faster


def copy_library(src: Library, dst: Library, batch: int = 200) -> None:
    """Every article of ``src`` with its chunks and stored vectors into ``dst``, in writes of ``batch`` articles."""
    articles = src.articles()
    for i in range(0, len(articles), batch):
        part = articles[i:i + batch]
        stored = [c for a in part for c in src.article_chunks(a.id)]
        change = Change(articles=part, chunks=[Chunk(c.article.id, c.start, c.end, c.text) for c in stored],
                        vectors=src.vectors([c.row for c in stored]))
        with dst.writing():
            dst.commit(change)


def recall(library: Library, encoder, dataset: Path) -> tuple[dict, float]:
    questions = evaluation.read_jsonl(dataset / "questions.jsonl")
    texts = [r["text"] for r in evaluation.read_jsonl(evaluation.corpus_path(dataset))]
    retriever = Retriever(library, encoder)
    start = time.perf_counter()
    preds = [{"id": q["id"], "answer": "", "passages": [p.text for p in retriever.search(
        q["question"], 10, today=evaluation.question_date(q))]} for q in questions]
    per_q = (time.perf_counter() - start) / len(questions)
    return evaluation.score(questions, texts, preds), per_q


def cold_asks(address: str, n: int) -> float:
    """Median wall seconds of ``qa ask --no-llm --json`` in a new process."""
    times = []
    for _ in range(n):
        start = time.perf_counter()
        done = subprocess.run([sys.executable, "-c", "from qa.cli import main; main()", "ask", "--no-llm",
                               "--json", "--library", address, QUESTION], cwd=REPO, capture_output=True, text=True)
        if done.returncode:
            raise SystemExit(f"qa ask --library {address} failed: {done.stderr[-2000:]}")
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def scale(library: Path, size: int, tmp: Path) -> str:
    import faiss
    from pymilvus import DataType, MilvusClient

    from benchmarks.suite.scale import TIMED_QUERIES, latency_ms, scale_vectors

    x, queries = scale_vectors(library, size)
    queries = queries[:TIMED_QUERIES]
    flat = faiss.IndexFlatIP(x.shape[1])
    flat.add(x)
    f50, f99 = latency_ms(lambda q: flat.search(q[None], 10), queries)
    truth = flat.search(queries, 10)[1]
    client = MilvusClient(str(tmp / f"s{size}.db"))
    schema = MilvusClient.create_schema(auto_id=False, enable_dynamic_field=False)
    schema.add_field("id", DataType.INT64, is_primary=True)
    schema.add_field("vector", DataType.FLOAT_VECTOR, dim=x.shape[1])
    schema.add_field("added", DataType.INT64)
    schema.add_field("removed", DataType.INT64)
    index = MilvusClient.prepare_index_params()
    index.add_index(field_name="vector", index_type="FLAT", metric_type="IP")
    client.create_collection("chunks", schema=schema, index_params=index, consistency_level="Strong")
    start = time.perf_counter()
    for i in range(0, size, INSERT_BATCH):
        client.insert("chunks", [{"id": j, "vector": x[j].tolist(), "added": 1, "removed": 0}
                                 for j in range(i, min(size, i + INSERT_BATCH))])
    insert = time.perf_counter() - start
    live = "added <= 1 and (removed == 0 or removed > 1)"  # what every qa search filters on

    def search(q):
        return client.search("chunks", data=[q.tolist()], anns_field="vector", limit=10, filter=live,
                             search_params={"metric_type": "IP"})[0]

    search(queries[0])
    m50, m99 = latency_ms(search, queries)
    found = [[h["id"] for h in search(q)] for q in queries]
    rec = float(np.mean([len(set(a) & set(b)) / 10 for a, b in zip(found, truth)]))
    client.close()
    return (f"| {size:,} | FAISS IndexFlatIP (exact) | {f50:.1f} | {f99:.1f} | 1.000 | |\n"
            f"| {size:,} | Milvus Lite FLAT + generation filter | {m50:.1f} | {m99:.1f} | {rec:.3f} | "
            f"{size / insert:,.0f} rows/s |")


def filtered(library: Path, size: int, tmp: Path) -> str:
    """Date-filtered search latency (k=10) over ``size`` of the scale vectors, each dated by chance
    between 2000 and 2025 (5% undated), in two Milvus Lite collections: one as libraries made
    before the month field and as Lite libraries now (filters on ``date`` alone), and one with
    an INVERTED index on ``month`` filtered on both, the expression a partition-keyed server
    library gets (``date_expr`` in qa/library/milvus/expressions.py): whether month terms pay
    on an engine without partition keys."""
    from datetime import date

    from pymilvus import DataType, MilvusClient

    from qa.library import Filters
    from benchmarks.suite.scale import TIMED_QUERIES, latency_ms, scale_vectors
    from qa.library.milvus.expressions import date_expr, month

    x, queries = scale_vectors(library, size)
    queries = queries[:TIMED_QUERIES]
    rng = np.random.default_rng(1)
    first = date(2000, 1, 1).toordinal()
    days = [date.fromordinal(first + int(d)).isoformat() if d >= 0 else ""
            for d in np.where(rng.random(size) < 0.05, -1, rng.integers(0, 26 * 365, size))]
    live = "added <= 1 and (removed == 0 or removed > 1)"
    wheres = {"none": None, "a year": Filters(since=date(2003, 1, 1), until=date(2003, 12, 31)),
              "a month": Filters(since=date(2003, 6, 1), until=date(2003, 6, 30))}
    lines = []
    for kind in ("date only (before)", "date + month terms, INVERTED index on month"):
        months = kind.startswith("date +")
        client = MilvusClient(str(tmp / f"f{size}{int(months)}.db"))
        schema = MilvusClient.create_schema(auto_id=False, enable_dynamic_field=False)
        schema.add_field("id", DataType.INT64, is_primary=True)
        schema.add_field("vector", DataType.FLOAT_VECTOR, dim=x.shape[1])
        for field in ("added", "removed"):
            schema.add_field(field, DataType.INT64)
        schema.add_field("date", DataType.VARCHAR, max_length=64)
        if months:
            schema.add_field("month", DataType.VARCHAR, max_length=16)
        index = MilvusClient.prepare_index_params()
        index.add_index(field_name="vector", index_type="FLAT", metric_type="IP")
        if months:
            index.add_index(field_name="month", index_type="INVERTED")
        client.create_collection("chunks", schema=schema, index_params=index, consistency_level="Strong")
        for i in range(0, size, INSERT_BATCH):
            client.insert("chunks", [dict({"id": j, "vector": x[j].tolist(), "added": 1, "removed": 0,
                                           "date": days[j]}, **({"month": month(days[j])} if months else {}))
                                     for j in range(i, min(size, i + INSERT_BATCH))])
        cells = []
        for where in wheres.values():
            expr = " and ".join(e for e in (live, where and date_expr(where, months)) if e)

            def search(q):
                return client.search("chunks", data=[q.tolist()], anns_field="vector", limit=10, filter=expr,
                                     search_params={"metric_type": "IP"})[0]

            search(queries[0])
            cells.append("{:.1f} / {:.1f}".format(*latency_ms(search, queries)))
        client.close()
        lines.append(f"| {size:,} | {kind} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("dataset", type=Path)
    ap.add_argument("--library", type=Path, required=True, help="a folder library of the dataset's corpus")
    ap.add_argument("--sizes", default="100000", help="chunk counts for the latency table ('' to skip)")
    ap.add_argument("--asks", type=int, default=5, help="cold qa ask --no-llm runs per library")
    ap.add_argument("--scale-only", action="store_true", help="only the latency table")
    ap.add_argument("--filtered", action="store_true",
                    help="with --scale-only: date-filtered latency with and without the month field")
    a = ap.parse_args()
    if a.scale_only and a.filtered:
        print(describe())
        print("| chunks | collection | p50 / p99 ms, no filter | a year (2003) | a month (2003-06) |\n"
              "|---|---|---|---|---|")
        with tempfile.TemporaryDirectory() as tmp_dir:
            for size in [int(s) for s in a.sizes.split(",") if s]:
                print(filtered(a.library, size, Path(tmp_dir)), flush=True)
        return
    if a.scale_only:
        print(describe())
        print("| chunks | index | p50 ms | p99 ms | recall@10 | insert |\n|---|---|---|---|---|---|")
        with tempfile.TemporaryDirectory() as tmp_dir:
            for size in [int(s) for s in a.sizes.split(",") if s]:
                print(scale(a.library, size, Path(tmp_dir)), flush=True)
        return
    print(describe())
    encoder = load_encoder()
    folder = open_library(a.library, encoder)
    with tempfile.TemporaryDirectory() as tmp_dir:
        tmp = Path(tmp_dir)
        address = f"milvus://{tmp}/rtqa.db/rtqa"
        start = time.perf_counter()
        milvus = create_library(address, encoder)
        copy_library(folder, milvus)
        copied = time.perf_counter() - start
        print(f"copied {milvus.counts} into Milvus Lite in {copied:.0f} s "
              f"({milvus.counts['chunks'] / copied:.0f} chunks/s)")
        encoder.encode(["warm up"])
        print("| library | recall@1 | recall@5 | recall@10 | retrieval ms/question |\n|---|---|---|---|---|")
        for name, lib in (("folder (FAISS + bm25s)", folder), ("Milvus Lite (FLAT + Milvus BM25)", milvus)):
            s, per_q = recall(lib, encoder, a.dataset)
            print(f"| {name} | {s['recall@1']:.3f} | {s['recall@5']:.3f} | {s['recall@10']:.3f} | {per_q * 1e3:.0f} |")
        from qa.library.milvus import disconnect_all

        disconnect_all()  # Milvus Lite: one process per file, and the cold asks are other processes
        if a.asks:
            print("\n| library | cold `qa ask --no-llm` median (s) |\n|---|---|")
            print(f"| folder | {cold_asks(str(a.library), a.asks):.2f} |")
            print(f"| Milvus Lite | {cold_asks(address, a.asks):.2f} |")
        sizes = [int(s) for s in a.sizes.split(",") if s]
        if sizes:
            print("\n| chunks | index | p50 ms | p99 ms | recall@10 | insert |\n|---|---|---|---|---|---|")
            for size in sizes:
                print(scale(a.library, size, tmp), flush=True)


if __name__ == "__main__":
    main()
