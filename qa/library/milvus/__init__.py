"""The Milvus backend: a library kept in Milvus, so any number of machines can ask and ingest.

Addresses: ``milvus://HOST:PORT/NAME`` (a server or cluster; ``milvuss://`` for TLS,
``QA_MILVUS_TOKEN`` for auth) and ``milvus:///ABSOLUTE/PATH.db/NAME`` (Milvus Lite: the
same engine in a local file, one process at a time).

Three collections per library: ``NAME_chunks`` (the vector, the embedded text with
Milvus's own BM25 function over it, the article id, span, date, month and outlet of
every chunk; ``month`` is the partition key where the engine can filter on one, and
date-filtered searches there name the months; libraries made before it have only ``date``),
``NAME_articles`` (the articles' metadata and text, in parts of at most
``TEXT_PART`` characters: a Milvus string holds 64 KiB) and ``NAME_meta`` (the manifest,
the files each article came from, and the write lease). Everything a question needs is
there; a client keeps only the models.

Writes are versioned like the folder's generations: every row carries the generation
that ``added`` it and the one that ``removed`` it (0: live). A write adds its rows under
generation N+1, marks what it drops, and switches by inserting generation N+1's manifest
row (a reader takes the newest manifest row), one atomic write; a reader pinned at N
filters on ``added <= N and (removed == 0 or removed > N)``, so it sees the library
before or after a write, never between. Ingest writes the new chunk rows while it
encodes (``stage``), before the switch, so a big ingest's vectors need not all wait in
memory. Rows of a crashed write (added > N) and rows removed before N are deleted by
the next writer.
Chunk ids are derived from the article id and the chunk's span, so re-ingesting upserts
the same rows instead of adding duplicates.

Modules: ``library.py`` the backend (``MilvusLibrary``); ``client.py`` addresses, one
client per URI, schemas and the calls on a library's collections; ``expressions.py``
filter expressions; ``versions.py`` the rows a generation adds; ``lease.py`` the write lease.
"""
from qa.library.milvus.client import disconnect_all
from qa.library.milvus.library import MilvusLibrary

__all__ = ["MilvusLibrary", "disconnect_all"]
