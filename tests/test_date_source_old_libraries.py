"""Libraries made before qa recorded how dates were found still open, read, and take new
articles: a folder store without the ``date_source`` column, a Milvus articles collection
without the field (Milvus cannot add one to an existing collection)."""
from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from conftest import SEEDS
from qa.library import create_library, open_library

WIRE = Path(__file__).parent / "fixtures" / "wire_copy.jsonl"
VOA = SEEDS / "003_c13b77ec0b5e076f.txt"


def dates(lib) -> dict[str, tuple[str | None, str | None]]:
    return {a.source: (a.date, a.date_source) for a in lib.articles()}


def test_a_folder_store_without_the_column_opens_and_a_write_adds_it(fake_encoder, tmp_path):
    path = tmp_path / "lib"
    create_library(path, fake_encoder).add([VOA], fake_encoder)
    store = path / json.loads((path / "manifest.json").read_text())["files"]["store"]
    with sqlite3.connect(store) as db:  # the store as qa wrote it before date_source existed
        db.execute("ALTER TABLE articles DROP COLUMN date_source")
    old = open_library(path, fake_encoder)
    assert dates(old) == {VOA.name: ("2003-04-08", None)}
    old.add([WIRE], fake_encoder)
    lib = open_library(path, fake_encoder)
    assert dates(lib) == {VOA.name: ("2003-04-08", None), "Wire Digest": ("2003-04-08", "twin")}
    assert not type(lib).doctor(path, repair=False).problems


def test_a_milvus_collection_without_the_field_opens_and_takes_new_articles(fake_encoder, tmp_path, monkeypatch):
    pytest.importorskip("pymilvus", reason="pip install 'qa-news[milvus]'")
    from qa.library.milvus import client as milvus_client

    real_schemas = milvus_client.schemas

    def old_schemas(dim: int, keyed: bool):
        chunks, articles, meta = real_schemas(dim, keyed)
        articles.fields.remove(next(f for f in articles.fields if f.name == "date_source"))
        return chunks, articles, meta

    address = f"milvus://{tmp_path}/lib.db/lib"
    try:
        monkeypatch.setattr(milvus_client, "schemas", old_schemas)
        create_library(address, fake_encoder)
        monkeypatch.undo()
        lib = open_library(address, fake_encoder)
        lib.add([VOA, WIRE], fake_encoder)
        # the twin's date is stored (its chunks too); how it was found cannot be, in this collection
        assert dates(open_library(address, fake_encoder)) == {VOA.name: ("2003-04-08", None),
                                                             "Wire Digest": ("2003-04-08", None)}
    finally:
        milvus_client.disconnect_all()
