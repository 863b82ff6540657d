"""The harness itself (tests/rp2/pico.py): errors and timeouts on the board come
back as exceptions and leave the board usable, the cycle counter counts, the
flash survives a reboot, and no emulator process outlives a Pico."""
import os
import signal
import time

import pytest

import pico


def _gone(pgid):
    """No live process left in the emulator's process group (node, pty relay);
    an exited relay may stay a zombie until init reaps it."""
    end = time.monotonic() + 5
    while pico.group_members(pgid):
        if time.monotonic() > end:
            return False
        time.sleep(0.1)
    return True


def test_harness_round_trip(new_flash):
    flash = new_flash("harness")
    p = pico.Pico(flash)
    try:
        pid = p.proc.pid
        assert p.exec("print('hello', 6 * 7)") == "hello 42\r\n"
        assert p.eval("__import__('sys').platform") == "rp2"
        assert p.value("print(repr(__import__('sys').implementation.version[:2]))") == (1, 28)
        # no network on a plain Pico: the offline path must not need it
        assert p.value("try:\n import socket\n print(True)\nexcept ImportError:\n print(False)") is False
        assert p.value("import tinyest.runtime\nprint(repr(tinyest.runtime.socket))") is None

        with pytest.raises(pico.BoardError) as e:
            p.exec("def f():\n    raise ValueError('boom')\nf()")
        assert "ValueError: boom" in e.value.traceback
        assert p.exec("print(1)") == "1\r\n"  # still at the raw REPL

        # a step that does not end: a timeout, then Ctrl-C brings the REPL back
        with pytest.raises(pico.PicoTimeout):
            p.exec("while True:\n    pass", timeout=2)
        p.enter_raw()
        assert p.exec("print(2)") == "2\r\n"

        # the cycle counter: a 10,000-iteration loop of additions (README: about 6.0 M cycles)
        t = p.timed("def f():\n    x = 0\n    for i in range(10000):\n        x += i\n    return x\nx = f()")
        assert 3e6 < t.cycles < 12e6, t
        assert p.eval("x") == sum(range(10000))
        free = p.mem_free()
        assert 200_000 < free < 242_000
        pico.figure("harness", "10,000-iteration loop", "%d cycles (%.1f ms)" % (t.cycles, t.ms))
        pico.figure("harness", "heap free at the raw REPL", "%d B" % free)

        # the flash is kept across a reboot (SIGTERM saves it)
        p.put("/hello.bin", bytes(range(256)) * 20)
        assert p.stop() == 0
        assert _gone(pid) and not os.path.lexists(p.link)
        p.start()
        assert p.get("/hello.bin") == bytes(range(256)) * 20
        # SIGKILL: no exit handler runs, and still nothing is left behind
        pid = p.proc.pid
        p.stop(signal.SIGKILL)
        assert _gone(pid)
    finally:
        p.stop()
    assert not pico._LIVE
