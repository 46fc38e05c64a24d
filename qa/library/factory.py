"""Which backend keeps a library, chosen from its address (as txtai picks an ANN backend from config).

A directory is a folder library (``folder/``); ``milvus://`` and ``milvuss://``
addresses are Milvus libraries (``milvus/``). A new backend registers the URI
schemes it serves in :data:`BACKENDS`; everything else asks this module.
"""
from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from embeddings.encoder import Encoder
from qa.errors import LibraryError
from qa.library.base import Library
from qa.library.folder import FolderLibrary
from qa.library.milvus import MilvusLibrary
from qa.library.reports import DoctorReport

# URI scheme -> backend; an address without a scheme is a folder.
BACKENDS: dict[str, type[Library]] = {"milvus": MilvusLibrary, "milvuss": MilvusLibrary}


def backend_for(address: str | Path) -> type[Library]:
    """The backend class for ``address``, or a LibraryError naming the scheme it does not know."""
    text = str(address)
    scheme, sep, _ = text.partition("://")
    if not sep or isinstance(address, Path):
        return FolderLibrary
    try:
        return BACKENDS[scheme.lower()]
    except KeyError:
        known = ", ".join(f"{s}://" for s in sorted(BACKENDS)) or "none"
        raise LibraryError(f"unknown library address {text!r}: give a directory "
                           f"(URI schemes this qa knows: {known})") from None


def library_address(address: str | Path) -> str | Path:
    """A folder as a Path (``~`` expanded), a URI as it was written."""
    return address if "://" in str(address) and not isinstance(address, Path) else Path(address).expanduser()


def library_exists(address: str | Path) -> bool:
    return backend_for(address).exists(library_address(address))


def open_library(address: str | Path, encoder: Encoder | None = None) -> Library:
    """The library at ``address``, checked against ``encoder`` when given."""
    return backend_for(address).open(library_address(address), encoder)


def create_library(address: str | Path, encoder: Encoder) -> Library:
    """A new empty library at ``address``, or the one already there."""
    return backend_for(address).create(library_address(address), encoder)


def doctor(address: str | Path, repair: bool = True,
           get_encoder: Callable[[], Encoder] | None = None) -> DoctorReport:
    """Check the library at ``address`` and, with ``repair``, fix what can be fixed."""
    return backend_for(address).doctor(library_address(address), repair, get_encoder)
