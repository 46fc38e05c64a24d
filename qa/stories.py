"""What happened: a window's articles grouped into stories, ranked by how much they were covered.

A story is the articles about one event or development, from any outlet. Grouping never compares
every pair of the window: each article gets one vector (the mean of its stored chunk vectors, read
through the library seam in one pass), FAISS finds its NEIGHBOURS nearest articles (exactly up to
EXACT_UP_TO, by an inverted-file index above), and average-link clustering runs over that k-NN
graph only. Average link needs no pair the graph leaves out: the mean cosine between two groups of
unit vectors is the dot product of their sums divided by both sizes. Two groups merge while that
mean stays at or above CUT, and, unless it reaches FIRM_CUT, only while the merged group stays at
LOOSE_MAX articles or fewer: a loose link may make a small story, never a large one (a large group
of loosely linked articles is a topic, several events, not one story). A syndicated copy (the same text from another outlet, ``twins.is_twin``)
joins its original's story and counts once: a story's size is its distinct texts.

The size limit splits a large event (Pope Francis in hospital, ten articles) into stories of at most
LOOSE_MAX. They stay separate stories, ranked and scored as such (merging them lowers the quiz's
coverage: docs/quality.md, "Stories"), and :func:`link_events` marks them pieces of one event: stories
whose centroids are at EVENT_COSINE or closer, found by a k-NN over the stories' centroids (the same
:func:`neighbours`, so never all pairs of stories) and joined transitively. A story's ``event`` is
the rank of the event's best-ranked piece, shared by all its pieces, or None for a story alone.

Stories rank by distinct outlets, then distinct texts, then their latest date. The one-line text of
a story (``story_text``) is written or quoted from its own articles only.
"""
from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, timedelta

import faiss
import numpy as np

from qa.knn import inverted_file, one_product
from qa.library.base import Library
from qa.library.filters import Filters, make_filters
from qa.library.twins import is_twin
from qa.reading import Article

NEIGHBOURS = 10     # nearest articles per article: the only pairs clustering looks at
# Tuned on rtqa-2025's even weeks and rtqa-2025-week (docs/quality.md, "Stories"):
CUT = 0.4           # mean cosine between two groups at which they may be one story
LOOSE_MAX = 5       # ... if the merged group has at most this many articles
FIRM_CUT = 0.85     # ... or whatever its size, at this mean cosine
EVENT_COSINE = 0.9  # story centroids this close: pieces of one event (docs/quality.md, "Events")
COPY_COSINE = 0.95  # vectors this close are checked for a syndicated copy (edit similarity on the text)
PROBES = 6            # IVF lists searched per article, of sqrt(n)
EXACT_UP_TO = 10_000  # articles searched exactly; above, an inverted-file index (IVF) keeps k-NN sub-quadratic
ONE_PRODUCT_UP_TO = 1_000  # up to this many, one NumPy product (FAISS's threads cost more than the search)


@dataclass
class Story:
    """One story: ``articles`` most central first (``articles[0]`` is what a quoted text quotes);
    ``copies`` maps an article id to the syndicated copies of it that other outlets carry."""

    articles: list[Article]
    copies: dict[str, list[Article]] = field(default_factory=dict)
    text: str = ""
    citations: list = field(default_factory=list)  # qa.answering.Citation
    new: bool = False
    event: int | None = None  # the rank (1 = first) of the best-ranked piece of its event; None: alone
    centre: np.ndarray | None = field(default=None, repr=False, compare=False)  # unit mean of all_articles' vectors

    @property
    def days(self) -> str | None:
        """Its first day, or its first and last days ("2025-01-10 – 2025-01-14"), as a row shows them."""
        return self.first_date if self.first_date == self.last_date else f"{self.first_date} – {self.last_date}"

    @property
    def all_articles(self) -> list[Article]:
        return [c for a in self.articles for c in (a, *self.copies.get(a.id, ()))]

    @property
    def outlets(self) -> list[str]:
        return sorted({a.source for a in self.all_articles if a.source})

    @property
    def first_date(self) -> str | None:
        return min((a.date[:10] for a in self.all_articles if a.date), default=None)

    @property
    def last_date(self) -> str | None:
        return max((a.date[:10] for a in self.all_articles if a.date), default=None)

    def to_dict(self) -> dict:
        """One story of ``qa stories --json``."""
        return {"text": self.text,
                "citations": [{"n": c.n, "article_id": c.article_id, "title": c.title, "date": c.date,
                               "source": c.source, "url": c.url, "quote": c.quote} for c in self.citations],
                "articles": [{"article_id": a.id, "title": a.title, "source": a.source, "date": a.date,
                              "url": a.url, **({"copy_of": original} if original else {})}
                             for a, original in self._listed()],
                "outlets": self.outlets, "first_date": self.first_date, "last_date": self.last_date,
                "new": self.new, "event": self.event}

    def _listed(self) -> list[tuple[Article, str | None]]:
        return [(c, None if c is a else a.id) for a in self.articles for c in (a, *self.copies.get(a.id, ()))]


def article_vectors(owners: list[str], vectors: np.ndarray) -> tuple[list[str], np.ndarray]:
    """One unit vector per article (the mean of its chunks'), from the seam's chunk rows."""
    ids, inverse = np.unique(np.asarray(owners, dtype=object), return_inverse=True)
    sums = np.zeros((len(ids), vectors.shape[1]), np.float32)
    np.add.at(sums, inverse, vectors)
    return [str(i) for i in ids], _unit(sums)


def _unit(x: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    return (x / np.maximum(norms, 1e-12)).astype(np.float32)


def neighbours(vectors: np.ndarray, k: int = NEIGHBOURS) -> tuple[np.ndarray, np.ndarray]:
    """Each vector's ``k`` nearest others by cosine (scores, indices; -1 where fewer exist): exact up
    to EXACT_UP_TO vectors, an inverted file of sqrt(n) lists above (:func:`qa.knn.inverted_file`), whose
    n·sqrt(n) products take seconds for 100,000 articles where the exact search's n² take minutes."""
    vectors = np.ascontiguousarray(vectors, np.float32)
    n = len(vectors)
    k = min(k + 1, n)
    if n <= ONE_PRODUCT_UP_TO:
        scores, found = one_product(vectors, k)
    elif n <= EXACT_UP_TO:
        index = faiss.IndexFlatIP(vectors.shape[1])
        index.add(vectors)
        scores, found = index.search(vectors, k)
    else:
        scores, found = inverted_file(vectors, k, int(np.sqrt(n)), PROBES)
    own = found == np.arange(n)[:, None]
    scores, found = np.where(own, -np.inf, scores), np.where(own, -1, found)
    order = np.argsort(-scores, axis=1, kind="stable")[:, :k - 1]
    return np.take_along_axis(scores, order, 1), np.take_along_axis(found, order, 1)


def average_link(vectors: np.ndarray, scores: np.ndarray, found: np.ndarray, cut: float = CUT,
                 joined: list[tuple[int, int]] = (), loose_max: int | None = LOOSE_MAX,
                 firm: float = FIRM_CUT) -> np.ndarray:
    """A group label per vector: average-link clustering over the k-NN graph (``scores``/``found``
    from :func:`neighbours`) down to mean cosine ``cut``; a merge under ``firm`` only while the
    merged group has at most ``loose_max`` vectors (None: no limit, plain average link).
    ``joined``: pairs put together first, whatever their cosine (copies).

    In rounds, each group finds its closest adjacent group, and every two groups that are each
    other's closest (reciprocal nearest neighbours) merge: average link is reducible, so merging
    reciprocal pairs gives the same groups as merging the closest pair one at a time, and each
    round is a few array operations over the graph's edges, not a Python loop over merges. Two
    groups are adjacent when an edge of cosine ``cut`` or more joins them: no pair of groups can
    average ``cut`` without such a pair of members (one the k-NN graph may have left out). With the
    size limit each group looks only at the groups it may still merge with; every round still
    merges the closest allowed pair, but the limit makes the order matter, so the groups are
    those of these rounds (a merge at a time could fill a group differently)."""
    n = len(vectors)
    rows = np.repeat(np.arange(n), found.shape[1])
    keep = (found.ravel() >= 0) & (scores.ravel() >= cut)
    edges = np.stack([rows[keep], found.ravel()[keep]], 1)
    label = np.arange(n) if not len(joined) else components(n, np.asarray(joined, np.int64).reshape(-1, 2))
    sums = vectors.astype(np.float32, copy=True)
    if len(joined):
        sums = np.zeros_like(sums)
        np.add.at(sums, label, vectors)
    size = np.bincount(label, minlength=n).astype(np.float32)
    changed = np.zeros(n, bool)  # two articles' mean is their edge's cosine: the first round computes none
    changed[label[label != np.arange(n)]] = True
    known_keys, first = _distinct(np.minimum(edges[:, 0], edges[:, 1]) * n + np.maximum(edges[:, 0], edges[:, 1]))
    known_means = scores.ravel()[keep][first].astype(np.float32)
    while True:
        a, b = label[edges[:, 0]], label[edges[:, 1]]
        apart = a != b
        keys = np.sort(np.minimum(a[apart], b[apart]) * n + np.maximum(a[apart], b[apart]))
        if not len(keys):
            break
        keys = keys[np.r_[True, keys[1:] != keys[:-1]]]
        lo, hi = keys // n, keys % n
        edges = np.stack([lo, hi], 1)  # a group's number is one of its members: its pairs stand for their edges
        means = np.empty(len(keys), np.float32)
        fresh = changed[lo] | changed[hi]
        means[~fresh] = known_means[np.searchsorted(known_keys, keys[~fresh])]
        means[fresh] = np.einsum("ij,ij->i", sums[lo[fresh]], sums[hi[fresh]]) / (size[lo[fresh]] * size[hi[fresh]])
        known_keys, known_means = keys, means
        close = means >= cut
        if loose_max is not None:
            close &= (means >= firm) | (size[lo] + size[hi] <= loose_max)
        if not close.any():
            break
        best = _closest(n, np.r_[lo[close], hi[close]], np.r_[hi[close], lo[close]], np.r_[means[close], means[close]])
        group = np.flatnonzero(best >= 0)
        into = group[(best[best[group]] == group) & (group < best[group])]
        drop = best[into]
        sums[into] += sums[drop]
        size[into] += size[drop]
        changed[:] = False
        changed[into] = True
        moved = np.arange(n)
        moved[drop] = into
        label = moved[label]
    return label


def _distinct(keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The distinct ``keys``, sorted, and where each first occurs: ``np.unique(..., return_index=True)``
    by one stable sort (NumPy's hashing ``unique`` is many times slower on these integer keys)."""
    order = np.argsort(keys, kind="stable")
    ordered = keys[order]
    first = np.r_[True, ordered[1:] != ordered[:-1]] if len(keys) else np.zeros(0, bool)
    return ordered[first], order[first]


def _closest(n: int, group: np.ndarray, other: np.ndarray, mean: np.ndarray) -> np.ndarray:
    """Per group of ``n``, the adjacent group of the highest ``mean`` (ties: the lowest number), -1
    where none: two scatter reductions instead of sorting the pairs."""
    top = np.full(n, -np.inf, mean.dtype)
    np.maximum.at(top, group, mean)
    at_top = mean == top[group]
    best = np.full(n, n)
    np.minimum.at(best, group[at_top], other[at_top])
    return np.where(best < n, best, -1)


def components(n: int, pairs: np.ndarray) -> np.ndarray:
    """The smallest member of each connected component of ``pairs``, per node."""
    label = np.arange(n)
    while True:
        low = np.minimum(label[pairs[:, 0]], label[pairs[:, 1]])
        changed = False
        for side in (0, 1):
            update = low < label[pairs[:, side]]
            if update.any():
                np.minimum.at(label, pairs[update, side], low[update])
                changed = True
        label = label[label]
        if not changed:
            return label


def copy_pairs(scores: np.ndarray, found: np.ndarray, same_text: Callable[[int, int], bool] | None) -> list[tuple[int, int]]:
    """The neighbour pairs that are one text syndicated twice: vectors at COPY_COSINE or closer,
    confirmed by ``same_text`` (edit similarity) where given."""
    pairs = []
    for i, j in zip(*np.nonzero((scores >= COPY_COSINE) & (found >= 0))):
        a, b = int(i), int(found[i, j])
        if a < b and (same_text is None or same_text(a, b)):
            pairs.append((a, b))
    return pairs


def build(ids: list[str], vectors: np.ndarray, labels: np.ndarray, articles: dict[str, Article],
          copies: list[tuple[int, int]]) -> list[Story]:
    """The stories of ``labels`` (one per group), each article most central first, its syndicated
    copies folded under the earliest of them."""
    original = np.arange(len(ids))
    for a, b in sorted(copies, key=lambda p: (_day(articles[ids[p[0]]]), p[0])):
        keep, drop = sorted((_top(original, a), _top(original, b)), key=lambda i: (_day(articles[ids[i]]), i))
        original[drop] = keep
    members: dict[int, list[int]] = {}
    for i, label in enumerate(labels.tolist()):
        members.setdefault(label, []).append(i)
    stories = []
    for group in members.values():
        centre = _unit(vectors[group].sum(0, keepdims=True))[0]
        closeness = vectors[group] @ centre
        story = Story([], centre=centre)
        for i in sorted(range(len(group)), key=lambda m: -closeness[m]):
            member, top = group[i], _top(original, group[i])
            if top == member:
                story.articles.append(articles[ids[member]])
            else:
                story.copies.setdefault(ids[top], []).append(articles[ids[member]])
        stories.append(story)
    return stories


def _top(original: np.ndarray, i: int) -> int:
    while original[i] != i:
        i = int(original[i])
    return i


def _day(article: Article) -> str:
    return article.date or "9999"


def rank(stories: list[Story]) -> list[Story]:
    """Best covered first: distinct outlets of the story's own texts (a syndicated copy adds no
    reporting), then its distinct texts, then how recent its latest article is."""
    def key(story: Story) -> tuple:
        own = {a.source for a in story.articles if a.source}
        return (len(own), len(story.articles), story.last_date or "")
    return sorted(stories, key=key, reverse=True)


def find_stories(library: Library, where: Filters | None = None, cut: float = CUT) -> list[Story]:
    """The stories of the articles that pass ``where``, best covered first (without their text)."""
    owners, chunk_vectors = library.window_vectors(where)
    if not owners:
        return []
    ids, vectors = article_vectors(owners, chunk_vectors)
    known = {a.id: a for a in library.articles()}
    articles = {i: known[i] for i in ids if i in known}
    keep = [n for n, i in enumerate(ids) if i in articles]
    ids, vectors = [ids[n] for n in keep], vectors[keep]
    scores, found = neighbours(vectors)
    copies = copy_pairs(scores, found, lambda a, b: is_twin(articles[ids[a]].text, articles[ids[b]].text))
    labels = average_link(vectors, scores, found, cut, copies)
    ranked = rank(build(ids, vectors, labels, articles, copies))
    link_events(ranked, EVENT_COSINE)
    return ranked


def link_events(stories: list[Story], cosine: float = EVENT_COSINE) -> None:
    """Set each story's ``event`` (``stories`` best first, each with its ``centre``) to the rank of
    its event's first story (:func:`event_firsts`), or None for a story alone."""
    if len(stories) < 2:
        return
    first = event_firsts(np.stack([s.centre for s in stories]), cosine)
    pieces = np.bincount(first, minlength=len(stories))
    for story, lead in zip(stories, first.tolist()):
        story.event = lead + 1 if pieces[lead] > 1 else None


def by_event(stories: list[Story]) -> list[list[tuple[int, Story]]]:
    """``stories`` (best first, as ranked) as events, each its pieces with their ranks (1 = first),
    its first piece first, in the order of their first pieces: how a reader sees them together."""
    events: dict[int, list[tuple[int, Story]]] = {}
    for i, story in enumerate(stories, 1):
        events.setdefault(story.event or i, []).append((i, story))
    return list(events.values())


def event_firsts(centres: np.ndarray, cosine: float = EVENT_COSINE) -> np.ndarray:
    """Per story centroid, the first (lowest index) of its event: two centroids at ``cosine`` or
    closer, one among the other's NEIGHBOURS nearest, are linked, and linked stories are one
    event. The k-NN is over stories, not articles: a window's stories cost no more to link than
    its articles cost to group (docs/quality.md, "Events")."""
    scores, found = neighbours(centres)
    rows, slots = np.nonzero((scores >= cosine) & (found >= 0))
    return components(len(centres), np.stack([rows, found[rows, slots]], 1))


_RELATIVE = re.compile(r"^\s*(\d+)\s*([dw])\s*$")


def window(since: str | date | None, until: str | date | None, sources=(), include_undated: bool = False,
           newest: date | None = None, today: date | None = None) -> Filters:
    """The window's filters: ``since`` is a day ("2025-01", a date) or a span back from the newest
    article ("7d", "2w"; from today when the library holds something newer), ``until`` a day."""
    anchor = min(d for d in (today or date.today(), newest) if d is not None)
    match = _RELATIVE.match(since) if isinstance(since, str) else None
    if match:
        days = int(match[1]) * (7 if match[2] == "w" else 1)
        since = anchor - timedelta(days=max(days - 1, 0))
    return make_filters(since, until, sources, include_undated)


@dataclass
class StoryList:
    """What ``Assistant.stories`` returns: the stories, best first, and the window they came from."""

    stories: list[Story]
    where: Filters
    articles: int  # in the window
    last_looked: str | None = None

    def to_dict(self) -> dict:
        """The ``qa stories --json`` object."""
        return {"stories": [s.to_dict() for s in self.stories],
                "window": {**self.where.to_dict(), "articles": self.articles, "last_looked": self.last_looked}}
