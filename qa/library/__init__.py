"""Libraries of articles: what one is (``base.Library``, the storage seam) and the backends that keep one.

Open or create one through the factory, which picks the backend from the address:

    from qa.library import open_library
    library = open_library("~/news-lib")

Where things are: ``base.py`` the seam; ``factory.py`` address -> backend;
``ingest.py`` read → chunk → encode → commit; ``manifest.py`` the manifest
format; ``folder/`` the folder backend (SQLite store, byte checks of the FAISS
and BM25 files, atomic generations, doctor); ``milvus/`` the Milvus backend.
See docs/architecture.md.
"""
from qa.errors import LibraryError
from qa.library.base import Hits, Library, Progress, StoredChunk
from qa.library.change import Change
from qa.library.factory import create_library, doctor, library_address, library_exists, open_library
from qa.library.filters import Filters
from qa.library.folder import FolderLibrary
from qa.library.reports import DoctorReport, IngestReport, RemoveReport

__all__ = ["Change", "DoctorReport", "Filters", "FolderLibrary", "Hits", "IngestReport", "Library",
           "LibraryError", "Progress", "RemoveReport", "StoredChunk", "create_library", "doctor",
           "library_address", "library_exists", "open_library"]
