"""A Milvus library's write lease: one writer at a time, across machines, without a lock server.

The lease is a row of NAME_meta naming its owner and when it lapses. A writer takes it
when none is held (or the holder's lapsed), reads it back to see that it won a race, and
renews it while it writes; a killed writer's lease lapses after ``LEASE_S``.
"""
from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from qa.errors import LibraryError

LEASE_S = 120.0  # a writer's lease, renewed while it writes; a killed writer's lapses after this


@contextmanager
def write_lease(read: Callable[[], dict | None], write: Callable[[dict], None], drop: Callable[[], None],
                address: str) -> Iterator[None]:
    """Hold the lease of the library at ``address`` for the ``with`` block: ``read`` gives the
    lease row's value (None when there is none), ``write`` puts one, ``drop`` deletes it."""
    me = uuid.uuid4().hex
    held = read()
    if held and held["until"] > time.time():
        raise LibraryError(f"another qa command (ingest, remove or doctor) is writing to {address}; "
                           "wait for it to finish and try again")
    write({"owner": me, "until": time.time() + LEASE_S})
    held = read()
    if not held or held["owner"] != me:
        raise LibraryError(f"another qa command started writing to {address} at the same moment; "
                           "try again when it is done")
    stop = threading.Event()

    def renew() -> None:
        while not stop.wait(LEASE_S / 4):
            write({"owner": me, "until": time.time() + LEASE_S})

    renewer = threading.Thread(target=renew, daemon=True, name="qa-milvus-lease")
    renewer.start()
    try:
        yield
    finally:
        stop.set()
        renewer.join()
        drop()
