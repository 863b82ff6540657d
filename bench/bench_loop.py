"""The firmware loop of a mip-installed board on the board models: the heap it needs.

    python bench/bench_loop.py [--servers N] [--coaps] [--loaded]

port_micropython/main.py through ``Device.step``, the store on a filesystem, the
library as .mpy in the flash's lib/ (port_micropython/sim.py), on
../shared/tools/micropython-32-tlsheap (Pico W, stm32: mbedTLS in the GC heap) and
micropython-32 (ESP32): boot 1 bootstraps /cacerts by the CA fingerprint and
enrolls with a password; after the fake clock passes the renewal time, boot 2
renews. Each boot runs with ``-X heapsize=N``; per boot it prints the heap from
which every larger one (2 KiB steps, 48 KiB up) completed its step, and in
brackets the lowest that did; the worst of ``--servers`` dev-server instances.
The budget of the device-fit issue: 112 KiB on -tlsheap. ``--coaps``: the same
over EST-coaps (``CoapsLoop``: a factory certificate, no bootstrap by
fingerprint, since the dev coaps server wants a client certificate anyway; a
step makes one DTLS exchange, so each "boot" is the boots until enrolled, or
renewed).
``--loaded``: which modules a device's loop loads over five boots (bootstrap and
enrollment, then a renewal each boot: 1-day certificates), per boot and in all,
with their .mpy bytes.
It prints; it never asserts.
"""
import argparse
import pathlib
import shutil
import sys
import tempfile
import time

ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "port_micropython"))

import bench_fit  # noqa: E402
import sim  # noqa: E402

TOOLS = ROOT.parent / "shared" / "tools"
DAY = 86400


class Loop:
    """One dev server on a fake clock; ``run(exe, heap, boot)`` boots a device."""

    def __init__(self, lib, work):
        from host_tools.devserver import DevServer

        self.lib, self.work = lib, pathlib.Path(work)
        self.clock = sim.SimClock(time.time() - 30 * DAY)
        self._fake = sim.fake_time(self.clock)
        self._fake.__enter__()
        self.srv = DevServer(port=sim.free_port(), workdir=str(self.work / "srv"), cert_lifetime=DAY)
        self.srv.add_user("device-1", "pw")
        self.srv.start()
        self.enrolled = None
        self.n = 0

    def close(self):
        self.srv.stop()
        self._fake.__exit__(None, None, None)

    def _flash(self):
        self.n += 1
        f = sim.Flash(self.work / ("flash%d" % self.n)).install(self.lib)
        f.configure({"bootstrap": {"user": "device-1", "password": "pw",
                                   "fingerprint": self.srv.ca_fingerprint_hex},
                     "est": {"host": "127.0.0.1", "port": self.srv.port, "cn": "loop-device",
                             "dns": "loop-device.local", "timeout": 10, "renew_margin": DAY // 4,
                             "keep_password": True}})
        return f

    def run(self, exe, heap, boot):
        """True when boot 1 (bootstrap + enroll) or boot 2 (renew) completes at ``heap`` KiB."""
        f = self._flash()
        try:
            if boot == 2:
                if self.enrolled is None:
                    return False
                shutil.rmtree(f.path / "est", ignore_errors=True)
                shutil.copytree(self.enrolled, f.path / "est")
                shutil.copy(self.enrolled.parent / "config.json", f.path / "config.json")
                before = f.store().chain[0]
                at = self.clock.now()
                self.clock.advance(DAY - DAY // 8)  # renewal due, still valid
                try:
                    b = f.boot(self.clock, heap="%dK" % heap, exe=str(exe))
                finally:
                    self.clock.offset -= self.clock.now() - at
                return b.rc == 0 and not b.events("fault") and f.store().chain[0] != before
            b = f.boot(self.clock, heap="%dK" % heap, exe=str(exe))
            ok = b.rc == 0 and not b.events("fault") and b.state == "enrolled"
            if ok and self.enrolled is None:
                self.enrolled = f.path / "est"
                return ok
            shutil.rmtree(f.path, ignore_errors=True)
            return ok
        except Exception:
            shutil.rmtree(f.path, ignore_errors=True)
            raise

    def fits(self, exe, boot, span=48, step=2):
        """(lowest, reliable) KiB, as bench_fit.Fit.fits."""
        if boot == 2 and self.enrolled is None:
            self.run(exe, 1024, 1)
        if not self.run(exe, 1024, boot):
            return None, None
        lo, hi = 16, 1024
        while hi - lo > 1:
            mid = (lo + hi) // 2
            if self.run(exe, mid, boot):
                hi = mid
            else:
                lo = mid
        ok = None
        for h in range(hi + span, hi - 1, -step):
            if not self.run(exe, h, boot):
                break
            ok = h
        return hi, ok


class CoapsLoop(Loop):
    """The same over EST-coaps (the coap extra): boot 1 enrolls with a factory
    certificate (sen; crts a boot later), boot 2, the clock 10 minutes past the
    renewal time, renews (crts, then sren a boot later). The CA's clock is the
    host's; the device's is moved."""

    def __init__(self, lib, work):
        from host_tools.devserver.ca import cert_der
        from host_tools.devserver.coaps import CoapsServer

        self.lib, self.work = lib, pathlib.Path(work)
        self.srv = CoapsServer(path="/est").start()
        self.ident = [cert_der(self.srv.ca.root)] + list(self.srv.factory_certificate("loop-device"))
        self.enrolled = None
        self.n = 0

    def close(self):
        self.srv.stop()

    def _flash(self):
        self.n += 1
        f = sim.Flash(self.work / ("flash%d" % self.n)).install(self.lib)
        for name, data in zip(("ca.der", "idevid.der", "idevid-key.der"), self.ident):
            (f.path / name).write_bytes(data)
        f.configure({"bootstrap": {"ca": "ca.der", "cert": "idevid.der", "key": "idevid-key.der"},
                     "est": {"scheme": "coaps", "host": "localhost", "port": self.srv.port, "label": "/est",
                             "cn": "loop-device", "timeout": 10}})
        return f

    def run(self, exe, heap, boot):
        # A step over coaps makes one exchange (Device: one DTLS handshake per
        # step), so "boot 1" and "boot 2" are the boots, at most 3, until the
        # device is enrolled or renewed: each must complete at this heap.
        if boot == 1:
            f = self._flash()
            for _ in range(3):
                b = f.boot(heap="%dK" % heap, exe=str(exe))
                ok = b.rc == 0 and not b.events("fault")
                if not ok or b.state == "enrolled":
                    break
            ok = ok and b.state == "enrolled"
            if ok and self.enrolled is None:
                self.enrolled = f.path
            else:
                shutil.rmtree(f.path, ignore_errors=True)
            return ok
        if self.enrolled is None:
            return False
        from tinyest.device import renew_time
        from tinyest.x509 import Certificate

        f = self._flash()
        try:
            shutil.rmtree(f.path / "est", ignore_errors=True)
            shutil.copytree(self.enrolled / "est", f.path / "est")
            shutil.copy(self.enrolled / "config.json", f.path / "config.json")
            before = f.store().chain[0]
            c = Certificate(before)
            clock = sim.SimClock(time.time())
            clock.offset = renew_time(c.not_before, c.not_after) + 600 - int(time.time())
            for _ in range(3):
                b = f.boot(clock, heap="%dK" % heap, exe=str(exe))
                if b.rc or b.events("fault"):
                    return False
                if f.store().chain[0] != before:
                    return True
            return False
        finally:
            shutil.rmtree(f.path, ignore_errors=True)


# main.py (as app.py) run under bench_fit's recorder; the modules of each boot are
# appended to loaded.txt, a line a boot.
_RECORDER = bench_fit.RECORDER + r"""
try:
    with open("app.py") as f:
        exec(f.read(), {"__name__": "__main__"})
finally:
    _snap()
    with open("loaded.txt", "a") as f:
        f.write(" ".join(sorted(seen)) + "\n")
"""


def loaded(lib, work, exe, boots=5):
    """The modules the firmware loop loads over a device's life on ``exe``: boots of
    a device on a fake clock (bootstrap by fingerprint and enrollment, then
    renewals); returns [set per boot]."""
    loop = Loop(lib, work)
    try:
        f = loop._flash()
        (f.path / "app.py").write_text((f.path / "main.py").read_text())
        (f.path / "main.py").write_text(_RECORDER)
        for _ in range(boots):
            b = f.boot(loop.clock, exe=str(exe))
            if b.rc != 0:
                raise RuntimeError("boot failed: %s" % b.lines[-3:])
            if b.wake_at and b.wake_at > 0:
                loop.clock.advance_to(b.wake_at)
        return [set(line.split()) for line in (f.path / "loaded.txt").read_text().splitlines()]
    finally:
        loop.close()


def print_loaded(lib, work):
    exe = TOOLS / "micropython-32"
    if not exe.exists():
        print("micropython-32 absent")
        return
    sizes = {f.stem: f.stat().st_size for f in (pathlib.Path(lib) / "tinyest").glob("*.mpy")}
    boots = loaded(lib, work, exe)
    union = {"__init__"}
    print("== .mpy a device's firmware loop loads, per boot (micropython-32, 1-day certificates) ==")
    for i, mods in enumerate(boots, 1):
        union |= mods
        print("boot %d %6d B  %s" % (i, sizes["__init__"] + sum(sizes[m] for m in mods), " ".join(sorted(mods))))
    total = sum(sizes[m] for m in union)
    print("all boots: %d B = %.1f KiB (the package itself included)" % (total, total / 1024))


def main(argv=None):
    ap = argparse.ArgumentParser(prog="bench_loop.py", description=__doc__.splitlines()[0])
    ap.add_argument("--servers", type=int, default=2)
    ap.add_argument("--coaps", action="store_true", help="EST over CoAP (the coap extra) instead of HTTPS")
    ap.add_argument("--loaded", action="store_true", help="the .mpy the loop loads over a device's life")
    args = ap.parse_args(argv)
    make = CoapsLoop if args.coaps else Loop
    work = pathlib.Path(tempfile.mkdtemp(prefix="tinyest-loop-"))
    try:
        lib = sim.build_lib(work / "mpy")
        if args.loaded:
            print_loaded(lib, work / "loaded")
            return 0
        print("== firmware loop (main.py, Device.step)%s: -X heapsize (KiB) per boot, reliable (lowest), "
              "worst of %d dev servers ==" % (" over coaps" if args.coaps else "", args.servers))
        for name in ("micropython-32-tlsheap", "micropython-32"):
            exe = TOOLS / name
            if not exe.exists():
                print("%-24s absent" % name)
                continue
            worst = {}
            for i in range(args.servers):
                loop = make(lib, work / ("%s-%d" % (name, i)))
                try:
                    for boot in (1, 2):
                        low, ok = loop.fits(exe, boot)
                        a, b = worst.get(boot, (0, 0))
                        worst[boot] = (None if low is None or a is None else max(low, a),
                                       None if ok is None or b is None else max(ok, b))
                finally:
                    loop.close()
            print("%-24s boot 1 (%s) %s (%s)   boot 2 (renew) %s (%s)" % (
                name, "enroll" if args.coaps else "bootstrap, enroll", worst[1][1], worst[1][0], worst[2][1], worst[2][0]))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
