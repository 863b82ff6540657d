"""The device's steps on an emulated RP2040 (MicroPython's own RPI_PICO firmware
v1.28.0 in rp2040js, ../shared/tools/rp2) side by side with the same steps on
the x86 unix port: cycles, ms at 125 MHz, heap free, and the ratio.

    python bench/bench_rp2.py [--unix PATH] [--runs N]

Steps: the big-integer operations every field multiplication is made of (a
product, its reduction mod p, an addition, a small multiple: the arithmetic's
floor on this interpreter), the device-path imports, the first key generation of a fresh boot (key
and public key: the comb table is built or loaded here), a warm one, a CSR
signature, verifying a chain with one P-256 signature (leaf issued by the
anchor) and with two (leaf <- intermediate <- anchor), a store commit (an
enrolled set, LittleFS on the board, the host's file system on unix), a warm
key generation and a one-signature verification again with tinyest.ec's
Python loop (on the board the others run P-256's Thumb assembly,
tinyest.ec_thumb, which also has its multiplication timed), and the
whole offline enrollment from a fresh boot (imports, load the store, keygen,
CSR; the host issues the certificate; parse the certs-only PKCS#7, verify the
chain, commit key and certificate). Each of the first seven runs after a
gc.collect(); the enrollment's steps run back to back, as on a device.

The RP2040 figures are the emulator's executed-cycle counter (deterministic;
flash erase/program busy time included, flash-cache misses not, so silicon can
be somewhat slower). The unix figures are time.ticks_us() wall time of one run
(the median of --runs processes), on an interpreter given the same GC heap
size as the board's, by default ../shared/tools/micropython-32 (32-bit like
the RP2040), else the project's ``micropython``.

Prints; never asserts. Host side only (CPython, with cryptography).
"""
import argparse
import os
import pathlib
import shutil
import subprocess
import sys
import tempfile

ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests" / "rp2"))
sys.path.insert(0, str(ROOT))

import pico  # noqa: E402

# Runs on the board and on unix alike. The clock is the emulator's cycle counter
# on rp2 and time.ticks_us() elsewhere.
DEVICE = r"""
import gc, sys, time, binascii
if sys.platform == "rp2":
    import machine
    def _clock():
        lo = machine.mem32[0x40068000] & 0xffffffff
        return ((machine.mem32[0x40068004] & 0xffffffff) << 32) | lo
else:
    def _clock():
        return time.ticks_us()
S = {}

def _step(name, fn, collect=True):
    if collect:
        gc.collect()
    t0 = _clock()
    fn()
    t1 = _clock()
    if collect:
        gc.collect()
    print("@@", name.replace(" ", "_"), t1 - t0, gc.mem_free())

def s_import():
    import tinyest.device, tinyest.store, tinyest.ec, tinyest.csr, tinyest.x509, tinyest.pkcs7, tinyest.keys

def s_keygen():
    from tinyest import ec
    k = ec.generate("P-256")
    k.public_key_der()
    S["key"] = k

def s_csr():
    from tinyest import csr
    S["csr"] = csr.request(S["key"], "bench-0001", ["bench-0001.example"])

def s_verify1():
    from tinyest import x509
    x509.verify_chain(LEAF1, [], [ROOT])

def s_verify2():
    from tinyest import x509
    x509.verify_chain(LEAF2, [INTER], [ROOT])

def _creds(enrolled):
    from tinyest.store import Credentials
    c = Credentials()
    c.config = {"host": "est.example", "port": 443, "cn": "bench-0001"}
    c.trust = [ROOT]
    if enrolled:
        c.key_der = KEY2
        c.chain = [LEAF2, INTER]
    else:
        c.boot_user = "bench-0001"
        c.boot_password = "one-time-password"
    return c

def s_commit():
    from tinyest.store import Store
    Store(STORE).commit(S["creds"])

# The P-256 field's big-integer operations, 100 of each in a loop (an empty
# loop's cycles taken off): what every point doubling and addition is made of.
P = 0xFFFFFFFF00000001000000000000000000000000FFFFFFFFFFFFFFFFFFFFFFFF
A = 0x6B17D1F2E12C4247F8BCE6E563A440F277037D812DEB33A0F4A13945D898C296
B = 0x4FE342E2FE1A7F9B8EE7EB4A7C0F9E162BCE33576B315ECECBB6406837BF51F5

def o_empty(a, b, t, p):
    for _ in range(100):
        pass

def o_mul(a, b, t, p):
    for _ in range(100):
        x = a * b

def o_mod(a, b, t, p):
    for _ in range(100):
        x = t % p

def o_add(a, b, t, p):
    for _ in range(100):
        x = a - b

def o_small(a, b, t, p):
    for _ in range(100):
        x = 3 * a

def ops():
    for name, fn in (("empty", o_empty), ("mul", o_mul), ("mod", o_mod), ("add", o_add), ("small", o_small)):
        gc.collect()
        t0 = _clock()
        fn(A, B, A * B, P)
        t1 = _clock()
        print("@@", "op_" + name, t1 - t0, gc.mem_free())

def thumb_op():
    # a multiplication mod p by tinyest.ec_thumb, where it loads (an ARM core)
    try:
        from tinyest import ec_thumb
    except (ImportError, SyntaxError, ValueError):
        return
    st = ec_thumb.state()
    st[256:288] = A.to_bytes(32, "little")
    st[288:320] = B.to_bytes(32, "little")
    prog = bytes((ec_thumb._MUL, 10, 8, 9, 0, 0, 0, 0))
    run = ec_thumb.run
    gc.collect()
    t0 = _clock()
    for _ in range(100):
        run(st, prog, 0, 0)
    t1 = _clock()
    print("@@", "op_thumb", t1 - t0, gc.mem_free())

def python_loop(fn):
    # fn with tinyest.ec's own loop, the Thumb code set aside where it loaded
    from tinyest import ec
    ec._loop(ec._P256)
    was = ec._fast
    ec._fast = None
    try:
        fn()
    finally:
        ec._fast = was

def steps():
    from tinyest.store import Store
    ops()
    _step("import", s_import)
    _step("first keygen", s_keygen)
    _step("warm keygen", s_keygen)
    _step("CSR sign", s_csr)
    _step("verify chain 1 sig", s_verify1)
    _step("verify chain 2 sigs", s_verify2)
    Store(STORE).commit(_creds(False))  # the store exists, as after provisioning
    S["creds"] = _creds(True)
    _step("store commit", s_commit)
    _step("warm keygen, Python loop", lambda: python_loop(s_keygen))
    _step("verify chain 1 sig, Python loop", lambda: python_loop(s_verify1))
    thumb_op()
    S.clear()

def provision(root):
    from tinyest.store import Store
    Store(root).commit(_creds(False))

def e_imports():
    import tinyest.device, tinyest.store, tinyest.ec, tinyest.csr, tinyest.x509, tinyest.pkcs7, tinyest.keys

def e_load():
    from tinyest.store import Store
    S["st"] = Store(STORE2)
    S["c"] = S["st"].load()

def e_csr():
    from tinyest import csr
    cn = S["c"].config["cn"]
    S["csr"] = csr.request(S["key"], cn, [cn + ".example"])

def e_verify():
    from tinyest import pkcs7, x509
    spki = bytes(S["key"].public_key_der())
    certs = [x509.Certificate(bytes(x)) for x in pkcs7.certificates(binascii.a2b_base64(S["body"]))]
    mine = [x for x in certs if bytes(x.public_key_der) == spki][0]
    others = [x for x in certs if x is not mine]
    x509.verify_chain(mine, others, S["c"].trust)
    S["chain"] = [bytes(mine.der)] + [bytes(x.der) for x in others]

def e_commit():
    S["st"].commit_enrollment(S["key"], S["chain"])

def phase_a():
    gc.collect()
    _step("E imports", e_imports, False)
    _step("E load store", e_load, False)
    _step("E keygen", s_keygen, False)
    _step("E CSR", e_csr, False)
    print("@@CSR", binascii.hexlify(S["csr"]).decode())

def phase_b(body):
    S["body"] = body
    _step("E parse + verify chain", e_verify, False)
    _step("E commit", e_commit, False)
    gc.collect()
    print("@@FREE", gc.mem_free())
"""

STEPS = ["import", "first keygen", "warm keygen", "CSR sign", "verify chain 1 sig", "verify chain 2 sigs",
         "store commit", "warm keygen, Python loop", "verify chain 1 sig, Python loop"]
OPS = [("op mul", "a * b (256 x 256 bits)"), ("op mod", "t % p (512-bit t)"), ("op add", "a - b"),
       ("op small", "3 * a"), ("op thumb", "a * b mod p, ec_thumb (ARM only)")]
ENROLL = ["E imports", "E load store", "E keygen", "E CSR", "E parse + verify chain", "E commit"]


def _parse(out, into):
    for line in out.splitlines():
        f = line.split()
        if len(f) == 4 and f[0] == "@@":
            into[f[1].replace("_", " ")] = (int(f[2]), int(f[3]))
        elif len(f) == 2 and f[0] == "@@CSR":
            into["csr"] = bytes.fromhex(f[1])
        elif len(f) == 2 and f[0] == "@@FREE":
            into["free"] = int(f[1])
    return into


def data_code(pk, store, store2):
    return ("ROOT = %r\nINTER = %r\nLEAF1 = %r\nLEAF2 = %r\nKEY2 = %r\nSTORE = %r\nSTORE2 = %r\n"
            % (pk["root"], pk["inter"], pk["leaf1"], pk["leaf2"], pk["key2"], store, store2))


def make_pki():
    import pki
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    root = pki.Ca("bench root")
    inter = pki.Ca("bench issuing CA", parent=root)
    k1 = ec.generate_private_key(ec.SECP256R1())
    k2 = ec.generate_private_key(ec.SECP256R1())
    key2 = k2.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption())
    return {"ca_root": root, "ca_inter": inter, "root": root.der, "inter": inter.der,
            "leaf1": root.issue(k1.public_key(), "bench-leaf-1"), "leaf2": inter.issue(k2.public_key(), "bench-leaf-2"),
            "key2": key2}


def issue(pk, csr_der):
    import pki

    leaf = pk["ca_inter"].issue_for_csr(csr_der)
    return pki.certs_only([leaf, pk["inter"]])


# ---------------------------------------------------------------- the board

def run_board(pk, mpy, work):
    flash = work / "flash.img"
    r = {}
    with pico.Pico(flash) as p:
        p.install_library(mpy)
        p.reboot()  # a fresh boot
        heap = p.value("import gc\nprint(gc.mem_free() + gc.mem_alloc())")
        p.exec(DEVICE + data_code(pk, "/bench", "/est"))
        _parse(p.exec("steps()", timeout=900), r)
        p.exec("provision(STORE2)")
        p.reboot()  # a fresh boot for the enrollment
        p.exec(DEVICE + data_code(pk, "/bench", "/est"))
        _parse(p.exec("phase_a()", timeout=900), r)
        _parse(p.exec("phase_b(%r)" % issue(pk, r["csr"]), timeout=900), r)
    r["heap"] = heap
    return r


# ---------------------------------------------------------------- unix

def unix_exe(given):
    if given:
        return given
    exe = ROOT.parent / "shared" / "tools" / "micropython-32"
    if os.access(exe, os.X_OK):
        return str(exe)
    from host_tools import find_micropython

    return find_micropython()


def run_unix(exe, heap, pk, mpy, work):
    env = dict(os.environ)
    env["MICROPYPATH"] = str(mpy)
    store, store2 = str(work / "bench"), str(work / "est")
    for d in (store, store2):
        shutil.rmtree(d, ignore_errors=True)
    cmd = [exe, "-X", "heapsize=%d" % heap, "-c"]
    head = DEVICE + data_code(pk, store, store2)
    r = {}
    out = subprocess.run(cmd + [head + "steps()\nprovision(STORE2)\n"], env=env, capture_output=True, text=True,
                         timeout=600)
    if out.returncode:
        raise RuntimeError("unix steps failed:\n" + out.stdout + out.stderr)
    _parse(out.stdout, r)
    proc = subprocess.Popen(cmd + [head + "phase_a()\nphase_b(sys.stdin.readline().strip())\n"], env=env,
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    lines = []
    while True:
        line = proc.stdout.readline()
        if not line:
            raise RuntimeError("unix enrollment failed:\n" + "".join(lines) + proc.stderr.read())
        lines.append(line)
        if line.startswith("@@CSR"):
            break
    _parse("".join(lines), r)
    rest, err = proc.communicate(issue(pk, r["csr"]) + "\n", timeout=600)
    if proc.returncode:
        raise RuntimeError("unix enrollment failed:\n" + rest + err)
    _parse(rest, r)
    return r


def median(xs):
    xs = sorted(xs)
    return xs[len(xs) // 2] if len(xs) % 2 else (xs[len(xs) // 2 - 1] + xs[len(xs) // 2]) / 2


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--unix", help="the unix MicroPython to compare with (default: ../shared/tools/micropython-32)")
    ap.add_argument("--runs", type=int, default=5, help="unix runs (median; default 5)")
    args = ap.parse_args(argv)
    reason = pico.missing()
    if reason:
        print("bench_rp2: %s" % reason)
        return 0
    exe = unix_exe(args.unix)
    work = pathlib.Path(tempfile.mkdtemp(prefix="bench_rp2-"))
    try:
        mpy = work / "mpy"
        pico.build_mpy(mpy)
        pk = make_pki()
        print("RP2040: MicroPython v1.28.0 RPI_PICO firmware in rp2040js (%s), 125 MHz; library as .mpy in "
              "/lib/tinyest" % pico.TOOLS)
        board = run_board(pk, mpy, work)
        print("unix:   %s, -X heapsize=%d (the board's GC heap), median of %d runs" % (exe, board["heap"], args.runs))
        runs = [run_unix(exe, board["heap"], pk, mpy, work) for _ in range(args.runs)]
    finally:
        shutil.rmtree(work, ignore_errors=True)

    def unix_us(name):
        return median([u[name][0] for u in runs])

    print()
    print("%-34s %13s %10s %11s %10s %11s %9s" % ("step", "RP2040 cycles", "RP2040 ms", "heap free",
                                                  "unix ms", "heap free", "RP2040/unix"))
    rows = [(n, n) for n in STEPS] + [(n, n[2:]) for n in ENROLL]
    for i, (key, label) in enumerate(rows):
        if i == len(STEPS):
            print("whole offline enrollment from a fresh boot, by step:")
        cyc, free = board[key]
        ms = cyc * 1000.0 / pico.CLOCK_HZ
        ums = unix_us(key) / 1000.0
        ufree = median([u[key][1] for u in runs])
        print("%-34s %13d %10.1f %11d %10.2f %11d %8.0fx" % (("  " if key in ENROLL else "") + label, cyc, ms, free,
                                                            ums, ufree, ms / ums if ums else float("nan")))
    print("P-256 field operations (each, an empty loop's share taken off):")
    for key, label in OPS:
        cyc = (board[key][0] - board["op empty"][0]) / 100.0
        if key not in runs[0]:  # the Thumb code: on the board only
            print("  %-32s %13.0f %10.3f" % (label, cyc, cyc * 1000.0 / pico.CLOCK_HZ))
            continue
        us = (unix_us(key) - unix_us("op empty")) / 100.0
        print("  %-32s %13.0f %10.3f %11s %10.5f %11s %8.0fx" % (label, cyc, cyc * 1000.0 / pico.CLOCK_HZ, "",
                                                              us / 1000.0, "", cyc * 1e6 / pico.CLOCK_HZ / us
                                                              if us > 0 else float("nan")))
    total = sum(board[k][0] for k in ENROLL)
    ms = total * 1000.0 / pico.CLOCK_HZ
    ums = median([sum(u[k][0] for k in ENROLL) for u in runs]) / 1000.0
    print("%-34s %13d %10.1f %11d %10.2f %11d %8.0fx" % ("whole offline enrollment", total, ms, board["free"],
                                                        ums, median([u["free"] for u in runs]), ms / ums))
    print()
    print("heap free: after the step and a gc.collect(); the enrollment's steps: as the step ended (no "
          "collection), and its total line: after a gc.collect() at its end, everything it made still referenced. "
          "GC heap %d B on both." % board["heap"])
    return 0


if __name__ == "__main__":
    sys.exit(main())
