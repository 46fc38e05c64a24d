"""Grouping designs for `qa stories` tried in the third round of #28 (docs/quality.md, "Stories"),
none shipped: each changes the article vectors or the k-NN graph that ``stories.average_link``
reads, or the groups it returns. Used by ``stories_weeks.py``'s flags.
"""
from __future__ import annotations

import re
import zlib

import numpy as np

from qa.stories import _unit

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
    lead = _unit(chunk_vectors[[first[i] for i in ids]])
    return _unit(share * lead + (1 - share) * mean)


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
    return _unit(np.hstack([vectors, weight * _unit(hashed)]))


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
    close = np.triu(_unit(sums[big]) @ _unit(sums[big]).T >= cosine, 1)
    parent = np.arange(len(groups))

    def root(g: int) -> int:
        while parent[g] != g:
            g = parent[g]
        return g

    for a, b in zip(*np.nonzero(close)):
        ra, rb = root(big[a]), root(big[b])
        parent[max(ra, rb)] = min(ra, rb)
    return groups[np.array([root(g) for g in range(len(groups))])][inverse]
