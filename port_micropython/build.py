"""Compile every core module to .mpy with mpy-cross and report the sizes.

    python port_micropython/build.py [--out DIR] [--march ARCH] [-O N] [--source-lines]
                                     [--package]

Writes DIR/tinyest/*.mpy (default: build/mpy) and prints one line per module and
the totals of the groups:

core    what a device running the state machine (``tinyest.device``) imports to
        bootstrap, enroll and renew, the software crypto aside: device, store,
        client, http, runtime, csr (its own requests), x509, pkcs7, keys, der,
        errors and the package.
lazy    modules a device imports only inside the function that needs them
        (``LAZY``): http_auth (answering a 401: a device that enrolls with a
        password loads it for that request, one that renews with its certificate
        never), catrust (a /cacerts answer: what is accepted, the bootstrap's
        server chain check), rollover (an answer holding CA rollover
        certificates), hostname (a certificate naming a host:
        the bootstrap check, and IP addresses on MicroPython), http_date (HTTP
        dates: Date, Retry-After), http_rare (chunked and close-delimited
        bodies, odd header bytes), runtime_rare (client keys not given as DER, the
        iPAddress check), csrattrs (``EstClient.csrattrs``), csr_build (the
        general request builder), der_text (OID text, rare string types), names
        (names as text), serverkeygen (multipart responses), proxy (HTTP
        CONNECT), pem (PEM input), serialwire (the provisioning agent's wire
        format: loaded only while the board is being provisioned), issued (the
        issued-certificate check, after an answer) and the *_rare halves of
        client, device, store, x509, pkcs7, csr, keys and runtime (rare paths, error
        texts: loaded when taken). der_write (the DER writers) is core: every
        request and commit loads it through ``der.__getattr__``.
crypto  the software key implementations (``CRYPTO``): a board that signs and
        verifies with a secure element leaves them out. ec_p256c (the signing
        rows of the P-256 table), ec_p384 and ec_der (key reading) load on use.
host    modules no board loads (``HOST``): csr_read (the request reader),
        der_extra (DER writers and dates only a host writes) and pkcs7_write
        (certs-only messages, as servers send them); not in the packages.
CPython the TLS context code of CPython (``CPYTHON``): MicroPython never imports it.
coap    EST over CoAP (``COAP``, RFC 9148): the client (coaps), CoAP (codec,
        exchanges), DTLS, the discovery and multipart-core readers: a package of
        its own (package-coap.json; the manifest's ``coap=True``), for a board
        that talks to a coaps:// server.
thumb   ec_thumb, P-256's point loop in ARM Thumb assembly (``THUMB``): built only
        with ``--march`` naming an ARM core (armv6m for the RP2040), where it goes
        into package.json too; sources have package-thumb.json (the manifest's
        ``thumb=True``). Elsewhere tinyest.ec runs its Python loop.

"core .mpy total" counts the first group only. The files carry no line numbers
(``mpy-cross -X no-source-lines``): 7 % less code, in the flash and in the heap
of a board that imports them; a traceback then names the module and the function
but not the line. ``--source-lines`` keeps them (for debugging on a board); ``-O``
is passed to mpy-cross.
``--package`` also writes DIR/package.json (everything a board may load),
DIR/package-core.json (core and lazy) and DIR/package-crypto.json naming the .mpy
files, so that serving DIR over HTTP lets a board ``mip.install(URL + "/package.json")``.
"""
import argparse
import json
import pathlib
import shutil
import subprocess
import sys

ROOT = pathlib.Path(__file__).resolve().parent.parent
CORE = ROOT / "tinyest"
# Software key implementations: a board that signs with a secure element omits them.
CRYPTO = {"ec.py", "ec_der.py", "ec_p256.py", "ec_p256c.py", "ec_p384.py", "rsa.py", "ed25519.py", "hashes.py",
          "sha512.py"}
# Core modules imported only by the function that needs them (see the docstring).
LAZY = {"catrust.py", "client_rare.py", "csr_build.py", "csr_rare.py", "csrattrs.py", "der_text.py",
        "device_rare.py", "hostname.py", "http_auth.py", "http_date.py", "http_rare.py", "issued.py", "keys_rare.py",
        "names.py", "pem.py", "pkcs7_rare.py", "proxy.py", "rollover.py", "runtime_error.py", "runtime_rare.py",
        "serialwire.py", "serverkeygen.py", "store_rare.py", "x509_rare.py"}
# Modules no board loads.
HOST = {"csr_read.py", "der_extra.py", "pkcs7_write.py"}
# Imported on CPython only.
CPYTHON = {"runtime_cpython.py"}
# EST over CoAP, loaded only by what speaks CoAP: a package of its own.
COAP = {"coap.py", "coap_formats.py", "coaps.py", "dtls.py"}
# P-256 in ARM Thumb assembly: compiled only for an ARM core (--march arm*).
THUMB = {"ec_thumb.py"}
# Everything outside the core a basic enroll/renew device imports.
OPTIONAL = CRYPTO | LAZY | HOST | CPYTHON | COAP | THUMB
VERSION = "0.1.0"


def mpy_cross():
    exe = shutil.which("mpy-cross")
    if exe:
        return [exe]
    return [sys.executable, "-m", "mpy_cross"]


def build(out, march=None, opt=None, lines=False):
    """Compile tinyest/*.py into out/tinyest/ (with line numbers when ``lines``);
    return [(name, py_bytes, mpy_bytes)]."""
    dest = pathlib.Path(out) / "tinyest"
    dest.mkdir(parents=True, exist_ok=True)
    rows = []
    for src in sorted(CORE.glob("*.py")):
        if src.name in THUMB and not (march or "").startswith("arm"):
            continue
        target = dest / (src.stem + ".mpy")
        cmd = mpy_cross() + ["-o", str(target), "-s", "tinyest/" + src.name]
        if march:
            cmd.append("-march=" + march)
        if opt:
            cmd.append("-O%d" % opt)
        if not lines:
            cmd += ["-X", "no-source-lines"]
        subprocess.run(cmd + [str(src)], check=True, cwd=str(ROOT))
        rows.append((src.name, src.stat().st_size, target.stat().st_size))
    return rows


def group(name):
    """The group of a module file name: core, lazy, crypto, host or CPython (see
    the module text)."""
    if name in CRYPTO:
        return "crypto"
    if name in LAZY:
        return "lazy"
    if name in HOST:
        return "host"
    if name in CPYTHON:
        return "CPython"
    if name in COAP:
        return "coap"
    if name in THUMB:
        return "thumb"
    return "core"


def package_files(names, ext=".py", prefix="../tinyest/"):
    """mip package.json objects: (file name, object) for everything, for the core
    with its lazily imported modules, for the software crypto, for EST over
    CoAP (package-coap.json: installed beside the others by a board that uses
    a coaps:// server) and for the Thumb assembly (package-thumb.json, for an
    ARM board installing sources; a .mpy build for an ARM core has it in
    package.json)."""
    def obj(sel):
        urls = [["tinyest/" + n[:-3] + ext, prefix + n[:-3] + ext] for n in sel]
        return {"urls": urls, "version": VERSION}

    core = [n for n in names if group(n) in ("core", "lazy")]
    crypto = [n for n in names if n in CRYPTO]
    board = [n for n in names if group(n) in ("core", "lazy", "crypto") or n in THUMB and ext == ".mpy"]
    coap = [n for n in names if n in COAP]
    thumb = [n for n in names if n in THUMB]
    out = [("package.json", obj(board)), ("package-core.json", obj(core)),
           ("package-crypto.json", obj(crypto)), ("package-coap.json", obj(coap))]
    if ext == ".py":
        out.append(("package-thumb.json", obj(thumb)))
    return out


def write_packages(out, rows):
    out = pathlib.Path(out)
    for fname, obj in package_files([r[0] for r in rows], ".mpy", "tinyest/"):
        (out / fname).write_text(json.dumps(obj, indent=1) + "\n")


def main(argv=None):
    ap = argparse.ArgumentParser(prog="build.py", description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=str(ROOT / "build" / "mpy"))
    ap.add_argument("--march", default=None, help="e.g. xtensawin (ESP32), armv6m (RP2040)")
    ap.add_argument("-O", dest="opt", type=int, default=None, help="mpy-cross optimisation level")
    ap.add_argument("--source-lines", action="store_true", help="keep line numbers (tracebacks)")
    ap.add_argument("--package", action="store_true", help="write mip package files beside")
    args = ap.parse_args(argv)
    try:
        rows = build(pathlib.Path(args.out), args.march, args.opt, args.source_lines)
        if args.package:
            write_packages(args.out, rows)
    except (OSError, subprocess.CalledProcessError) as e:
        print("build.py: %s" % e, file=sys.stderr)
        return 2
    totals = {"core": 0, "lazy": 0, "crypto": 0, "host": 0, "CPython": 0, "coap": 0, "thumb": 0}
    print("%-16s %8s %8s" % ("module", ".py", ".mpy"))
    for name, py, mpy in rows:
        g = group(name)
        print("%-16s %8d %8d%s" % (name, py, mpy, "" if g == "core" else "  (%s)" % g))
        totals[g] += mpy
    core = totals["core"]
    auth = sum(r[2] for r in rows if r[0] == "http_auth.py")
    board = core + totals["lazy"] + totals["crypto"]
    print("core .mpy total: %d bytes (%.1f KiB; %.1f KiB with http_auth.py for an enrollment "
          "with a password); lazy: %.1f KiB; optional crypto: %.1f KiB; all a board may load: "
          "%.1f KiB; host only: %.1f KiB; CPython only: %.1f KiB; EST over CoAP (package-coap.json): %.1f KiB%s"
          % (core, core / 1024, (core + auth) / 1024, totals["lazy"] / 1024,
             totals["crypto"] / 1024, board / 1024, totals["host"] / 1024, totals["CPython"] / 1024,
             totals["coap"] / 1024,
             "; P-256 in Thumb assembly: %.1f KiB" % (totals["thumb"] / 1024) if totals["thumb"] else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
