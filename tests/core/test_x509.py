"""tinyest.x509 on both runtimes. The expected values come from asn1crypto
(x509_expected.json, written by tests/vectors/make_x509.py)."""

import json

from _t import h, raises, vector

from tinyest import der, der_extra, hostname, names, pem, x509
from tinyest.errors import DERError, EstError, FormatError, VerifyError

_EXPECTED = None

NB = 1704067200  # 2024-01-01, notBefore of every generated certificate
NA_EE = 1767225600  # 2026-01-01, notAfter of the end-entity certificates
NOW = NB + 86400


def expected():
    global _EXPECTED
    if _EXPECTED is None:
        _EXPECTED = json.loads(str(vector("x509_expected.json"), "utf-8"))
    return _EXPECTED


def cert(name):
    return x509.Certificate(vector("x509_%s.der" % name))


def hexs(b):
    return None if b is None else bytes(b).hex()


# ---------------------------------------------------------------- fields


def test_fields_match_asn1crypto():
    exp = expected()
    assert len(exp) >= 30
    for name in sorted(exp):
        e = exp[name]
        c = cert(name)
        got = {
            "version": c.version,
            "serial": str(c.serial),
            "not_before": c.not_before,
            "not_after": c.not_after,
            "subject": c.subject,
            "issuer": c.issuer,
            "key_type": c.key_type,
            "curve": c.curve,
            "key_bits": c.key_bits,
            "sig_alg": der.oid_str(der.top(c.sig_alg).read_oid()),
            "self_issued": c.is_self_issued(),
            "fingerprint": c.fingerprint().hex(),
            "extensions": [[der.oid_str(o), crit] for o, crit, _ in c.extensions],
            "basic_constraints": None if c.basic_constraints is None else list(c.basic_constraints),
            "key_usage": c.key_usage,
            "ext_key_usage": None if c.ext_key_usage is None else [der.oid_str(o) for o in c.ext_key_usage],
            "san": None if c.san is None else [
                [k, v if k in ("dns", "uri", "email") else bytes(v).hex()] for k, v in c.san],
            "ski": hexs(c.ski),
            "aki": hexs(c.aki),
            "unknown_critical": [der.oid_str(o) for o in c.unknown_critical],
        }
        for k in got:
            assert got[k] == e[k], "%s.%s: %r != %r" % (name, k, got[k], e[k])


def test_input_types_and_zero_copy():
    raw = vector("x509_ec_leaf.der")
    for data in (raw, bytearray(raw), memoryview(raw), memoryview(b"xx" + raw)[2:]):
        c = x509.Certificate(data)
        assert c.subject == "CN=dev-1,O=Example"
        assert isinstance(c.der, memoryview) and isinstance(c.tbs, memoryview)
        assert isinstance(c.subject_der, memoryview) and isinstance(c.public_key_der, memoryview)
    buf = bytearray(raw)
    c = x509.Certificate(buf)
    before = bytes(c.signature)
    buf[len(buf) - 1] ^= 1  # the views follow the caller's buffer: nothing was copied
    assert bytes(c.signature) != before and bytes(c.signature)[:-1] == before[:-1]
    assert bytes(c.der) == bytes(buf)


def test_elements_reassemble_the_certificate():
    for name in ("ec_leaf", "rsa4096_root", "ed25519_root", "v1", "names"):
        raw = vector("x509_%s.der" % name)
        c = x509.Certificate(raw)
        again = der.seq(bytes(c.tbs), bytes(c.sig_alg), der.bit_string(bytes(c.signature)))
        assert again == raw, name
        assert bytes(c.tbs) in raw and bytes(c.issuer_der) in bytes(c.tbs)
        assert bytes(c.subject_der) in bytes(c.tbs) and bytes(c.public_key_der) in bytes(c.tbs)


def test_unique_ids():
    f, a, s = _split(vector("x509_ec_leaf.der"))
    c = x509.Certificate(_join(f[:7] + [der_extra.implicit(1, b"\x00\xab"), der_extra.implicit(2, b"\x04\xf0")] + f[7:], a, s))
    assert c.subject == "CN=dev-1,O=Example" and len(c.extensions) == 6


def test_versions():
    assert cert("v1").version == 1
    assert cert("v1").extensions == []
    # "A0 03 02 01 00": the DEFAULT written out. A DER violation, tolerated as v1.
    raw = vector("x509_v1_explicit.der")
    assert h("a0 03 02 01 00") in raw
    assert x509.Certificate(raw).version == 1
    assert cert("ec_root").version == 3


def test_serials():
    assert cert("serial_neg").serial == -0x1234567
    assert cert("serial_zero").serial == 0
    assert cert("serial20").serial == 0x7F0102030405060708090A0B0C0D0E0F10111213
    assert cert("serial21").serial == (0x80 << 152) | 0x0102030405060708090A0B0C0D0E0F1011121314
    assert cert("ec_leaf").serial == 0x1001


def test_times():
    c = cert("y2050")
    assert c.not_before == der.timegm(2049, 12, 31, 23, 59, 59)  # UTCTime 491231235959Z
    assert c.not_after == der.timegm(2050, 1, 1)  # GeneralizedTime 20500101000000Z
    assert b"\x18\x0f20500101000000Z" in vector("x509_y2050.der")
    c = cert("forever")
    assert b"\x18\x0f99991231235959Z" in vector("x509_forever.der")
    assert c.not_after == 253402300799
    assert c.not_after == 253402300799
    c = cert("ec_leaf")
    assert (c.not_before, c.not_after) == (NB, NA_EE)


def test_names():
    assert cert("t61").subject == "2.5.4.45=#0303000102,CN=t61+OU=OU1,O=M\u00fcller & S\u00f6hne,C=DE"
    s = cert("names").subject
    assert s.startswith("2.5.4.97=VATDE-1,ST=\\#hash\\ ,L=A\\, B \\+ C,UID=u17,DC=example,"), s
    assert s.endswith("CN=dev-2+serialNumber=SN0042,OU=\u00dcnits \U0001F600,O=B\u00e4ckerei,C=DE"), s
    assert cert("ec_leaf").issuer == "CN=tinyest EC Issuing CA,O=Example"
    assert cert("ec_int").issuer_der == cert("ec_root").subject_der


def test_attr_names():
    for dotted, short in (("2.5.4.3", "CN"), ("2.5.4.6", "C"), ("2.5.4.7", "L"), ("2.5.4.8", "ST"),
                          ("2.5.4.10", "O"), ("2.5.4.11", "OU"), ("2.5.4.5", "serialNumber"),
                          ("1.2.840.113549.1.9.1", "emailAddress"), ("0.9.2342.19200300.100.1.1", "UID"),
                          ("0.9.2342.19200300.100.1.25", "DC"), ("2.5.4.9", "STREET"),
                          ("2.5.4.42", "GN"), ("2.5.4.4", "SN"), ("2.5.4.12", "title"),
                          ("2.5.4.97", "2.5.4.97")):
        assert names.attr_name(der.encode_oid(dotted)) == short, dotted
        if short[0] > "9":
            assert names.attr_info(short.lower())[1] == der.encode_oid(dotted), short


def test_oid_constants():
    table = (
        (x509.OID_KEY_USAGE, "2.5.29.15"), (x509.OID_SAN, "2.5.29.17"),
        (x509.OID_BASIC_CONSTRAINTS, "2.5.29.19"), (x509.OID_EXT_KEY_USAGE, "2.5.29.37"),
    )
    for value, dotted in table:
        assert value == der.encode_oid(dotted), dotted


def test_extensions_views():
    c = cert("ec_root")
    assert c.basic_constraints == (True, None)
    assert c.key_usage == 0x20 | 0x40  # keyCertSign, cRLSign
    assert cert("ec_int").basic_constraints == (True, 0)
    c = cert("ec_leaf")
    assert c.key_usage == 1  # digitalSignature
    assert c.ext_key_usage == [der.encode_oid("1.3.6.1.5.5.7.3.2")]  # id-kp-clientAuth
    assert c.san == [("dns", "dev-1.example.com")]
    assert c.aki == cert("ec_int").ski and len(c.ski) == 20
    assert c.unknown_critical == []
    crit, value = c.extension(x509.OID_BASIC_CONSTRAINTS)
    assert crit is True and bytes(value) == h("3000")
    assert c.extension(der.encode_oid("2.5.29.30")) is None  # nameConstraints
    c = cert("san")
    kinds = [k for k, _ in c.san]
    assert kinds == ["dns", "dns", "ip", "ip", "uri", "email", "other", "other", "other"], kinds
    assert c.san[2] == ("ip", bytes((192, 0, 2, 7)))
    assert c.san[3] == ("ip", h("20010db8000000000000000000000001"))
    c = cert("unknown_crit")
    assert c.unknown_critical == [der.encode_oid("1.3.6.1.4.1.55555.1")]
    assert len(c.extensions) == 3
    c = cert("critfalse")  # critical FALSE written out: tolerated
    assert c.extensions[0][1] is False and c.basic_constraints == (False, None)
    assert cert("v1").basic_constraints is None and cert("v1").san is None


def test_keys():
    table = (
        ("ec_root", "ec", "P-384", 384), ("ec_leaf", "ec", "P-256", 256),
        ("rsa4096_root", "rsa", None, 4096), ("rsa2048_root", "rsa", None, 2048),
        ("ed25519_root", "ed25519", None, 256),
    )
    for name, kind, curve, bits in table:
        c = cert(name)
        assert (c.key_type, c.curve, c.key_bits) == (kind, curve, bits), name
    assert x509.spki_info(vector("keys_p521_spki.der")) == ("ec", "P-521", 521)
    assert x509.spki_info(vector("keys_ed448_spki.der")) == ("1.3.101.113", None, None)
    leaf = cert("ec_leaf")
    assert leaf.public_key_der == cert("rsa_leaf").public_key_der  # same device key
    assert leaf.public_key_der != cert("ec_int").public_key_der


def test_load_der_and_pem():
    raw = vector("x509_ec_root.der")
    text = pem.encode(raw, "CERTIFICATE")
    for data in (raw, text, text.encode()):
        assert bytes(x509.load(data).der) == raw
    two = text + pem.encode(vector("x509_ec_int.der"), "CERTIFICATE")
    got = x509.load_all("junk before\n" + two)
    assert [c.subject for c in got] == ["CN=tinyest EC Root,O=Example,C=DE",
                                        "CN=tinyest EC Issuing CA,O=Example"]
    assert len(x509.load_all(raw)) == 1
    raises(FormatError, x509.load, "no pem here")
    raises(FormatError, x509.Certificate, text)


# ---------------------------------------------------------------- hostile input


def _split(raw):
    """(tbs field elements, sig_alg, signature) of a certificate."""
    r = der.top(raw)
    t = r.enter(der.SEQUENCE)
    fields = []
    while not t.empty():
        fields.append(bytes(t.read_element()))
    sig_alg = bytes(r.read_element())
    sig = bytes(r.read_bits())
    return fields, sig_alg, sig


def _join(fields, sig_alg, sig):
    return der.seq(der.seq(*fields), sig_alg, der.bit_string(sig))


def _ext(dotted, value, critical=None):
    parts = [der.oid(dotted)]
    if critical is not None:
        parts.append(der.boolean(critical))
    return der.seq(*(parts + [der.octet_string(value)]))


def _with_exts(exts, base="ec_leaf"):
    f, a, s = _split(vector("x509_%s.der" % base))
    return _join(f[:7] + [der.explicit(3, der.seq(*exts))], a, s)


def _hostile():
    raw = vector("x509_ec_leaf.der")
    f, a, s = _split(raw)
    v1f, v1a, v1s = _split(vector("x509_v1.der"))
    bc = _ext("2.5.29.19", der.seq(), True)
    name_of = lambda *atvs: der.seq(*[der.set_of(x) for x in atvs])
    atv = lambda tag, v: der.seq(der.oid("2.5.4.3"), der.tlv(tag, v))
    ski = _ext("2.5.29.14", der.octet_string(b"k"))
    alg256 = der.seq(der.oid("1.2.840.10045.4.3.2"))
    alg384 = der.seq(der.oid("1.2.840.10045.4.3.3"))
    return [
        ("empty", b"", DERError),
        ("truncated by one", raw[:-1], DERError),
        ("truncated to half", raw[: len(raw) // 2], DERError),
        ("header only", raw[:4], DERError),
        ("trailing byte", raw + b"\x00", DERError),
        ("trailing certificate", raw + raw, DERError),
        ("wrong outer tag", b"\x31" + raw[1:], DERError),
        ("indefinite length", b"\x30\x80" + raw[4:] + b"\x00\x00", DERError),
        ("non-minimal length", b"\x30\x83\x00" + raw[2:], DERError),
        ("huge claimed length", b"\x30\x84\x7f\xff\xff\xff" + raw[4:], DERError),
        ("too large", der.seq(b"\x04\x82\x40\x00" + bytes(16384)), FormatError),
        ("signature with unused bits", der.seq(der.seq(*f), a, der.bit_string(s[:-1] + b"\x80", 7)),
         DERError),
        ("missing signature", der.seq(der.seq(*f), a), DERError),
        ("inner/outer alg mismatch", _join(f[:2] + [alg384] + f[3:], alg256, s), FormatError),
        ("outer alg differs by params", _join(f, der.seq(der.oid("1.2.840.10045.4.3.2"), der.null()), s),
         FormatError),
        ("version 4", _join([der.explicit(0, der.integer(3))] + f[1:], a, s), FormatError),
        ("negative version", _join([der.explicit(0, der.integer(-1))] + f[1:], a, s), FormatError),
        ("version with trailing", _join([der.explicit(0, der.integer(2), der.null())] + f[1:], a, s),
         DERError),
        ("extensions in v1", _join(v1f + [der.explicit(3, der.seq(bc))], v1a, v1s), FormatError),
        ("unique id in v1", _join(v1f + [der_extra.implicit(1, b"\x00\x01")], v1a, v1s), FormatError),
        ("empty unique id", _join(f[:7] + [der_extra.implicit(1, b"")] + f[7:], a, s), DERError),
        ("unique id bad unused bits", _join(f[:7] + [der_extra.implicit(2, b"\x08\x00")] + f[7:], a, s), DERError),
        ("unique ids swapped", _join(f[:7] + [der_extra.implicit(2, b"\x00"), der_extra.implicit(1, b"\x00")] + f[7:], a, s),
         FormatError),
        ("unknown field after extensions", _join(f + [der.null()], a, s), FormatError),
        ("serial missing", _join(f[:1] + f[2:], a, s), DERError),
        ("serial non-minimal", _join(f[:1] + [h("02020001")] + f[2:], a, s), DERError),
        ("serial too long", _join(f[:1] + [der.integer(1 << 300)] + f[2:], a, s), FormatError),
        ("bad month", _join(f[:4] + [der.seq(der.tlv(der.UTC_TIME, b"241301000000Z"),
                                             der.tlv(der.UTC_TIME, b"250101000000Z"))] + f[5:], a, s),
         DERError),
        ("time without Z", _join(f[:4] + [der.seq(der.tlv(der.UTC_TIME, b"2401010000000"),
                                                  der.tlv(der.UTC_TIME, b"250101000000Z"))] + f[5:], a, s),
         DERError),
        ("time with fraction", _join(f[:4] + [der.seq(der.tlv(der.GENERALIZED_TIME, b"20240101000000.5Z"),
                                                      der.tlv(der.UTC_TIME, b"250101000000Z"))] + f[5:],
                                     a, s), DERError),
        ("one time only", _join(f[:4] + [der.seq(der.tlv(der.UTC_TIME, b"240101000000Z"))] + f[5:], a, s),
         DERError),
        ("empty RDN", _join(f[:5] + [der.seq(der.tlv(der.SET))] + f[6:], a, s), FormatError),
        ("bad UTF-8 in name", _join(f[:5] + [name_of(atv(der.UTF8_STRING, b"\xff"))] + f[6:], a, s),
         DERError),
        ("bad PrintableString", _join(f[:5] + [name_of(atv(der.PRINTABLE_STRING, b"a@b"))] + f[6:], a, s),
         DERError),
        ("odd BMPString", _join(f[:5] + [name_of(atv(der.BMP_STRING, b"\x00a\x00"))] + f[6:], a, s),
         DERError),
        ("too many name attributes", _join(f[:5] + [name_of(*[atv(der.UTF8_STRING, b"x")] * 33)] + f[6:],
                                           a, s), FormatError),
        ("name is a SET", _join(f[:5] + [der.tlv(der.SET)] + f[6:], a, s), DERError),
        ("SPKI garbage", _join(f[:6] + [der.seq(der.null())] + f[7:], a, s), DERError),
        ("RSA key not a sequence", _join(f[:6] + [der.seq(der.seq(der.oid("1.2.840.113549.1.1.1"), der.null()),
                                                          der.bit_string(b"\x01\x02"))] + f[7:], a, s),
         DERError),
        ("EC key without curve", _join(f[:6] + [der.seq(der.seq(der.oid("1.2.840.10045.2.1")),
                                                        der.bit_string(b"\x04"))] + f[7:], a, s),
         FormatError),
        ("duplicate extension", _with_exts([ski, ski]), FormatError),
        ("duplicate extension apart", _with_exts([ski, bc, ski]), FormatError),
        ("extension without value", _with_exts([der.seq(der.oid("2.5.29.14"))]), DERError),
        ("extension bad boolean", _with_exts([der.seq(der.oid("2.5.29.19"), b"\x01\x01\x01",
                                                      der.octet_string(der.seq()))]), DERError),
        ("extension trailing", _with_exts([der.seq(der.oid("2.5.29.19"), der.octet_string(der.seq()),
                                                   der.null())]), DERError),
        ("too many extensions", _with_exts([_ext("1.2.3.%d" % i, b"") for i in range(33)]), FormatError),
        ("extensions not wrapped", _join(f[:7] + [der.explicit(3, bc)], a, s), DERError),
        ("extensions trailing", _join(f[:7] + [der.explicit(3, der.seq(bc), der.null())], a, s), DERError),
        ("basicConstraints trailing", _with_exts([_ext("2.5.29.19", der.seq() + b"\x00")]), DERError),
        ("basicConstraints negative pathLen", _with_exts([_ext("2.5.29.19", der.seq(der.boolean(True),
                                                                                  der.integer(-1)))]),
         FormatError),
        ("basicConstraints not a sequence", _with_exts([_ext("2.5.29.19", der.boolean(True))]), DERError),
        ("keyUsage not a bit string", _with_exts([_ext("2.5.29.15", der.octet_string(b"\x80"))]), DERError),
        ("keyUsage 3 octets", _with_exts([_ext("2.5.29.15", der.bit_string(b"\x80\x00\x01"))]), FormatError),
        ("keyUsage padding bits", _with_exts([_ext("2.5.29.15", der.tlv(der.BIT_STRING, b"\x07\x81"))]),
         DERError),
        ("extKeyUsage empty", _with_exts([_ext("2.5.29.37", der.seq())]), FormatError),
        ("extKeyUsage not OIDs", _with_exts([_ext("2.5.29.37", der.seq(der.null()))]), DERError),
        ("extKeyUsage too many", _with_exts([_ext("2.5.29.37", der.seq(*[der.oid("1.2.%d" % i)
                                                                          for i in range(17)]))]),
         FormatError),
        ("SAN ip of 5 octets", _with_exts([_ext("2.5.29.17", der.seq(der_extra.implicit(7, b"\x01\x02\x03\x04\x05")))]),
         FormatError),
        ("SAN dns not IA5", _with_exts([_ext("2.5.29.17", der.seq(der_extra.implicit(2, b"\xc3\xa9")))]), DERError),
        ("SAN too many", _with_exts([_ext("2.5.29.17", der.seq(*[der_extra.implicit(2, b"a")] * 65))]), FormatError),
        ("SAN truncated entry", _with_exts([_ext("2.5.29.17", der.seq(b"\x82\x05ab"))]), DERError),
        ("SKI not an octet string", _with_exts([_ext("2.5.29.14", der.null())]), DERError),
        ("AKI wrong tag", _with_exts([_ext("2.5.29.35", der.seq(der.octet_string(b"k")))]), DERError),
        ("high tag number", _join(f[:5] + [name_of(der.seq(der.oid("2.5.4.3"), b"\x9f\x1f\x00"))] + f[6:],
                                  a, s), DERError),
        ("bad OID in extension", _with_exts([der.seq(der.tlv(der.OID, b"\x2a\x80"),
                                                     der.octet_string(b""))]), DERError),
    ]


def test_hostile_certificates():
    for name, data, exc in _hostile():
        try:
            x509.Certificate(data)
        except exc:
            continue
        except EstError as e:
            raise AssertionError("%s: %s instead of %s (%s)" % (name, type(e).__name__, exc.__name__, e))
        raise AssertionError("%s: accepted" % name)


def test_hostile_mutations_only_raise_est_errors():
    # Flip bits and cut at every 7th position: never anything but EstError.
    raw = vector("x509_san.der")
    for i in range(0, len(raw), 7):
        for data in (raw[:i] + bytes((raw[i] ^ 0x01,)) + raw[i + 1:], raw[:i] + bytes((raw[i] ^ 0x80,)) + raw[i + 1:],
                     raw[:i]):
            try:
                c = x509.Certificate(data)
                c.subject
                c.issuer
            except EstError:
                pass


# ---------------------------------------------------------------- signatures and paths


def test_verify_signed_by():
    exp = expected()
    for name in ("ec_int", "ec_leaf", "rsa_int", "rsa_leaf", "rsa2048_root", "ed25519_root",
                 "ed25519_leaf", "t61", "v1_explicit", "serial_neg", "names"):
        c = cert(name)
        issuer = cert(exp[name]["signed_by"])
        c.verify_signed_by(issuer)
        c.verify_signed_by(issuer.public_key_der)
        c.verify_signed_by(bytes(issuer.public_key_der))
    raises(VerifyError, cert("ec_leaf").verify_signed_by, cert("ec_root"))
    e = raises(VerifyError, cert("ec_leaf").verify_signed_by, cert("rsa2048_root"))
    assert "ECDSA" in str(e) and "rsa" in str(e), e


def _bad_sig(name):
    f, a, s = _split(vector("x509_%s.der" % name))
    s = bytearray(s)
    s[10] ^= 1
    return _join(f, a, bytes(s))


def test_chain_good():
    leaf, inter, root = cert("ec_leaf"), cert("ec_int"), cert("ec_root")
    path = x509.verify_chain(leaf, [inter], [root], now=NOW)
    assert [c.der for c in path] == [leaf.der, inter.der, root.der]
    assert path[2] is root
    # DER input, others in any order with noise, several anchors, no clock.
    path = x509.verify_chain(vector("x509_ec_leaf.der"),
                             [vector("x509_rsa_int.der"), vector("x509_ec_root.der"), vector("x509_ec_int.der")],
                             [cert("rsa2048_root"), vector("x509_ec_root.der")])
    assert [c.subject for c in path] == [leaf.subject, inter.subject, root.subject]
    path = x509.verify_chain(cert("rsa_leaf"), [cert("rsa_int")], [cert("rsa4096_root")], now=NOW)
    assert len(path) == 3
    path = x509.verify_chain(cert("ed25519_leaf"), [], [cert("ed25519_root")], now=NOW)
    assert len(path) == 2
    # A leaf that is an anchor itself; a v1 anchor (trusted as given).
    assert len(x509.verify_chain(root, [], [root])) == 1
    assert len(x509.verify_chain(cert("t61"), [], [cert("v1")], now=NOW)) == 2


def test_chain_failures():
    leaf, inter, root = cert("ec_leaf"), cert("ec_int"), cert("ec_root")
    table = [
        ("wrong anchor", cert("ec_leaf"), [inter], [cert("rsa2048_root")], NOW,
         ["no issuer found", "CN=tinyest EC Root"]),
        ("no intermediate", leaf, [], [root], NOW, ["no issuer found", "CN=tinyest EC Issuing CA"]),
        ("bad leaf signature", _bad_sig("ec_leaf"), [inter], [root], NOW, ["signature on CN=dev-1"]),
        ("bad intermediate signature", leaf, [_bad_sig("ec_int")], [root], NOW,
         ["signature on CN=tinyest EC Issuing CA"]),
        ("leaf expired", leaf, [inter], [root], NA_EE + 1, ["CN=dev-1,O=Example has expired"]),
        ("leaf not yet valid", leaf, [inter], [root], NB - 1, ["not valid yet"]),
        ("intermediate expired", cert("forever"), [inter], [root], 2335219200 + 1,
         ["CN=tinyest EC Issuing CA,O=Example has expired"]),
        ("end entity as issuer", cert("by_ee"), [leaf, inter], [root], NOW, ["CN=dev-1,O=Example is not a CA"]),
        ("pathLen exceeded", cert("deep_leaf"), [cert("int2"), inter], [root], NOW,
         ["path length constraint", "Issuing CA"]),
        ("no keyCertSign", cert("noku_leaf"), [cert("noku_ca")], [root], NOW, ["keyUsage"]),
        ("unknown critical", cert("unknown_crit"), [inter], [root], NOW, ["critical", "1.3.6.1.4.1.55555.1"]),
        ("v1 intermediate", cert("serial_neg"), [cert("v1")], [root], NOW, ["v1"]),
        ("too deep", leaf, [inter], [root], NOW, []),
        ("cross-signed loop", cert("cross_leaf"), [cert("cross_a"), cert("cross_b")], [root], NOW, []),
    ]
    for name, l, o, a, now, words in table:
        try:
            if name == "too deep":
                x509.verify_chain(l, o, a, now, max_depth=2)
            else:
                x509.verify_chain(l, o, a, now)
        except VerifyError as e:
            for w in words:
                assert w in str(e), "%s: %r not in %r" % (name, w, str(e))
            continue
        raise AssertionError("%s: accepted" % name)


def test_chain_clock_skew():
    # A clock a little off either validity bound is given the benefit of the doubt
    # with skew; without it, or beyond it, the strict answer stands.
    leaf, inter, root = cert("ec_leaf"), cert("ec_int"), cert("ec_root")
    for now in (NB - 2, NB - 300, NA_EE + 300):
        assert len(x509.verify_chain(leaf, [inter], [root], now, skew=300)) == 3
        raises(VerifyError, x509.verify_chain, leaf, [inter], [root], now)
    for now in (NB - 301, NA_EE + 301):
        raises(VerifyError, x509.verify_chain, leaf, [inter], [root], now, skew=300)
    # fresh=True (just issued): the leaf's notBefore is not checked, its notAfter and
    # the issuers' dates still are.
    e = raises(VerifyError, x509.verify_chain, leaf, [inter], [root], NB - 3600, fresh=True)
    assert "Issuing CA" in str(e) and "not valid yet" in str(e), e
    e = raises(VerifyError, x509.verify_chain, leaf, [inter], [root], NA_EE + 1, fresh=True)
    assert "dev-1" in str(e) and "expired" in str(e)
    e = raises(VerifyError, x509.verify_chain, cert("forever"), [inter], [root],
               2335219200 + 1, fresh=True)
    assert "Issuing CA" in str(e) and "expired" in str(e)


def test_chain_cross_signed():
    leaf, a, b = cert("cross_leaf"), cert("cross_a"), cert("cross_b")
    path = x509.verify_chain(leaf, [a, b], [cert("cross_b_root")], now=NOW)
    assert [c.subject for c in path] == ["CN=cross-leaf", "CN=tinyest Cross A", "CN=tinyest Cross B"]
    path = x509.verify_chain(leaf, [b, a], [b], now=NOW)  # B signed by A, trusted as given
    assert path[1].der == a.der and path[2] is b


def test_chain_limits():
    leaf, inter, root = cert("ec_leaf"), cert("ec_int"), cert("ec_root")
    raises(VerifyError, x509.verify_chain, leaf, [inter] * 65, [root])
    raises(VerifyError, x509.verify_chain, leaf, [inter], [root] * 33)
    # Many copies of the same intermediate: bounded work, still finds the path.
    assert len(x509.verify_chain(leaf, [inter] * 20, [root])) == 3
    raises(DERError, x509.verify_chain, leaf, [b"\x30\x00"], [root])


def test_chain_mesh_gives_up():
    # Six cross-signed A's and six B's, every signature valid, no way to the anchor:
    # the search stops at MAX_STEPS candidates instead of walking every path.
    r = der.Reader(vector("x509_mesh.der"))
    mesh = []
    while not r.empty():
        mesh.append(x509.Certificate(r.read_element()))
    assert len(mesh) == 12
    e = raises(VerifyError, x509.verify_chain, cert("cross_leaf"), mesh, [cert("ec_root")], NOW)
    assert "gave up" in str(e), e
    path = x509.verify_chain(cert("cross_leaf"), mesh, [cert("cross_b_root")], NOW)
    assert len(path) == 3


def test_ip_octets():
    table = [
        ("127.0.0.1", b"\x7f\x00\x00\x01"), ("0.0.0.0", bytes(4)), ("::1", bytes(15) + b"\x01"),
        ("::", bytes(16)), ("2001:DB8::1", h("20010db8000000000000000000000001")),
        ("1:2:3:4:5:6:7:8", h("00010002000300040005000600070008")),
        ("1:2:3:4:5:6:7::", h("00010002000300040005000600070000")),
        # not address literals: names, or text other parsers read differently
        ("1.2.3", None), ("1.2.3.04", None), ("256.1.1.1", None), ("+1.2.3.4", None),
        (" 1.2.3.4", None), ("1.2.3.4.", None), ("1:2:3:4:5:6:7:8:9", None), ("1::2::3", None),
        ("12345::", None), ("g::1", None), ("0x1::", None), ("-0::1", None), ("1.2.3.\u0664", None),
        ("::ffff:1.2.3.4", h("00000000000000000000ffff01020304")), ("::ffff:1.2.3", None),
        ("::1:2:3:4:5:6:7:8", None), ("", None), (":", None), (":::", None), ("1:", None),
        ("example.com", None), ("*.0.0.1", None),
    ]
    for text, want in table:
        assert hostname.ip_octets(text) == want, (text, hostname.ip_octets(text))


def test_matches_host():
    c = cert("san")  # dNSName dev-1.example.com, *.example.net; iPAddress 192.0.2.7, 2001:db8::1
    for host in ("dev-1.example.com", "DEV-1.Example.COM", "a.example.net", "192.0.2.7",
                 "2001:db8::1", "2001:0db8:0:0:0:0:0:1"):
        assert hostname.matches(c, host), host
    for host in ("example.com", "x.dev-1.example.com", "example.net", "a.b.example.net",
                 "192.0.2.8", "2001:db8::2", "san", "dev-1@example.com"):
        assert not hostname.matches(c, host), host
    assert not hostname.matches(cert("rsa_leaf"), "dev-rsa")  # no SAN: the CN is not consulted


def test_bootstrap_chain_check_uses_the_handshake_certificate_and_the_host():
    from tinyest import catrust

    leaf, inter, root = cert("ec_leaf"), cert("ec_int"), cert("ec_root")
    good = [root, inter]
    table = [
        ("the server's certificate, chained", "dev-1.example.com", [leaf.der], True),
        ("for another host", "127.0.0.1", [leaf.der], False),
        ("a foreign server certificate with a good one appended", "dev-1.example.com",
         [cert("rsa_leaf").der, leaf.der], False),
        ("a CA certificate as the server's", "dev-1.example.com", [inter.der], False),
        ("nothing captured", "dev-1.example.com", [], False),
    ]
    for label, host, chain, want in table:
        got = catrust.server_chain_ok([bytes(c) for c in chain], host, [root], good, NOW, 300,
                                      x509.Checks())
        assert got is want, label
