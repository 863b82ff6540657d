"""EST over CoAP and DTLS against EST over HTTPS, side by side: bytes on the wire
and wall time of one device's first contact (the CA certificates, then an
enrollment), each against the dev server of its kind on 127.0.0.1.

    python bench/bench_coaps.py [--runs N]
    python bench/bench_coaps.py --heap     # the heap the coaps device path needs on the board models

Both clients run on CPython (tinyest.client.EstClient with a password;
tinyest.coaps.CoapsClient with a factory certificate, DTLS from python-mbedtls)
through a counting relay: TCP for HTTPS (one connection per request, as the
client makes them), UDP for CoAP. Octets are what the sockets carry (TLS and
DTLS records included) each way; IP adds 20 octets per IPv4 packet, plus 8 per
UDP datagram or at least 20 per TCP segment (the TCP figure counts the relay's
reads, not segments, so its header estimate is a floor). Prints medians of
--runs; never asserts.
"""
import argparse
import os
import pathlib
import socket
import statistics
import sys
import threading
import time

ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


class UdpCounter:
    """A UDP relay on 127.0.0.1 to ``target`` counting datagrams and octets each way."""

    def __init__(self, target):
        self.n = {"up": [0, 0], "down": [0, 0]}
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(0.1)
        self.port = self.sock.getsockname()[1]
        self.back = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.back.connect(("127.0.0.1", target))
        self.back.settimeout(0.1)
        self.peer = None
        self.run = True
        self.threads = [threading.Thread(target=self._up, daemon=True),
                        threading.Thread(target=self._down, daemon=True)]
        for t in self.threads:
            t.start()

    def _up(self):
        while self.run:
            try:
                data, self.peer = self.sock.recvfrom(65536)
            except OSError:
                continue
            self.n["up"][0] += 1
            self.n["up"][1] += len(data)
            self.back.send(data)

    def _down(self):
        while self.run:
            try:
                data = self.back.recv(65536)
            except OSError:
                continue
            self.n["down"][0] += 1
            self.n["down"][1] += len(data)
            self.sock.sendto(data, self.peer)

    def close(self):
        self.run = False
        for t in self.threads:
            t.join(1)
        self.sock.close()
        self.back.close()


class TcpCounter:
    """A TCP relay on 127.0.0.1 to ``target`` counting reads and octets each way."""

    def __init__(self, target):
        self.target = target
        self.n = {"up": [0, 0], "down": [0, 0], "connections": 0}
        self.lsock = socket.socket()
        self.lsock.bind(("127.0.0.1", 0))
        self.lsock.listen(8)
        self.lsock.settimeout(0.1)
        self.port = self.lsock.getsockname()[1]
        self.run = True
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    def _accept(self):
        while self.run:
            try:
                c, _ = self.lsock.accept()
            except OSError:
                continue
            self.n["connections"] += 1
            b = socket.create_connection(("127.0.0.1", self.target))
            for src, dst, way in ((c, b, "up"), (b, c, "down")):
                threading.Thread(target=self._pipe, args=(src, dst, way), daemon=True).start()

    def _pipe(self, src, dst, way):
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                self.n[way][0] += 1
                self.n[way][1] += len(data)
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def close(self):
        self.run = False
        self.thread.join(1)
        self.lsock.close()


def https_run():
    from host_tools.devserver import DevServer
    from tinyest import csr, ec
    from tinyest.client import EstClient

    srv = DevServer(users=[("dev", "pw")])
    srv.start()
    relay = TcpCounter(srv.port)
    try:
        t0 = time.perf_counter()
        cl = EstClient("127.0.0.1", relay.port, trust=[srv.ca_der], auth=("dev", "pw"))
        cl.cacerts()
        key = ec.generate()
        cl.simpleenroll(csr.request(key, "bench-1", []))
        wall = time.perf_counter() - t0
        time.sleep(0.2)
        return wall, relay.n
    finally:
        relay.close()
        srv.stop()


def coaps_run():
    from host_tools import dtls
    from host_tools.devserver.ca import cert_der
    from host_tools.devserver.coaps import CoapsServer
    from tinyest import csr, ec
    from tinyest.coaps import CoapsClient

    dtls.install()
    srv = CoapsServer(path="/est").start()
    relay = UdpCounter(srv.port)
    try:
        cert, key_der = srv.factory_certificate("bench-1")
        t0 = time.perf_counter()
        cl = CoapsClient("localhost", relay.port, trust=[cert_der(srv.ca.root)], cert=cert, key=key_der,
                         path="/est", timeout=10)
        cl.cacerts()
        key = ec.generate()
        cl.simpleenroll(csr.request(key, "bench-1", []))
        wall = time.perf_counter() - t0
        cl.close()
        time.sleep(0.2)
        return wall, relay.n
    finally:
        relay.close()
        srv.stop()


class CoapsFit:
    """bench/coaps_device_path.py (a Device over coaps, .mpy from ``mpy``)
    against a dev CoapsServer of its own: ``ok(exe, heap_k)``."""

    def __init__(self, mpy, work):
        from host_tools.devserver.ca import cert_der
        from host_tools.devserver.coaps import CoapsServer

        self.mpy = mpy
        self.work = work
        self.srv = CoapsServer(path="/est").start()
        cert, key = self.srv.factory_certificate("fit-coaps")
        self.files = [work / n for n in ("ca.der", "idevid.der", "idevid-key.der")]
        for f, data in zip(self.files, (cert_der(self.srv.ca.root), cert, key)):
            f.write_bytes(data)

    def ok(self, exe, heap_k):
        import shutil

        shutil.rmtree(self.work / "store", ignore_errors=True)
        out = self._run(exe, heap_k, "coaps_device_path.py", [str(self.srv.port)] + [str(f) for f in self.files]
                        + [str(self.work / "store")])
        return out == "OK"

    def path(self, exe, heap_k, op):
        """bench/coaps_client_path.py ``op`` ("full" or "renew": bench/device_path.py's
        path over a CoapsClient) at heap_k KiB: (ok, what it printed). "renew"
        starts from the store a "full" run at 1 MiB left."""
        import shutil

        store, enrolled = self.work / "path-store", self.work / "path-enrolled"
        if op == "renew" and not enrolled.exists():
            ok, out = self.path(exe, 1024, "full")
            if not ok:
                return ok, out
            shutil.copytree(store, enrolled)
        shutil.rmtree(store, ignore_errors=True)
        if op == "full":
            args = ["full", str(self.srv.port)] + [str(f) for f in self.files] + [str(store)]
        else:
            shutil.copytree(enrolled, store)
            args = ["renew", str(self.srv.port), str(self.files[0]), str(store)]
        out = self._run(exe, heap_k, "coaps_client_path.py", args)
        return out.startswith("OK"), out

    def _run(self, exe, heap_k, script, args):
        import subprocess

        p = subprocess.run([str(exe), "-X", "heapsize=%dK" % heap_k, str(ROOT / "bench" / script)] + args,
                           env=dict(os.environ, MICROPYPATH=".frozen:" + str(self.mpy)),
                           capture_output=True, text=True, timeout=300)
        return p.stdout.strip() + p.stderr.strip()[-300:]

    def close(self):
        self.srv.stop()


def heap():
    """Print the smallest -X heapsize (KiB) from which bench/coaps_device_path.py
    enrolls and renews on the 32-bit board models."""
    import shutil
    import tempfile

    sys.path.insert(0, str(ROOT / "port_micropython"))
    sys.path.insert(0, str(ROOT / "bench"))
    import build
    from bench_fit import interpreters
    from common import bisect

    work = pathlib.Path(tempfile.mkdtemp(prefix="bench_coaps_"))
    build.build(work / "mpy")
    fit = CoapsFit(work / "mpy", work)
    try:
        print("Device over coaps (crts, sen with the factory certificate, crts, sren), .mpy: smallest heap")
        for name, exe in interpreters():
            if "64-bit" in name:
                continue
            hi = 512
            if not fit.ok(exe, hi):
                print("  %-24s fails at %d KiB" % (name, hi))
                continue
            print("  %-24s %4d KiB" % (name, bisect(lambda k: fit.ok(exe, k), 16, hi)))
        print("  (the HTTPS firmware loop's budget: 112 KiB on micropython-32-tlsheap; bench/bench_loop.py)")
        print("bench/device_path.py's path over a CoapsClient (bench/coaps_client_path.py), .mpy: smallest heap")
        for name, exe in interpreters():
            if "64-bit" in name:
                continue
            for op in ("full", "renew"):
                if not fit.path(exe, 512, op)[0]:
                    print("  %-24s %-5s fails at 512 KiB" % (name, op))
                    continue
                print("  %-24s %-5s %4d KiB" % (name, op, bisect(lambda k: fit.path(exe, k, op)[0], 16, 512)))
        print("  (the HTTPS path's budgets: full 96 / renew 88 KiB on micropython-32-tlsheap, 80 / 72 on "
              "micropython-32; tests/host/test_fit_host.py)")
    finally:
        fit.close()
        shutil.rmtree(work, ignore_errors=True)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--heap", action="store_true", help="the heap a Device over coaps needs on the board models")
    args = ap.parse_args(argv)
    try:
        import mbedtls  # noqa: F401
        import aiocoap  # noqa: F401
    except ImportError as e:
        print("bench_coaps: needs the coap extra (pip install -e '.[coap]'): %s" % e)
        return 0
    if args.heap:
        heap()
        return 0
    rows = {}
    for name, fn in (("https", https_run), ("coaps", coaps_run)):
        res = [fn() for _ in range(args.runs)]
        rows[name] = res
    print("first contact (CA certificates, then one enrollment), CPython client, dev servers on 127.0.0.1; "
          "median of %d runs" % args.runs)
    print("%-7s %10s %12s %12s %9s %11s %13s" % ("", "wall ms", "octets up", "octets down", "packets",
                                                "IP octets", "vs https"))
    base = None
    for name in ("https", "coaps"):
        res = rows[name]
        wall = statistics.median(r[0] for r in res) * 1000
        up = statistics.median(r[1]["up"][1] for r in res)
        down = statistics.median(r[1]["down"][1] for r in res)
        pk = statistics.median(r[1]["up"][0] + r[1]["down"][0] for r in res)
        per = 28 if name == "coaps" else 40
        ip = up + down + per * pk
        if base is None:
            base = ip
        extra = "" if name == "coaps" else " (%d conn.)" % statistics.median(r[1]["connections"] for r in res)
        print("%-7s %10.1f %12d %12d %9d %11d %12.2fx%s" % (name, wall, up, down, pk, ip, ip / base, extra))
    print("packets: UDP datagrams (exact) or TCP reads (a floor on segments); IP octets: payload + 28 per "
          "datagram or + 40 per read (TCP handshakes and ACKs not counted: a floor)")
    return 0


if __name__ == "__main__":
    os.environ.setdefault("PYTHONHASHSEED", "0")
    sys.exit(main())
