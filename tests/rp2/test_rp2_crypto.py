"""Known answers on the RP2040 firmware: RFC 6979 A.2.5 P-256 signatures, a CSR
made with the RFC key, and the CSR pyca/cryptography wrote (tests/vectors);
and the sign/verify cycle budgets, measured on the same fresh boot.

One boot, with the device path imported first (pico.DEVICE_IMPORTS: a device signs
in that state, and the heap left free drives the garbage collector and so the
speed of the arithmetic). The first signature of that boot is the first EC operation in it (the
comb table is built there), so "first vs warm" compares like with like.
Vectors come from tests/core (test_ec.py, test_csr.py), the expected answers
from the RFC, from CPython running the same library, and from cryptography.
"""
import hashlib
import pathlib

import pytest
from cryptography import x509 as cx509
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

import pico
import test_csr  # tests/core: the CSR of the RFC 6979 key
import test_ec  # tests/core: RFC 6979 A.2.5 vectors

VECTORS = pathlib.Path(__file__).resolve().parents[1] / "vectors"

# Budgets (ms at 125 MHz).
WARM_SIGN_MS = 250
VERIFY_MS = 700
FIRST_OVER_WARM = 2.0


def _builder():
    from tinyest.csr_build import CsrBuilder

    return (CsrBuilder().subject([("O", "Acme"), ("CN", "dev-1")])
            .dns("dev-1.acme.example").ip("::1").ext_key_usage("clientAuth").challenge_password("tls-unique"))


_BUILDER_CODE = """
from tinyest.csr_build import CsrBuilder
b = (CsrBuilder().subject([("O", "Acme"), ("CN", "dev-1")])
     .dns("dev-1.acme.example").ip("::1").ext_key_usage("clientAuth").challenge_password("tls-unique"))
"""

# OIDs and other octets as hex text: the board prints the summary, the host reads it back.
_PARSE_SUMMARY = """
def summary(p):
    from binascii import hexlify, unhexlify
    hx = lambda b: hexlify(bytes(b)).decode()
    ext = lambda e: None if e is None else (e[0], hx(e[1]))
    san = None if p.san is None else [(k, v if isinstance(v, str) else hx(v)) for k, v in p.san]
    return (hx(p.public_key_der), hx(p.signature_oid), p.subject_rdns, p.subject,
            p.challenge_password, san, ext(p.extension(unhexlify("551d0f"))),
            ext(p.extension(unhexlify("551d25"))), ext(p.extension(unhexlify("551d13"))),
            [hx(o) for o, _ in p.attributes])
"""


def _summary_on_host(p):
    ns = {}
    exec(_PARSE_SUMMARY, ns)
    return ns["summary"](p)


@pico.job("kat")
def run_kat(flash):
    """Every known answer on one fresh boot: the results."""
    r = {}
    with pico.Pico(flash) as p:
        r["free_boot"] = p.mem_free()
        # the state a device signs in: its whole path imported (the heap it leaves
        # free drives the garbage collector, hence the speed of the arithmetic)
        r["import"] = p.timed(pico.DEVICE_IMPORTS + "from tinyest import ec, hashes\nimport binascii")
        p.exec("k = ec.from_secret(%d)" % test_ec.P256_X)
        sha256 = [v for v in test_ec.RFC6979_P256 if v[0] == "sha256"]
        first, warm = sha256[0], sha256[1]
        r["first"] = p.timed("s = k.sign(%r)\nprint(binascii.hexlify(s).decode())" % first[1])
        r["warm"] = p.timed("s = k.sign(%r)\nprint(binascii.hexlify(s).decode())" % warm[1])
        r["sigs"] = {(first[0], first[1]): bytes.fromhex(r["first"].out.strip()),
                     (warm[0], warm[1]): bytes.fromhex(r["warm"].out.strip())}
        # verified in the same state: a P-256 device never loads the pure SHA-384/512
        # of the vectors below, whose module left in the heap slows the arithmetic
        # (a fuller heap: more collections) by about a tenth
        r["public"] = p.timed("u = k.public_point()\nprint(binascii.hexlify(u).decode())")
        sig = r["sigs"][("sha256", b"sample")]
        r["verify"] = p.timed("print(ec.verify('P-256', u, %r, %r))" % (hashlib.sha256(b"sample").digest(), sig))
        for hname, msg, _, _, _ in test_ec.RFC6979_P256:
            if (hname, msg) in r["sigs"]:
                continue
            # the longer digests are made by the library's own SHA-384/512 on the board
            out = p.exec("d = hashes.new(%r, %r).digest()\nprint(binascii.hexlify(k.sign_digest(d)).decode())"
                         % (hname, msg))
            r["sigs"][(hname, msg)] = bytes.fromhex(out.strip())
        d512 = hashlib.sha512(b"test").digest()
        r["verify_512"] = p.eval("ec.verify('P-256', u, %r, %r)" % (d512, r["sigs"][("sha512", b"test")]))
        r["verify_wrong"] = p.eval("ec.verify('P-256', u, %r, %r)" % (hashlib.sha256(b"samplf").digest(), sig))
        # the CSR of the RFC key (warm), and the CSR cryptography wrote
        r["csr"] = p.timed(_BUILDER_CODE + "c = b.sign(k)\nprint(binascii.hexlify(c).decode())")
        p.exec("from tinyest import csr_read\n" + _PARSE_SUMMARY)
        vec = (VECTORS / "csr_p256_cryptography.der").read_bytes()
        r["csr_parse"] = p.timed("q = csr_read.Csr(%r)\nq.verify()\nprint(repr(summary(q)))" % vec)
        r["free_end"] = p.mem_free()
    return r


@pytest.fixture(scope="module")
def kat(rp2_jobs):
    r = rp2_jobs.result("kat")
    pico.figure("crypto", "heap free after boot", "%d B" % r["free_boot"])
    for name, label in (("import", "device-path imports"), ("first", "first P-256 sign of a fresh boot"),
                        ("warm", "warm P-256 sign"), ("public", "public point of the RFC key"),
                        ("verify", "P-256 verify"), ("csr", "CSR build + sign (warm)"),
                        ("csr_parse", "CSR parse + verify (cryptography's)")):
        t = r[name]
        pico.figure("crypto", label, "%11d cycles %9.1f ms  heap free %d B" % (t.cycles, t.ms, t.free))
    pico.figure("crypto", "first / warm sign", "%.2fx" % (r["first"].cycles / r["warm"].cycles))
    return r


def test_rfc6979_p256_known_answers(kat):
    for hname, msg, _, rr, ss in test_ec.RFC6979_P256:
        want = encode_dss_signature(int(rr, 16), int(ss, 16))
        assert kat["sigs"][(hname, msg)] == want, (hname, msg)
    assert bytes.fromhex(kat["public"].out.strip()) == test_ec.P256_U
    assert kat["verify"].out.strip() == "True"
    assert kat["verify_512"] is True  # a 64-octet digest, truncated to the curve size
    assert kat["verify_wrong"] is False


def test_csr_known_answer(kat):
    from tinyest import csr_read, ec

    board = bytes.fromhex(kat["csr"].out.strip())
    # CPython running the same library with the same key gives the same octets (RFC 6979)
    assert board == _builder().sign(ec.from_secret(test_ec.P256_X))
    # an independent reader agrees on the signature, the key and the names
    req = cx509.load_der_x509_csr(board)
    assert req.is_signature_valid
    assert req.public_key().public_numbers().x == int(test_csr.UX, 16)
    assert req.subject.rfc4514_string() == "CN=dev-1,O=Acme"
    san = req.extensions.get_extension_for_class(cx509.SubjectAlternativeName).value
    assert san.get_values_for_type(cx509.DNSName) == ["dev-1.acme.example"]
    # the board reads cryptography's CSR as CPython does, and verifies its signature
    vec = (VECTORS / "csr_p256_cryptography.der").read_bytes()
    import ast

    got = ast.literal_eval(kat["csr_parse"].out.strip())
    assert list(got) == list(_summary_on_host(csr_read.Csr(vec)))
    assert bytes.fromhex(got[0]) == test_csr.SPKI
    assert got[4] == "s3cret"
    assert got[5] == [("dns", "sensor-7.example.net"), ("ip", "c6336407"),
                      ("ip", "20010db8000000000000000000000007"),
                      ("uri", "urn:dev:sensor-7"), ("email", "ops@example.net")]


def test_sign_verify_figures_are_measured(kat):
    """Always on: the figures are there and sane (budgets below)."""
    for name in ("first", "warm", "verify", "csr", "csr_parse"):
        assert kat[name].cycles > 0
    assert kat["first"].cycles >= kat["warm"].cycles * 0.9


def test_budget_first_sign_at_most_twice_a_warm_one(kat):
    ratio = kat["first"].cycles / kat["warm"].cycles
    print("first %.1f ms, warm %.1f ms: %.2fx (budget %.1fx)" % (kat["first"].ms, kat["warm"].ms, ratio,
                                                                FIRST_OVER_WARM))
    assert ratio <= FIRST_OVER_WARM


def test_budget_warm_sign(kat):
    print("warm P-256 sign %.1f ms (budget %d ms)" % (kat["warm"].ms, WARM_SIGN_MS))
    assert kat["warm"].ms <= WARM_SIGN_MS


def test_budget_verify(kat):
    print("P-256 verify %.1f ms (budget %d ms)" % (kat["verify"].ms, VERIFY_MS))
    assert kat["verify"].ms <= VERIFY_MS
