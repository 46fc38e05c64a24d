"""Each vector's nearest among the same vectors (a self-join by inner product), for grouping a
window's articles (``qa.stories.neighbours`` picks the method by size).

The queries are the indexed vectors themselves, so the work is matrix products in large blocks,
which a BLAS runs many times faster than FAISS's searches of one query at a time: one product for a
small set, and for a large one the lists of an inverted file, each list's members against every
vector that searches that list.
"""
from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from functools import cache

import faiss
import numpy as np
from threadpoolctl import ThreadpoolController


def one_product(vectors: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Each vector's ``k`` best products with all, by one NumPy matrix product. For a small group,
    not FAISS, on one thread: tightening searches thousands of groups of tens of articles, where
    FAISS's or the BLAS's threads cost ~10 ms per search on a shared machine and the products well
    under one."""
    with _one_blas_thread():
        products = vectors @ vectors.T
    found = top_columns(products, k)
    return np.take_along_axis(products, found, 1), found


def inverted_file(vectors: np.ndarray, k: int, lists: int, probes: int) -> tuple[np.ndarray, np.ndarray]:
    """The ``k`` best of each vector's search in a FAISS ``IndexIVFFlat`` (the same trained lists, the
    same ``probes`` lists searched per vector, so the same neighbours), computed list by list: every
    vector that searches a list is one row of a single matrix product with that list's members.
    The lists are searched in parallel, each product on one thread: a product split over threads
    waits for all of them, hundreds of times, which on a busy machine cost more than the products."""
    n, dim = vectors.shape
    probes = min(probes, lists)
    quantizer = faiss.IndexFlatIP(dim)
    trainer = faiss.IndexIVFFlat(quantizer, dim, lists, faiss.METRIC_INNER_PRODUCT)
    trainer.train(vectors[np.random.default_rng(0).choice(n, min(n, 40 * lists), replace=False)])
    searched = quantizer.search(vectors, probes)[1]  # best list first: a vector is stored in its best
    members = np.argsort(searched[:, 0], kind="stable")
    member_ends = np.searchsorted(searched[members, 0], np.arange(lists + 1))
    searches = np.argsort(searched.ravel(), kind="stable")  # vector * probes + slot, list by list
    search_ends = np.searchsorted(searched.ravel()[searches], np.arange(lists + 1))
    scores = np.full((n, probes * k), -np.inf, np.float32)
    found = np.full((n, probes * k), -1, np.int64)

    def search(lst: int) -> None:  # a vector's search of one list has its own columns: no two write one cell
        stored = members[member_ends[lst]:member_ends[lst + 1]]
        query, slot = np.divmod(searches[search_ends[lst]:search_ends[lst + 1]], probes)
        if not len(stored) or not len(query):
            return
        products = vectors[query] @ vectors[stored].T
        take = min(k, len(stored))
        best = top_columns(products, take)
        columns = slot[:, None] * k + np.arange(take)
        scores[query[:, None], columns] = np.take_along_axis(products, best, 1)
        found[query[:, None], columns] = stored[best]

    with _one_blas_thread(), ThreadPoolExecutor(faiss.omp_get_max_threads()) as pool:
        for _ in pool.map(search, range(lists)):
            pass
    order = np.argsort(-scores, axis=1, kind="stable")[:, :k]
    return np.take_along_axis(scores, order, 1), np.take_along_axis(found, order, 1)


def top_columns(products: np.ndarray, take: int) -> np.ndarray:
    """The columns of each row's ``take`` largest values, in column order (ties: the first columns).
    A partition of the values and a threshold cost a third of ``np.argpartition``'s index shuffling."""
    kth = np.partition(products, products.shape[1] - take, axis=1)[:, [products.shape[1] - take]]
    above, tied = products > kth, products == kth
    tied &= np.cumsum(tied, 1) <= take - above.sum(1, keepdims=True)
    return np.nonzero(above | tied)[1].reshape(len(products), take)


@cache
def _blas() -> ThreadpoolController:
    return ThreadpoolController()  # reads the loaded libraries once: milliseconds


def _one_blas_thread():
    """While in this context, NumPy's BLAS runs each product on the calling thread (for the whole process)."""
    return _blas().limit(limits=1, user_api="blas")
