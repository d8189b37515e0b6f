"""The client's memory between the stages of a sharded build (issue 23: peak RSS at 1M inputs
within 100 MiB of the peak at 10k).

Two things kept a million-input build's client high, both measured (BENCHMARKS, scale):
- pyarrow's default pool (mimalloc) keeps freed pages per thread: merging the structures of 489
  parts held 247 MiB of RSS for 37 MiB of live Arrow memory; jemalloc with no decay holds 109.
- the stages stack: what the summary and the plan freed was never given back, so the merge
  started where the plan had peaked. Between stages the pool and glibc's heap are trimmed.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import gc
from collections.abc import Iterator
from contextlib import contextmanager

import pyarrow as pa


def returning_pool() -> pa.MemoryPool:
    """A pool that gives freed memory back to the system at once: jemalloc without decay where
    this pyarrow has it (Linux and macOS wheels), else the system allocator."""
    try:
        pool = pa.jemalloc_memory_pool()
        pa.jemalloc_set_decay_ms(0)
    except NotImplementedError:  # a build without jemalloc (Windows wheels)
        pool = pa.system_memory_pool()
    return pool


@contextmanager
def lean_client() -> Iterator[None]:
    """Arrow allocations of the block go to `returning_pool()`; the default pool is restored
    after, so a program that calls the API keeps its own choice."""
    before = pa.default_memory_pool()
    pa.set_memory_pool(returning_pool())
    try:
        yield
    finally:
        pa.set_memory_pool(before)


def give_back_memory() -> None:
    """Freed memory back to the system between stages: unreachable Python objects, the Arrow
    pool's unused pages, and glibc's free heap (malloc_trim; a no-op elsewhere)."""
    gc.collect()
    pa.default_memory_pool().release_unused()
    name = ctypes.util.find_library("c")
    libc = ctypes.CDLL(name) if name else None
    trim = getattr(libc, "malloc_trim", None)
    if trim is not None:
        trim(0)
