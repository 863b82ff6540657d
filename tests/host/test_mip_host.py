"""Packaging for MicroPython: ``mip`` installs tinyest into the unix interpreter from a
local folder, and the freezing manifest names the same files.

mip fetches over HTTP only (no file:// scheme), so the folder is served by a loopback
HTTP server in this process: no network is involved. Installed packages are then
imported and used by a separate interpreter run whose path holds only that folder.
"""
import functools
import hashlib
import http.server
import json
import os
import pathlib
import subprocess
import sys
import threading

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
PORT_DIR = ROOT / "port_micropython"
sys.path.insert(0, str(PORT_DIR))
import build  # noqa: E402

from host_tools import find_micropython  # noqa: E402

SOURCES = sorted(p.name for p in (ROOT / "tinyest").glob("*.py"))
CRYPTO = [n for n in SOURCES if n in build.CRYPTO]
# What package-core.json installs: the core and its lazily imported modules.
CORE = [n for n in SOURCES if n not in build.CRYPTO | build.CPYTHON | build.HOST | build.COAP | build.THUMB]
DEVICE = sorted(CORE + CRYPTO)  # everything MicroPython can import
# What package.json installs: all a board may load (not the host-only modules, not CPython's).
BOARD = [n for n in SOURCES if build.group(n) in ("core", "lazy", "crypto")]

USE = r"""
import sys
from tinyest.device import Device
from tinyest.client import EstClient
from tinyest.store import Store
import tinyest.x509, tinyest.csr, tinyest.pkcs7
from tinyest.csrattrs import CsrAttrs  # lazily imported modules are installed too
from tinyest.http_auth import parse_challenges
assert CsrAttrs().empty() and parse_challenges(["Basic realm=x"])[0][0] == "basic"
print("CORE OK")
try:
    from tinyest import ec, keys
except ImportError as e:
    print("NO CRYPTO", e)
    sys.exit(0)
k = ec.from_secret(b"\x01" * 32)
sig = k.sign(b"msg")
keys.verify(k.public_key_der(), k.algorithm_der(), b"msg", sig)
print("CRYPTO OK")
"""


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@pytest.fixture
def serve():
    """serve(directory) -> base URL of a loopback HTTP server for that directory."""
    servers = []

    def start(directory):
        handler = functools.partial(_Quiet, directory=str(directory))
        srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        threading.Thread(target=srv.serve_forever, daemon=True).start()
        servers.append(srv)
        return "http://127.0.0.1:%d" % srv.server_address[1]

    yield start
    for s in servers:
        s.shutdown()
        s.server_close()


def _mp(cwd, code, path=None):
    exe = find_micropython()
    assert exe, "the micropython command is missing"
    env = dict(os.environ)
    env["MICROPYPATH"] = ".frozen" if path is None else ".frozen:" + str(path)
    p = subprocess.run([exe, "-X", "heapsize=1M", "-c", code], cwd=str(cwd), env=env,
                       capture_output=True, text=True, timeout=60)
    return p.returncode, p.stdout + p.stderr


def _install(cwd, url, target="lib"):
    rc, out = _mp(cwd, "import mip\nmip.install(%r, target=%r)" % (url, target))
    assert rc == 0 and "Done" in out, out
    return out


def _installed(lib):
    d = pathlib.Path(lib) / "tinyest"
    return sorted(p.name for p in d.iterdir()) if d.exists() else []


def test_package_json_files_name_every_module():
    for fname, obj in build.package_files(SOURCES):
        on_disk = json.loads((PORT_DIR / fname).read_text())
        assert on_disk == obj, "%s is out of date with tinyest/ (see build.package_files)" % fname
        for target, url in on_disk["urls"]:
            assert (PORT_DIR / url).resolve() == (ROOT / target).resolve()
    allf = json.loads((PORT_DIR / "package.json").read_text())["urls"]
    assert sorted(t.split("/")[1] for t, _ in allf) == BOARD


def test_mip_installs_sources_from_a_local_folder(tmp_path, serve):
    base = serve(ROOT)
    out = _install(tmp_path, base + "/port_micropython/package.json")
    assert _installed(tmp_path / "lib") == BOARD, out
    for name in BOARD:
        got = (tmp_path / "lib" / "tinyest" / name).read_bytes()
        src = (ROOT / "tinyest" / name).read_bytes()
        assert hashlib.sha256(got).digest() == hashlib.sha256(src).digest(), name
    rc, out = _mp(tmp_path, USE, tmp_path / "lib")
    assert rc == 0 and "CORE OK" in out and "CRYPTO OK" in out, out


def test_mip_core_and_crypto_parts_are_separable(tmp_path, serve):
    base = serve(ROOT)
    _install(tmp_path, base + "/port_micropython/package-core.json")
    assert _installed(tmp_path / "lib") == CORE
    rc, out = _mp(tmp_path, USE, tmp_path / "lib")
    assert rc == 0 and "CORE OK" in out and "NO CRYPTO" in out, out
    _install(tmp_path, base + "/port_micropython/package-crypto.json")
    assert _installed(tmp_path / "lib") == DEVICE
    rc, out = _mp(tmp_path, USE, tmp_path / "lib")
    assert rc == 0 and "CRYPTO OK" in out, out


def test_mip_installs_built_mpy_files(tmp_path, serve):
    dist = tmp_path / "dist"
    rows = build.build(dist)
    build.write_packages(dist, rows)
    base = serve(dist)
    dev = tmp_path / "device"
    dev.mkdir()
    _install(dev, base + "/package.json")
    assert _installed(dev / "lib") == sorted(n[:-3] + ".mpy" for n in BOARD)
    rc, out = _mp(dev, USE, dev / "lib")
    assert rc == 0 and "CRYPTO OK" in out, out


def _run_manifest(**kwargs):
    """Executes manifest.py the way MicroPython's tools/manifestfile.py does (its
    commands reduced to what this manifest uses); returns the frozen paths."""
    frozen = []

    class Options:
        def __init__(self, kw):
            self._kw = kw
            self._defaults = {}

        def defaults(self, **kw):
            self._defaults = kw

        def __getattr__(self, name):
            return self._kw.get(name, self._defaults.get(name))

    def package(package_path, files=None, base_path=".", opt=None):
        for f in files:
            path = (PORT_DIR / base_path / package_path / f).resolve()
            assert path.exists(), path
            frozen.append(package_path + "/" + f)

    g = {"metadata": lambda **kw: None, "package": package, "options": Options(kwargs)}
    exec((PORT_DIR / "manifest.py").read_text(), g)
    return sorted(frozen)


def test_manifest_freezes_the_core_and_optionally_the_crypto():
    assert _run_manifest() == ["tinyest/" + n for n in DEVICE]
    assert _run_manifest(crypto=False) == ["tinyest/" + n for n in CORE]
    # extras=False keeps what bootstrap, enroll (with a password) and renew import,
    # lazily or not: the 401 answer, CA trust, host names, names in messages, HTTP
    # dates and the rarer body framings, the rarer TLS inputs, error texts, the
    # issued-certificate check, the device's and the client's rarer paths.
    basic = [n for n in CORE if n not in build.LAZY] + [
        "catrust.py", "client_rare.py", "csr_rare.py", "der_text.py", "device_rare.py", "hostname.py",
        "http_auth.py", "http_date.py", "http_rare.py", "issued.py", "keys_rare.py", "names.py", "pkcs7_rare.py",
        "rollover.py", "runtime_error.py", "runtime_rare.py", "store_rare.py", "x509_rare.py"]
    assert _run_manifest(extras=False, crypto=False) == sorted("tinyest/" + n for n in basic)
    assert _run_manifest(extras=False) == sorted("tinyest/" + n for n in basic + CRYPTO)
    # coap=True adds EST over CoAP, exactly build.py's coap group
    coap = sorted(n for n in SOURCES if build.group(n) == "coap")
    assert coap == ["coap.py", "coap_formats.py", "coaps.py", "dtls.py"]
    assert _run_manifest(coap=True) == sorted("tinyest/" + n for n in DEVICE + coap)
    coap_json = json.loads((PORT_DIR / "package-coap.json").read_text())["urls"]
    assert [t for t, _ in coap_json] == ["tinyest/" + n for n in coap]
    # thumb=True adds P-256's Thumb assembly (with the crypto only), package-thumb.json's
    thumb = sorted(n for n in SOURCES if build.group(n) == "thumb")
    assert thumb == ["ec_thumb.py"]
    assert _run_manifest(thumb=True) == sorted("tinyest/" + n for n in DEVICE + thumb)
    assert _run_manifest(thumb=True, crypto=False) == ["tinyest/" + n for n in CORE]
    thumb_json = json.loads((PORT_DIR / "package-thumb.json").read_text())["urls"]
    assert [t for t, _ in thumb_json] == ["tinyest/" + n for n in thumb]
