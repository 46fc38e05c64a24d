"""`qa stories`' grouping settings scored on a set's even and odd weeks (#28), the library read once.

    python benchmarks/experiments/stories_weeks.py --library LIB [--dataset ../shared/eval/rtqa-2025]
        [--setting 0.4:5:0.85 --setting 0.55:none:1 ...]

For each ``--setting CUT:LOOSE_MAX:FIRM`` (``none``: no size limit, plain average link) the whole
library is grouped as ``qa stories --since 1900 --include-undated --limit 0`` groups it (one vector
per article, FAISS k-NN, ``average_link``, copies folded, ``rank``) and scored by the dataset's
``score_stories.py`` on all its quiz stories and on those whose question's date falls in an even
(tuning) or odd (held-out) ISO week, always against the first 2N stories of all weeks (N: all
eligible quiz stories), as one run of ``qa stories`` is scored.
"""
from __future__ import annotations

import argparse
import importlib.util
import json
import sys
from datetime import date
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from benchmarks.common import describe  # noqa: E402
from qa import stories  # noqa: E402
from qa.library import open_library  # noqa: E402
from qa.library.filters import make_filters  # noqa: E402
from qa.library.twins import is_twin  # noqa: E402


def scorer(dataset: Path):
    spec = importlib.util.spec_from_file_location("score_stories", dataset.parent / "score_stories.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.score


def by_week(groups: dict, dataset: Path) -> dict[str, dict]:
    """The quiz stories of all weeks, the even and the odd ISO weeks of their question's date."""
    asked = {q["id"]: q["date"] for q in map(json.loads, (dataset / "questions.jsonl").read_text().splitlines())}
    parts = {"all": groups}
    for name, parity in (("even", 0), ("odd", 1)):
        parts[name] = {k: g for k, g in groups.items() if date.fromisoformat(asked[k]).isocalendar()[1] % 2 == parity}
    return parts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--library", required=True)
    parser.add_argument("--dataset", type=Path, default=Path("../shared/eval/rtqa-2025"))
    parser.add_argument("--setting", action="append", default=[],
                        help="CUT:LOOSE_MAX:FIRM (default: the shipped constants)")
    args = parser.parse_args()
    print(describe())
    score = scorer(args.dataset)
    groups = json.loads((args.dataset / "stories.json").read_text())
    parts = by_week(groups, args.dataset)
    top = 2 * sum(1 for g in groups.values() if len(g["articles"]) >= 3)
    library = open_library(args.library)
    owners, chunk_vectors = library.window_vectors(make_filters("1900", None, (), True))
    ids, vectors = stories.article_vectors(owners, chunk_vectors)
    known = {a.id: a for a in library.articles()}
    keep = [n for n, i in enumerate(ids) if i in known]
    ids, vectors = [ids[n] for n in keep], vectors[keep]
    scores, found = stories.neighbours(vectors)
    copies = stories.copy_pairs(scores, found, lambda a, b: is_twin(known[ids[a]].text, known[ids[b]].text))
    for setting in args.setting or [f"{stories.CUT}:{stories.LOOSE_MAX}:{stories.FIRM_CUT}"]:
        cut, loose, firm = setting.split(":")
        labels = stories.average_link(vectors, scores, found, float(cut), copies,
                                      None if loose == "none" else int(loose), float(firm))
        found_stories = stories.rank(stories.build(ids, vectors, labels, known, copies))
        prediction = {"stories": [{"articles": [{"article_id": a.id} for a in s.all_articles]} for s in found_stories]}
        results = {name: score(part, prediction, top) for name, part in parts.items()}
        print(f"{setting}: coverage all / even / odd "
              + " / ".join(f"{r['coverage']:.3f} ({r['covered']}/{r['eligible']})" for r in results.values())
              + " @ precision " + " / ".join(f"{r['precision']:.3f}" for r in results.values()))


if __name__ == "__main__":
    main()
