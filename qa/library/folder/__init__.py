"""The folder backend: a library kept as SQLite + FAISS + bm25s files in one directory.

Layout: ``manifest.json`` names the current generation's files
(``store-N.db``: the articles, chunk spans and source files, see ``store.py``;
``index-N.faiss``: the vectors, row i = chunk i; ``bm25-N/``: the keyword
index over the same rows). Writes go through ``generations.py`` (build N+1,
sync, switch the manifest atomically); ``doctor.py`` checks and repairs.

Readers open ("pin") the current generation's files when the library is
opened; a switch afterwards does not disturb them (Linux keeps a deleted
file's data while it is open). If the files vanish between reading the
manifest and opening them, the manifest is read again.

Nothing here is a pickle: the manifest is JSON, the store SQLite, the vectors
a FAISS index whose header and size are checked before FAISS reads it
(``checks.py``), and the keyword index numpy arrays (``allow_pickle=False``)
and JSON, checked before use. A damaged file gives a LibraryError naming it,
never a crash.

``library.py`` the backend (``FolderLibrary``); ``pinned.py`` a generation's files opened
for reading and checked; ``store.py`` the SQLite article store and its queries; ``checks.py``
byte checks of the FAISS and BM25 files; ``generations.py`` atomic writes (build N+1, sync,
switch the manifest) and the write lock; ``doctor.py`` check and repair. The manifest format
is shared with the other backends and stays in ``qa/library/manifest.py``.
"""
from qa.library.folder.library import FolderLibrary

__all__ = ["FolderLibrary"]
