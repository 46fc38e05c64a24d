"""``qa doctor`` for a folder library: check that the manifest, store, vectors and keyword index agree, and repair.

The store is the library's only copy of the articles, so everything else is
rebuilt from it: the keyword index and the counts always can be; broken chunk
rows are dropped; vectors are re-made with the embedder (loaded only if needed)
when the index is missing, damaged or out of step; leftover files of an
interrupted write are deleted; a lost manifest is rebuilt from the newest
readable store. A repair is a write like any other: a new generation, switched
atomically, under the write lock.
"""
from __future__ import annotations

import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from embeddings.encoder import Encoder
from qa import loaders
from qa.reading.chunking import LEGACY, ChunkParams, chunk_text, chunk_vectors
from qa.errors import FormatError, LibraryError
from qa.library.change import Change
from qa.library.folder.checks import Damaged, Vanished, load_index_file, load_keywords
from qa.library.folder.generations import OWN_NAME, holding_write_lock, remove_leftovers
from qa.library.folder.store import (article_columns, article_from_row, chunks_overlap, damaged_articles,
                                     describe_error, has_table, open_store, store_shape)
from qa.library.manifest import GENERATION_NAME, MANIFEST, check_embedder, new_manifest, read_manifest
from qa.library.reports import DoctorReport
from qa.reading import Article

if TYPE_CHECKING:
    from qa.library.folder.library import FolderLibrary


def doctor(path: Path, repair: bool, get_encoder: Callable[[], Encoder] | None, lock_timeout: float,
           library: type["FolderLibrary"]) -> DoctorReport:
    """Check (and, with ``repair``, fix) the folder library at ``path``; ``library`` is the class
    that opens and writes it."""
    has_store = path.is_dir() and any(GENERATION_NAME["store"].fullmatch(e.name) for e in path.iterdir())
    if not (path / MANIFEST).exists() and not has_store:
        raise LibraryError(f"no library at {path} (no {MANIFEST})")
    report = DoctorReport(path)
    loaded: list[Encoder] = []

    def encoder() -> Encoder:
        if not loaded:
            loaded.append((get_encoder or loaders.encoder)())
        return loaded[0]

    with holding_write_lock(path, lock_timeout):
        _doctor_locked(path, report, repair, encoder, library)
    return report


def _doctor_locked(path: Path, report: DoctorReport, repair: bool, encoder: Callable[[], Encoder],
                   library: type["FolderLibrary"]) -> None:
    change = Change()
    recovered = False
    try:
        manifest = read_manifest(path)
        report.checked.append(f"{MANIFEST}: generation {manifest['generation']}, "
                              f"{manifest['counts']['articles']} articles, {manifest['counts']['chunks']} chunks")
    except FormatError:
        raise
    except LibraryError as e:
        report.problems.append(str(e))
        manifest = _recover_manifest(path, report, encoder) if repair else None
        if manifest is None:
            report.unrepaired.append(f"{MANIFEST} cannot be rebuilt" + (
                "" if repair else " (checked only)") + "; re-ingest the articles into a new library")
            return
        recovered = change.manifest_only = True
    files = manifest["files"]
    leftovers = sorted(e.name for e in path.iterdir()
                       if OWN_NAME.fullmatch(e.name) and e.name not in set(files.values()))
    if leftovers:
        report.problems.append(f"files left by an interrupted write: {', '.join(leftovers)}")
    if not files:
        report.checked.append("empty library (no articles yet)")
        if leftovers and repair:
            remove_leftovers(path, ())
            report.repaired.append(f"deleted {len(leftovers)} leftover files")
        elif leftovers:
            report.unrepaired.append("nothing was changed (checked only)")
        return
    checked = _check_store(path, manifest, report, change)
    if checked is None:
        return
    n_chunks, chunkless, damaged_files = checked
    _check_index(path, manifest, n_chunks, report, change)
    _check_keywords(path, manifest, n_chunks, report, change)

    if not repair:
        if report.problems:
            report.unrepaired.append("nothing was changed (checked only)")
        return
    if leftovers:
        remove_leftovers(path, files.values())
        report.repaired.append(f"deleted {len(leftovers)} leftover files")
    enc = None
    if change.reencode or chunkless:
        try:
            enc = encoder()
            check_embedder(manifest, path, enc)
        except Exception as e:  # no usable encoder here: fix what does not need one
            report.unrepaired.append(f"vectors must be made with the library's embedder, which is not usable: {e}")
            if change.reencode:
                return  # without vectors there is no consistent generation to write
            enc, chunkless = None, []
    if chunkless:
        counter = enc.token_counter()
        params = ChunkParams.from_dict(manifest["chunking"])
        for article in chunkless:
            change.chunks += chunk_text(article.id, article.title, article.text, counter, params)
        if change.chunks and not change.reencode:
            titles = {a.id: a.title for a in chunkless}
            change.vectors = chunk_vectors(enc, [(titles[c.article_id], c.text) for c in change.chunks], params)
    if change.empty:
        return
    lib = library(path, manifest)
    try:
        lib.commit(change, enc)
    except (LibraryError, sqlite3.Error, OSError, RuntimeError, ValueError) as e:
        report.unrepaired.append(f"the repair failed, nothing was changed: {e}")
        return
    finally:
        lib.close()
    report.repaired += _what_was_repaired(lib.manifest, files, change, recovered, len(chunkless), damaged_files)
    try:
        library.open(path).close()
    except LibraryError as e:
        report.unrepaired.append(f"the repaired library still fails to open: {e}")


def _check_store(path: Path, manifest: dict, report: DoctorReport,
                 change: Change) -> tuple[int, list[Article], list[str]] | None:
    """Check the store, which everything else is rebuilt from; returns its chunk count, the
    articles without chunks and the files of damaged articles (whose text no longer matches its
    hash: removed by the repair, so that ingesting their files brings them back), or None when it
    cannot be read (nothing can be repaired then)."""
    counts = manifest["counts"]
    store = path / manifest["files"]["store"]
    try:
        db = open_store(store)
        try:
            integrity = [r[0] for r in db.execute("PRAGMA quick_check").fetchall()]
            if integrity != ["ok"]:
                raise sqlite3.DatabaseError("; ".join(integrity[:3]))
            n_articles, n_chunks, low, high = store_shape(db)
            damaged = damaged_articles(db)
            damaged_files = [p for (p,) in db.execute(
                f"SELECT DISTINCT path FROM sources WHERE article_id IN ({','.join('?' * len(damaged))}) ORDER BY path",
                damaged)] if damaged and has_table(db, "sources") else []
            orphans = [r for (r,) in db.execute(
                "SELECT row FROM chunks WHERE article_id NOT IN (SELECT id FROM articles)")]
            bad_spans = [r for (r,) in db.execute(
                "SELECT c.row FROM chunks c JOIN articles a ON a.id = c.article_id "
                "WHERE c.start < 0 OR c.end <= c.start OR c.end > length(a.text)")]
            chunkless = [article_from_row(r) for r in db.execute(
                f"SELECT {article_columns(db)} FROM articles WHERE id NOT IN (SELECT article_id FROM chunks)")]
            dangling = (set(db.execute("SELECT path, article_id FROM sources "
                                       "WHERE article_id NOT IN (SELECT id FROM articles)"))
                        if has_table(db, "sources") else set())
        finally:
            db.close()
    except (Vanished, sqlite3.Error, OSError) as e:
        why = "is missing" if isinstance(e, Vanished) else \
            f"cannot be read ({describe_error(e) if isinstance(e, sqlite3.Error) else e})"
        report.problems.append(f"store {store.name} {why}")
        report.unrepaired.append("the article store is the library's only copy of the articles; "
                                 "re-ingest them into a new library")
        return None
    report.checked.append(f"{store.name}: {n_articles} articles, {n_chunks} chunks, integrity ok"
                          + ("" if damaged else ", every article's text matches its content hash"))
    if damaged:
        report.problems.append(f"{len(damaged)} articles' stored text does not match its content hash (damaged): "
                               f"{', '.join(damaged[:5])}{' …' if len(damaged) > 5 else ''}")
        change.remove |= set(damaged)
    if (n_articles, n_chunks) != (counts["articles"], counts["chunks"]):
        report.problems.append(f"{MANIFEST} counts {counts['articles']} articles and {counts['chunks']} chunks; "
                               f"the store holds {n_articles} and {n_chunks}")
        change.manifest_only = True
    if n_chunks and (low, high) != (0, n_chunks - 1):
        report.problems.append(f"chunk rows run {low}..{high}, not 0..{n_chunks - 1}")
        change.renumber = change.reencode = True
    if orphans:
        report.problems.append(f"{len(orphans)} chunks belong to no stored article")
        change.drop_rows |= set(orphans)
    if bad_spans:
        report.problems.append(f"{len(bad_spans)} chunks point outside their article's text")
        change.drop_rows |= set(bad_spans)
    if dangling:
        report.problems.append(f"{len(dangling)} file links name articles that are gone")
        change.unlinks |= dangling
    if chunkless:
        report.problems.append(f"{len(chunkless)} articles have no chunks: {', '.join(a.id for a in chunkless[:5])}")
    return n_chunks, chunkless, damaged_files


def _check_index(path: Path, manifest: dict, n_chunks: int, report: DoctorReport, change: Change) -> None:
    """The vectors: one per chunk, readable, of the embedder's dimension."""
    dim = manifest["embedder"]["dim"]
    index_path = path / manifest["files"]["index"]
    try:
        index = load_index_file(index_path, dim, None)
        if len(index) != n_chunks:
            raise Damaged(f"{len(index)} vectors for {n_chunks} chunks")
        if n_chunks and not np.all(np.isfinite(index.vectors(list(range(n_chunks))))):
            raise Damaged("vectors that are not finite numbers")
        report.checked.append(f"{index_path.name}: {len(index)} vectors of {dim} dimensions")
    except FileNotFoundError:
        report.problems.append(f"index {index_path.name} is missing")
        change.reencode = True
    except (Damaged, RuntimeError, OSError, ValueError) as e:
        report.problems.append(f"index {index_path.name} is damaged ({e})")
        change.reencode = True


def _check_keywords(path: Path, manifest: dict, n_chunks: int, report: DoctorReport, change: Change) -> None:
    """The keyword index: one document per chunk."""
    bm25_path = path / manifest["files"]["bm25"]
    try:
        load_keywords(bm25_path, n_chunks)
        report.checked.append(f"{bm25_path.name}: {n_chunks} documents")
    except Vanished:
        report.problems.append(f"keyword index {bm25_path.name} is missing")
        change.rebuild_keywords = True
    except Damaged as e:
        report.problems.append(f"keyword index {bm25_path.name} is damaged ({e})")
        change.rebuild_keywords = True


def _what_was_repaired(new: dict, files: dict, change: Change, recovered: bool, rechunked: int,
                       damaged_files: list[str]) -> list[str]:
    done = []
    if recovered:
        done.append(f"rebuilt {MANIFEST} from {files['store']} (embedder {new['embedder']['name']})")
    if change.remove:
        done.append(f"removed {len(change.remove)} damaged articles; ingest their files again to bring them back: "
                    + (", ".join(damaged_files) or "(no file recorded)"))
    if change.drop_rows:
        done.append(f"dropped {len(change.drop_rows)} broken chunks")
    if change.unlinks:
        done.append(f"dropped {len(change.unlinks)} dangling file links")
    if rechunked and change.chunks:
        done.append(f"chunked and embedded {rechunked} articles that had no chunks")
    if change.reencode:
        done.append(f"re-made {new['counts']['chunks']} vectors with {new['embedder']['name']} "
                    f"({new['files']['index']})")
    elif change.rows_change:
        done.append(f"rebuilt the vector index without the dropped rows ({new['files']['index']})")
    if change.rows_change or change.rebuild_keywords:
        done.append(f"rebuilt the keyword index from the store ({new['files']['bm25']})")
    if change.manifest_only and not recovered:
        done.append(f"corrected the counts in {MANIFEST}")
    return done


def _recover_manifest(path: Path, report: DoctorReport, encoder: Callable[[], Encoder]) -> dict | None:
    """A manifest for the newest generation whose store reads, assuming this qa's embedder
    (the vectors are checked against its dimension, and re-made if they do not fit). Its
    chunking: ``LEGACY`` where chunks overlap (only libraries from before #17 have them),
    else this qa's (a library of one-chunk articles only cannot tell; doctor says which)."""
    generations = sorted((int(m.group(1)) for e in path.iterdir()
                          if (m := GENERATION_NAME["store"].fullmatch(e.name))), reverse=True)
    for gen in generations:
        try:
            db = open_store(path / f"store-{gen}.db")
            try:
                if [r[0] for r in db.execute("PRAGMA quick_check")] != ["ok"]:
                    continue
                n_articles, n_chunks, _, _ = store_shape(db)
                params = LEGACY if chunks_overlap(db) else ChunkParams()
            finally:
                db.close()
        except (Vanished, sqlite3.Error, OSError):
            continue
        try:
            enc = encoder()
        except Exception as e:
            report.unrepaired.append(f"rebuilding {MANIFEST} needs the embedder: {e}")
            return None
        return new_manifest(enc, params, gen,
                            {"store": f"store-{gen}.db", "index": f"index-{gen}.faiss", "bm25": f"bm25-{gen}"},
                            {"articles": n_articles, "chunks": n_chunks})
    return None
