"""Fixtures of the RP2040 tests (tests/rp2): the library built as .mpy, and a
flash image with it installed under /lib/tinyest/ (made once per session on a
first boot, which also formats LittleFS); each test module boots copies of it.

Without ../shared/tools/rp2 beside the repository every test here skips, saying
so; nothing else skips them.

The cycle and heap budgets are asserted like any other behaviour: the cycle
counter is deterministic. The figures every run measured are printed at the end
of the run ("rp2 measurements") whatever is selected.
"""
import pathlib
import shutil
import sys
from concurrent.futures import ThreadPoolExecutor

import pytest

HERE = pathlib.Path(__file__).resolve().parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))

import pico  # noqa: E402

def pytest_terminal_summary(terminalreporter):
    if not pico.FIGURES:
        return
    tr = terminalreporter
    tr.section("rp2 measurements (emulated RP2040, MicroPython 1.28.0, 125 MHz)")
    for group, name, text in pico.FIGURES:
        tr.write_line("%-10s %-44s %s" % (group, name, text))


@pytest.fixture(scope="session")
def rp2_tools():
    reason = pico.missing()
    if reason:
        pytest.skip(reason)
    pico.node_exe()  # node is on every machine: its absence is a failure, not a skip
    return pico.TOOLS


@pytest.fixture(scope="session")
def rp2_mpy(rp2_tools, tmp_path_factory):
    """The library compiled by port_micropython/build.py: DIR/tinyest/*.mpy."""
    out = tmp_path_factory.mktemp("rp2-mpy")
    pico.build_mpy(out)
    return out


@pytest.fixture(scope="session")
def rp2_image(rp2_mpy, tmp_path_factory):
    """A flash image: LittleFS formatted by the firmware, the library in /lib/tinyest/."""
    d = tmp_path_factory.mktemp("rp2-image")
    flash = d / "library.img"
    with pico.Pico(flash) as p:
        n = p.install_library(rp2_mpy)
        names = p.eval("sorted(__import__('os').listdir('/lib/tinyest'))")
    want = sorted(f.name for f in (rp2_mpy / "tinyest").iterdir())
    assert names == want
    pico.figure("setup", "library copied to /lib/tinyest", "%d .mpy files, %d bytes" % (len(names), n))
    return flash


@pytest.fixture(scope="session")
def new_flash(rp2_image, tmp_path_factory):
    """new_flash(name) -> path of a fresh copy of the library image (its own folder)."""
    def make(name="board", image=None):
        d = tmp_path_factory.mktemp("rp2-" + name)
        f = d / "flash.img"
        shutil.copyfile(image or rp2_image, f)
        return f

    return make


@pytest.fixture(scope="session")
def rp2_jobs(request, new_flash):
    """Results of the board sessions registered with ``pico.job``: those of the
    selected test modules start together (two emulators at a time, each on its
    own copy of the image) the first time a test needs one of them."""
    wanted = {getattr(item.module, "__name__", None) for item in request.session.items
              if getattr(item, "module", None) is not None}
    pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="rp2-job")
    futures = {name: pool.submit(fn, new_flash(name)) for name, (module, fn) in sorted(pico.JOBS.items())
               if module in wanted}

    class Jobs:
        def result(self, name):
            if name not in futures:  # not selected with the others: run it now
                futures[name] = pool.submit(pico.JOBS[name][1], new_flash(name))
            return futures[name].result()

    yield Jobs()
    pool.shutdown(wait=True)
