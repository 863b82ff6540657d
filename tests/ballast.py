"""Heap ballast for the memory probes that run under MicroPython: fill the heap
so that an operation runs in one clean block of a given size.

Used by bench/mem_probe.py, bench/bench_budgets.py (its device probe, with this
file copied beside it), tests/e2e/heap_probe.py and tests/fuzz/hostile.py; each
imports it once the figures it reports about the heap before (the resident
code) are taken, so that this module is not counted in them. Their hosts then
bisect the block size to find the smallest one the operation works in.

Runs on MicroPython and CPython; only MicroPython's heap is measured this way.
"""

import gc


def fill(free, slots=4096):
    """Reserve one contiguous block of ``free`` bytes, fill every other free byte
    (down to 16-byte pieces, in at most ``slots`` pieces) with ballast, then
    release the reserve: what runs next has a clean heap of that size. Returns
    the ballast, which the caller keeps referenced while the operation runs."""
    gc.collect()
    ballast = [None] * slots
    reserve = bytearray(free - 16)
    size = 1 << 16
    i = 0
    while size >= 16 and i < slots:
        try:
            ballast[i] = bytearray(size)
            i += 1
        except MemoryError:
            size >>= 1
    reserve = None  # noqa: F841  (released: the block the operation runs in)
    gc.collect()
    return ballast
