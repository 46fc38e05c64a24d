"""The folder backend: a library kept as SQLite + FAISS + bm25s files in one directory.

``library.py`` the backend (``FolderLibrary``); ``store.py`` the SQLite article
store; ``checks.py`` byte checks of the FAISS and BM25 files; ``generations.py``
atomic writes (build N+1, sync, switch the manifest) and the write lock;
``doctor.py`` check and repair. The manifest format is shared with the other
backends and stays in ``qa/library/manifest.py``.
"""
from qa.library.folder.library import FolderLibrary

__all__ = ["FolderLibrary"]
