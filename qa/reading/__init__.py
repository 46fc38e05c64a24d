"""Reading: files and feeds to Articles, and Articles to Chunks.

``files.py`` reads article files (text, Markdown, HTML, JSON, JSON Lines, gzipped) into
``Article`` records, yielding ``ReadError`` values for what it cannot read (both in
``article.py``; bytes and HTML to text in ``text.py``, shared with web.py); ``cleaning.py``
drops a page's furniture; ``dates.py`` finds an article's date (and a question's time
range); ``web.py`` fetches pages and RSS/Atom feeds into files ``files.py`` reads;
``chunking.py`` cuts articles into sentence-aware chunks and says how they are embedded.

The names other modules use from ``article.py`` and ``files.py`` are exported here
(``from qa.reading import Article``); cleaning, web and date parsing load only when used.
"""
from qa.reading.article import Article, ReadError
from qa.reading.files import (MAX_ARTICLE_CHARS, MAX_FILE_BYTES, MAX_LINE_BYTES, file_digest, is_supported,
                              iter_files, read_file, read_paths, walk_paths)

__all__ = ["MAX_ARTICLE_CHARS", "MAX_FILE_BYTES", "MAX_LINE_BYTES", "Article", "ReadError", "file_digest",
           "is_supported", "iter_files", "read_file", "read_paths", "walk_paths"]
