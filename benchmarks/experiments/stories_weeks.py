"""`qa stories`' grouping settings scored on a set's even and odd weeks (#28), the library read once.

    python benchmarks/experiments/stories_weeks.py --library LIB [--dataset ../shared/eval/rtqa-2025]
        [--setting 0.4:5:0.85 --setting 0.55:none:1 ...] [--neighbours K] [--mutual]
        [--first-chunk SHARE] [--title-words WEIGHT] [--merge-pieces COSINE] [--misses]

For each ``--setting CUT:LOOSE_MAX:FIRM`` (``none``: no size limit, plain average link) the whole
library is grouped as ``qa stories --since 1900 --include-undated --limit 0`` groups it (one vector
per article, FAISS k-NN, ``average_link``, copies folded, ``rank``) and scored by the dataset's
``score_stories.py`` on all its quiz stories and on those whose question's date falls in an even
(tuning) or odd (held-out) ISO week, always against the first 2N stories of all weeks (N: all
eligible quiz stories), as one run of ``qa stories`` is scored. The other flags apply the third
round's designs (none shipped: docs/quality.md, "Stories") to every setting.

A quiz story is a question's search results, most of them often about something else; so each run
also prints how many of the quiz stories with 3+ articles that state the question's answer (its
words, case aside) have 3 of those in one of the first 2N stories, at the same 0.6 precision
("answer-bearing"): a grouping that gains there groups the event, not its search noise.
``--misses`` lists the quiz stories each setting leaves uncovered, each article with the story it is in.
"""
from __future__ import annotations

import argparse
import importlib.util
import json
import re
import sys
import zlib
from datetime import date
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from benchmarks.common import describe  # noqa: E402
from qa import stories  # noqa: E402
from qa.library import open_library  # noqa: E402
from qa.library.filters import make_filters  # noqa: E402
from qa.library.twins import is_twin  # noqa: E402

_WORD = re.compile(r"[A-Za-z][A-Za-z'\-]+")
_STOP = frozenset("""the a an of to in and for on with at by from is are was were be as it its this that what how
why who when which will after over new says say said vs about into out up more than can could has have had not but
or their his her they you your we our us""".split())


def blend_first_chunk(owners: list[str], chunk_vectors: np.ndarray, ids: list[str], mean: np.ndarray,
                      share: float) -> np.ndarray:
    """Each article's unit vector mixed from its first stored chunk (title and lead; ``share``) and
    the mean of all its chunks (the rest), from the rows ``window_vectors`` returns in chunk order."""
    first: dict[str, int] = {}
    for row, owner in enumerate(owners):
        first.setdefault(owner, row)
    lead = stories._unit(chunk_vectors[[first[i] for i in ids]])
    return stories._unit(share * lead + (1 - share) * mean)


def with_title_words(vectors: np.ndarray, titles: list[str], weight: float, dims: int = 2048) -> np.ndarray:
    """The dense vectors with a hashed TF-IDF vector of each title's words appended at ``weight``:
    the cosine of two articles becomes (dense + weight² · title words) / (1 + weight²), and group
    sums still give average link. A word in one title only links nothing and is left out."""
    words = [{w.lower() for w in _WORD.findall(t.split(" | ")[0])} for t in titles]
    words = [{w for w in ws if w not in _STOP and len(w) > 2} for ws in words]
    df: dict[str, int] = {}
    for ws in words:
        for w in ws:
            df[w] = df.get(w, 0) + 1
    hashed = np.zeros((len(titles), dims), np.float32)
    for row, ws in enumerate(words):
        for w in ws:
            if df[w] > 1:
                hashed[row, zlib.crc32(w.encode()) % dims] += np.log(len(titles) / df[w])
    return stories._unit(np.hstack([vectors, weight * stories._unit(hashed)]))


def mutual_only(scores: np.ndarray, found: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The k-NN graph with only its mutual edges (each article among the other's nearest): an
    article near everything (a roundup, a "50 states" digest) keeps few links."""
    n = len(found)
    rows = np.repeat(np.arange(n), found.shape[1])
    cols = found.ravel()
    keys = np.sort(rows[cols >= 0] * n + cols[cols >= 0])
    back = np.where(cols >= 0, cols * n + rows, -1)
    at = np.minimum(np.searchsorted(keys, back), len(keys) - 1)
    mutual = ((cols >= 0) & (keys[at] == back)).reshape(found.shape)
    return np.where(mutual, scores, -np.inf), np.where(mutual, found, -1)


def merge_pieces(vectors: np.ndarray, labels: np.ndarray, cosine: float) -> np.ndarray:
    """A second pass: groups of 3 or more whose centroids are at ``cosine`` or closer become one
    (a large event's capped pieces shown as one story). All pairs of such groups: an experiment."""
    groups, inverse = np.unique(labels, return_inverse=True)
    sums = np.zeros((len(groups), vectors.shape[1]), np.float32)
    np.add.at(sums, inverse, vectors)
    big = np.flatnonzero(np.bincount(inverse) >= 3)
    close = np.triu(stories._unit(sums[big]) @ stories._unit(sums[big]).T >= cosine, 1)
    parent = np.arange(len(groups))

    def root(g: int) -> int:
        while parent[g] != g:
            g = parent[g]
        return g

    for a, b in zip(*np.nonzero(close)):
        ra, rb = root(big[a]), root(big[b])
        parent[max(ra, rb)] = min(ra, rb)
    return groups[np.array([root(g) for g in range(len(groups))])][inverse]


def scorer(dataset: Path):
    spec = importlib.util.spec_from_file_location("score_stories", dataset.parent / "score_stories.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def answer_bearing(groups: dict, dataset: Path, texts: dict[str, str]) -> dict[str, set[str]]:
    """Per quiz story, its articles (``texts``: by the scorer's id stem) whose title or text states
    the question's answer as whole words."""
    answers = {q["id"]: q["answer"] for q in map(json.loads, (dataset / "questions.jsonl").read_text().splitlines())}
    bearing = {}
    for key, group in groups.items():
        said = re.compile(rf"\b{re.escape(answers[key])}\b", re.IGNORECASE)
        bearing[key] = {a for a in group["articles"] if a in texts and said.search(texts[a])}
    return bearing


def bearing_covered(groups: dict, bearing: dict[str, set[str]], found: list[set[str]]) -> tuple[int, int]:
    """(covered, eligible) of the quiz stories with 3+ answer-bearing articles: a story of ``found``
    holds 3 of them and is at least 0.6 that quiz story's."""
    eligible = [k for k, b in bearing.items() if len(b) >= 3]
    covered = sum(any(len(bearing[k] & s) >= 3 and len(set(groups[k]["articles"]) & s) >= 0.6 * len(s) for s in found)
                  for k in eligible)
    return covered, len(eligible)


def by_week(groups: dict, dataset: Path) -> dict[str, dict]:
    """The quiz stories of all weeks, the even and the odd ISO weeks of their question's date."""
    asked = {q["id"]: q["date"] for q in map(json.loads, (dataset / "questions.jsonl").read_text().splitlines())}
    parts = {"all": groups}
    for name, parity in (("even", 0), ("odd", 1)):
        parts[name] = {k: g for k, g in groups.items() if date.fromisoformat(asked[k]).isocalendar()[1] % 2 == parity}
    return parts


def print_misses(groups: dict, bearing: dict[str, set[str]], found: list, top: int, stem) -> None:
    """Each eligible quiz story no story covers: its question, how many of its articles state the
    answer, and per article (* states it) the rank and size of the story it is in."""
    first = [{stem(a.id) for a in s.all_articles} for s in found[:top]]
    where = {stem(a.id): (rank, s) for rank, s in enumerate(found) for a in s.all_articles}
    for key, group in groups.items():
        own = set(group["articles"])
        if len(own) < 3 or any(len(own & s) >= 3 and len(own & s) >= 0.6 * len(s) for s in first):
            continue
        print(f"  {key}: {group['question']} ({len(bearing[key])} state the answer)")
        for article in sorted(own & where.keys(), key=lambda a: where[a][0]):
            rank, story = where[article]
            title = next(a.title for a in story.all_articles if stem(a.id) == article)
            print(f"    {'*' if article in bearing[key] else ' '} #{rank} ({len(story.all_articles)}) {title[:90]}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--library", required=True)
    parser.add_argument("--dataset", type=Path, default=Path("../shared/eval/rtqa-2025"))
    parser.add_argument("--setting", action="append", default=[],
                        help="CUT:LOOSE_MAX:FIRM (default: the shipped constants)")
    parser.add_argument("--neighbours", type=int, default=stories.NEIGHBOURS, help="k of the k-NN graph")
    parser.add_argument("--mutual", action="store_true", help="keep only the graph's mutual edges")
    parser.add_argument("--first-chunk", type=float, default=0.0,
                        help="share of the first chunk (title + lead) in the article vector, the rest its mean")
    parser.add_argument("--title-words", type=float, default=0.0, help="weight of the titles' hashed TF-IDF")
    parser.add_argument("--merge-pieces", type=float, default=None,
                        help="afterwards merge groups of 3+ whose centroids are this close")
    parser.add_argument("--misses", action="store_true", help="list the uncovered quiz stories")
    args = parser.parse_args()
    print(describe())
    scoring = scorer(args.dataset)
    groups = json.loads((args.dataset / "stories.json").read_text())
    parts = by_week(groups, args.dataset)
    top = 2 * sum(1 for g in groups.values() if len(g["articles"]) >= 3)
    library = open_library(args.library)
    owners, chunk_vectors = library.window_vectors(make_filters("1900", None, (), True))
    ids, vectors = stories.article_vectors(owners, chunk_vectors)
    known = {a.id: a for a in library.articles()}
    bearing = answer_bearing(groups, args.dataset, {scoring.stem(a.id): f"{a.title} {a.text}" for a in known.values()})
    keep = [n for n, i in enumerate(ids) if i in known]
    ids, vectors = [ids[n] for n in keep], vectors[keep]
    scores, found = stories.neighbours(vectors)
    copies = stories.copy_pairs(scores, found, lambda a, b: is_twin(known[ids[a]].text, known[ids[b]].text))
    if args.first_chunk:
        vectors = blend_first_chunk(owners, chunk_vectors, ids, vectors, args.first_chunk)
    if args.title_words:
        vectors = with_title_words(vectors, [known[i].title for i in ids], args.title_words)
    if args.first_chunk or args.title_words or args.neighbours != stories.NEIGHBOURS:
        scores, found = stories.neighbours(vectors, args.neighbours)
    for setting in args.setting or [f"{stories.CUT}:{stories.LOOSE_MAX}:{stories.FIRM_CUT}"]:
        cut, loose, firm = setting.split(":")
        graph = mutual_only(scores, found) if args.mutual else (scores, found)
        labels = stories.average_link(vectors, *graph, float(cut), copies,
                                      None if loose == "none" else int(loose), float(firm))
        if args.merge_pieces is not None:
            labels = merge_pieces(vectors, labels, args.merge_pieces)
        found_stories = stories.rank(stories.build(ids, vectors, labels, known, copies))
        prediction = {"stories": [{"articles": [{"article_id": a.id} for a in s.all_articles]} for s in found_stories]}
        results = {name: scoring.score(part, prediction, top) for name, part in parts.items()}
        first = [{scoring.stem(a.id) for a in s.all_articles} for s in found_stories[:top]]
        print(f"{setting}: coverage all / even / odd "
              + " / ".join(f"{r['coverage']:.3f} ({r['covered']}/{r['eligible']})" for r in results.values())
              + " @ precision " + " / ".join(f"{r['precision']:.3f}" for r in results.values())
              + "; answer-bearing " + " / ".join("{}/{}".format(*bearing_covered(
                  part, {k: bearing[k] for k in part}, first)) for part in parts.values()))
        if args.misses:
            print_misses(groups, bearing, found_stories, top, scoring.stem)


if __name__ == "__main__":
    main()
