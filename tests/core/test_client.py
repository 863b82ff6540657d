"""EstClient pieces that need no network: /csrattrs parsing and applying,
the CSR key extraction, redirect origin checks, fingerprints, arguments."""

import binascii

from _t import raises, vector

from tinyest import client, csr_build, csr_read, der
from tinyest.client import EstClient
from tinyest.csrattrs import CsrAttrs, apply_csrattrs
from tinyest.errors import DERError, EstError, FormatError, TlsError, VerifyError

# RFC 7030 section 4.5.2's example response body.
RFC7030_CSRATTRS = binascii.a2b_base64(
    "MEEGCSqGSIb3DQEJBzASBgcqhkjOPQIBMQcGBSuBBAAiMBYGCSqGSIb3DQEJDjEJBgcrBgEBAQEWBggqhkjOPQQDAw==")
MAC_ADDRESS = "1.3.6.1.1.1.1.22"


def _attr(oid, *values):
    return der.seq(der.oid(oid), der.set_of(*values))


def test_csrattrs_rfc7030_example():
    a = CsrAttrs(RFC7030_CSRATTRS)
    assert a.challenge_password
    assert a.key_type == "ec" and a.curve == "P-384"
    assert a.hash == "sha384"
    assert [der.oid_str(o) for o in a.extensions] == [MAC_ADDRESS]
    assert [der.oid_str(o) for o in a.oids] == ["1.2.840.113549.1.9.7", "1.2.840.10045.4.3.3"]
    assert not a.empty() and a.unknown == []
    text = "\n".join(a.describe())
    assert "P-384" in text and "sha384" in text and MAC_ADDRESS in text


CSRATTRS_GOOD = [
    ("empty sequence (MAA=)", b"\x30\x00", {"empty": True}),
    ("rsa with size", der.seq(_attr("1.2.840.113549.1.1.1", der.integer(3072)),
                              der.oid("1.2.840.113549.1.1.11")),
     {"key_type": "rsa", "rsa_bits": 3072, "hash": "sha256"}),
    ("ed25519", der.seq(der.oid("1.3.101.112")), {"key_type": "ed25519", "hash": None}),
    ("hash oid alone", der.seq(der.oid("2.16.840.1.101.3.4.2.2")), {"hash": "sha384", "key_type": None}),
    ("p-256 curve", der.seq(_attr("1.2.840.10045.2.1", der.oid("1.2.840.10045.3.1.7"))),
     {"curve": "P-256"}),
    ("unknown attribute", der.seq(_attr("1.2.3.4", der.utf8("x"))), {"unknown": ["1.2.3.4"]}),
    ("bare unknown oid", der.seq(der.oid("1.2.3.5")), {"unknown": ["1.2.3.5"]}),
    ("full extension in request", der.seq(_attr("1.2.840.113549.1.9.14", der.seq(der.seq(
        der.oid("2.5.29.37"), der.octet_string(der.seq(der.oid("1.3.6.1.5.5.7.3.2"))))))),
     {"extensions": ["2.5.29.37"]}),
]


def test_csrattrs_variants():
    for name, data, want in CSRATTRS_GOOD:
        a = CsrAttrs(data)
        for k, v in want.items():
            got = a.empty() if k == "empty" else getattr(a, k)
            if k in ("unknown", "extensions"):
                got = [der.oid_str(o) for o in got]
            assert got == v, "%s: %s = %r" % (name, k, got)


CSRATTRS_BAD = [
    ("not a sequence", b"\x31\x00"),
    ("truncated", RFC7030_CSRATTRS[:-3]),
    ("trailing bytes", RFC7030_CSRATTRS + b"\x00"),
    ("integer item", der.seq(der.integer(5))),
    ("attribute without set", der.seq(der.seq(der.oid("1.2.3")))),
    ("attribute values not a set", der.seq(der.seq(der.oid("1.2.3"), der.seq()))),
    ("extensionRequest value not an oid or extensions", der.seq(_attr("1.2.840.113549.1.9.14",
                                                                    der.integer(1)))),
    ("bad extension", der.seq(_attr("1.2.840.113549.1.9.14", der.seq(der.seq(der.oid("2.5.29.37")))))),
    ("too many items", der.seq(*[der.oid("1.2.3.%d" % i) for i in range(70)])),
    ("bad oid", b"\x30\x03\x06\x01\x80"),
]


def test_csrattrs_bad():
    for name, data in CSRATTRS_BAD:
        try:
            CsrAttrs(data)
        except (DERError, FormatError):
            continue
        except Exception as e:  # only library errors may escape
            raise AssertionError("%s: %r" % (name, e))
        raise AssertionError(name)


class Signer:
    """A fixed signer (the signature is not checked here)."""

    def __init__(self, spki, alg):
        self.spki = spki
        self.alg = alg

    def public_key_der(self):
        return self.spki

    def algorithm_der(self):
        return self.alg

    def sign(self, data):
        return der.seq(der.integer(1), der.integer(1))


P256_SPKI = vector("keys_p256_spki.der")
P384_SPKI = vector("keys_p384_spki.der")
ECDSA_SHA256 = der.seq(der.oid("1.2.840.10045.4.3.2"))
ECDSA_SHA384 = der.seq(der.oid("1.2.840.10045.4.3.3"))


def test_apply_csrattrs():
    from tinyest import csr

    a = CsrAttrs(RFC7030_CSRATTRS)
    b = csr_build.CsrBuilder().subject([("CN", "dev")])
    mac = der.octet_string(b"\x00\x11\x22\x33\x44\x55")
    signer = Signer(P384_SPKI, ECDSA_SHA384)
    b2, missing = apply_csrattrs(b, a, {"challengePassword": "otp-1", MAC_ADDRESS: mac}, signer)
    assert missing == []
    req = csr_read.Csr(b2.sign(signer))
    assert req.challenge_password == "otp-1"
    assert req.extension(der.encode_oid(MAC_ADDRESS)) == (False, mac)
    # Nothing supplied, and a P-256/SHA-256 signer.
    b3, missing = apply_csrattrs(b, a, None, Signer(P256_SPKI, ECDSA_SHA256))
    names = [m[0] for m in missing]
    assert names == ["challengePassword", MAC_ADDRESS, "curve", "hash"], missing
    req = csr_read.Csr(b3.sign(signer))
    assert req.challenge_password is None and req.extensions == []
    # Without a signer the key and hash requests cannot be checked.
    assert apply_csrattrs(b, a, {"challengePassword": "x", MAC_ADDRESS: mac})[1] == [
        ("key", "no signer given to check the requested key and hash")]


def test_apply_full_extension_and_unknown():
    from tinyest import csr

    eku = der.seq(der.oid("1.3.6.1.5.5.7.3.2"))
    data = der.seq(_attr("1.2.840.113549.1.9.14", der.seq(der.seq(der.oid("2.5.29.37"),
                                                                   der.octet_string(eku)))),
                   der.oid("1.2.3.4"))
    a = CsrAttrs(data)
    b = csr_build.CsrBuilder().subject([("CN", "dev")])
    b2, missing = apply_csrattrs(b, a)
    assert missing == [("1.2.3.4", "not understood and no value supplied")]
    req = csr_read.Csr(b2.sign(Signer(P256_SPKI, ECDSA_SHA256)))
    assert req.extension(der.encode_oid("2.5.29.37")) == (False, eku)
    b3, missing = apply_csrattrs(b, a, {"1.2.3.4": der.utf8("v")})
    assert missing == []
    req = csr_read.Csr(b3.sign(Signer(P256_SPKI, ECDSA_SHA256)))
    assert req.attribute(der.encode_oid("1.2.3.4")) == [der.utf8("v")]
    # A builder already holding the extension: reported, not raised.
    b4 = b.ext_key_usage("serverAuth")
    assert [m[0] for m in apply_csrattrs(b4, a)[1]] == ["2.5.29.37", "1.2.3.4"]


def test_csr_spki():
    from tinyest import csr

    data = vector("csr_p256_cryptography.der")
    assert client.csr_spki(data) == csr_read.Csr(data).public_key_der
    for bad in (b"", b"\x30\x00", data[:-1], data + b"\x00", b"\x02\x01\x00"):
        raises(FormatError, client.csr_spki, bad)


def test_same_origin():
    c = EstClient("est.example", 8443, trust=[])
    d = EstClient("::1", 443, trust=[])
    table = [
        (c, "/.well-known/est/x", "/.well-known/est/x"),
        (c, "https://est.example:8443/a", "/a"),
        (c, "HTTPS://EST.EXAMPLE:8443", "/"),
        (c, "https://est.example/a", None),
        (c, "https://est.example:443/a", None),
        (c, "https://evil.example:8443/a", None),
        (c, "https://est.example:8443.evil/a", None),
        (c, "http://est.example:8443/a", None),
        (c, "//evil.example/a", None),
        (c, "relative/path", None),
        (c, "", None),
        (c, None, None),
        (d, "https://[::1]/x", "/x"),
        (d, "https://[::1]:443/x", "/x"),
        (d, "https://::1/x", None),
    ]
    from tinyest.client_rare import same_origin

    for cl, loc, want in table:
        assert same_origin(cl, loc) == want, (loc, same_origin(cl, loc))


def test_fingerprint():
    # read by catrust when the /cacerts answer is checked (a device's bootstrap loads it then)
    from tinyest.catrust import fingerprint

    fp = bytes(range(32))
    assert fingerprint(fp) == fp
    assert fingerprint(binascii.hexlify(fp).decode()) == fp
    colons = ":".join(["%02X" % b for b in fp])
    assert fingerprint(colons) == fp
    for bad in (b"\x00" * 31, "zz" * 32, "00" * 33, b""):
        raises(FormatError, fingerprint, bad)


def test_bad_fingerprint_refuses_the_answer():
    # A fingerprint that is not 32 octets is a FormatError, whatever the answer holds
    cl = client.EstClient("est.example")
    for bad in ("zz" * 32, b"\x00" * 31):
        raises(FormatError, cl.accept_cacerts, b"\x30\x00", bad, True)


def test_client_key_checked_at_construction():
    # A wrong key is a FormatError when the client is made, not a TLS failure later
    # (which a caller would take for a network problem).
    from tinyest import ec

    class SecureElement:  # signs, but cannot give its key to TLS
        def public_key_der(self):
            return b""

        def sign(self, data):
            return b""

    cert = vector("x509_ec_leaf.der")
    for bad in (12, b"junk", b"\x30\x05\x02\x01", SecureElement()):
        e = raises(FormatError, EstClient, "h", cert=cert, key=bad)
        if isinstance(bad, SecureElement):
            assert "to_der" in str(e), e
    k = ec.from_secret((5).to_bytes(32, "big"))
    assert EstClient("h", cert=cert, key=k).key == k.to_der()
    assert EstClient("h", cert=cert, key=k.to_der()).key == k.to_der()


def test_arguments():
    for kw in ({"label": ""}, {"label": "a/b"}, {"cert": b"\x30\x00"}, {"key": b"\x30\x00"},
               {"auth": ("a:b", "c")}, {"auth": ("a",)}):
        raises(FormatError, EstClient, "h", 443, **kw)
    raises(FormatError, EstClient, "https://h/", 443)
    c = EstClient("[::1]", 8443, label="iot")
    assert c.host == "::1" and c._path("cacerts") == "/.well-known/est/iot/cacerts"
    assert EstClient("h")._path("csrattrs") == "/.well-known/est/csrattrs"


def test_no_trust_anchor_refused_before_connecting():
    # Nothing listens on loopback port 9: a connection attempt would surface as
    # ConnectError, so TlsError proves the refusal came first.
    c = EstClient("127.0.0.1", 9, trust=[], timeout=0.1)
    e = raises(EstError, c.simpleenroll, vector("csr_p256_cryptography.der"))
    assert isinstance(e, TlsError), e


def _count_signature_checks():
    from tinyest import keys

    real = keys.verify
    calls = [0]

    def counting(*a):
        calls[0] += 1
        return real(*a)

    keys.verify = counting
    return calls, lambda: setattr(keys, "verify", real)


def test_hostile_cacerts_loop_costs_a_bounded_number_of_signature_checks():
    # The genuine root (its fingerprint matches) plus 15 P-384 CA certificates of
    # the root's name signing each other in a loop (tests/vectors/make_cacerts_loop.py).
    from tinyest import pkcs7, pkcs7_write, x509

    data = vector("cacerts_loop.der")
    certs = [bytes(c) for c in pkcs7.certificates(data)]
    root = x509.Certificate(certs[0])
    calls, restore = _count_signature_checks()
    try:
        cl = EstClient("127.0.0.1", trust=[], now=False)
        e = raises(VerifyError, cl.accept_cacerts, data, root.fingerprint(), True)
        assert "signature checks" in str(e), e
        assert calls[0] <= x509.MAX_SIGS, calls[0]
        assert cl.trust == [] and cl.ca_certs == []
        # Too many certificates: refused before any signature is checked.
        calls[0] = 0
        big = pkcs7_write.encode_certs_only(certs * 4)
        e = raises(VerifyError, cl.accept_cacerts, big, root.fingerprint(), True)
        assert "limit" in str(e) and calls[0] == 0, (e, calls[0])
        # The genuine root alone is accepted, with one self-signature check.
        calls[0] = 0
        assert cl.accept_cacerts(pkcs7_write.encode_certs_only(certs[:1]), root.fingerprint(),
                                 True) == certs[:1]
        assert calls[0] == 1 and cl.trust == certs[:1], calls[0]
    finally:
        restore()
