"""PKCS#10 requests: builder rules, IP text, structure, signing and the reader."""

from tinyest import csr, csr_build, csr_read, der, der_extra, hostname, names, x509
from tinyest.csr_build import CsrBuilder
from tinyest.errors import DERError, EstError, FormatError, VerifyError
from _t import h, raises, vector

# RFC 6979 A.2.5: the P-256 key pair (x, Ux, Uy).
X = 0xC9AFA9D845BA75166B5C215767B1D6934E50C3DB36E89B127B8A622B120F6721
UX = "60FED4BA255A9D31C961EB74C6356D68C049B8923B61FA6CE669622E60F29FB6"
UY = "7903FE1008B8BC99A41AE9E95628BC64F2F1B20C2D7E9F5177A3C294D4462299"

# SubjectPublicKeyInfo of that key, written out from RFC 5480 (id-ecPublicKey, prime256v1).
SPKI = h("3059 3013 0607 2a8648ce3d0201 0608 2a8648ce3d030107 034200 04" + UX + UY)
ECDSA_SHA256 = h("300a 0608 2a8648ce3d040302")

OID_SAN = h("551d11")
OID_KU = h("551d0f")
OID_EKU = h("551d25")
OID_BC = h("551d13")
OID_EXT_REQ = h("2a864886f70d01090e")
OID_CHALLENGE = h("2a864886f70d010907")


def _base():
    return CsrBuilder().subject([("CN", "dev-1")])


def _parse_info(info):
    """Walk a CertificationRequestInfo with der.Reader: (version, subject Reader,
    spki bytes, [(attr OID, [value element, ...]), ...] in encoded order,
    [raw attribute elements])."""
    r = der.top(info)
    version = r.read_int()
    subject = r.enter(der.SEQUENCE)
    spki = bytes(r.read_element(der.SEQUENCE))
    attrs = r.enter(0xA0)
    r.done()
    out = []
    raw = []
    while not attrs.empty():
        el = attrs.read_element(der.SEQUENCE)
        raw.append(bytes(el))
        a = der.top(el)
        oid = bytes(a.read_oid())
        vs = a.enter(der.SET)
        a.done()
        vals = []
        while not vs.empty():
            vals.append(bytes(vs.read_element()))
        out.append((oid, vals))
    return version, subject, spki, out, raw


def _ext_list(attrs):
    for oid, vals in attrs:
        if oid == OID_EXT_REQ:
            assert len(vals) == 1
            r = der.top(vals[0])
            out = []
            while not r.empty():
                e = r.enter(der.SEQUENCE)
                oid = bytes(e.read_oid())
                crit = e.read_bool() if e.peek_tag() == der.BOOLEAN else False
                val = bytes(e.read_octets())
                e.done()
                out.append((oid, crit, val))
            return out
    return []


def _der_order(a, b):
    # X.690 11.6: compare as octet strings, the shorter padded with zeros
    n = max(len(a), len(b))
    return a + bytes(n - len(a)) <= b + bytes(n - len(b))


# ---------------------------------------------------------------- IP text

IP_CASES = [
    ("v4", "192.0.2.1", "c0000201"),
    ("v4 zeros", "0.0.0.0", "00000000"),
    ("v4 max", "255.255.255.255", "ffffffff"),
    ("v6 full", "2001:db8:0:0:1:0:0:1", "20010db8000000000001000000000001"),
    ("v6 leading zeros", "2001:0db8:0000:0000:0000:0000:0000:0001", "20010db8000000000000000000000001"),
    ("v6 upper case", "2001:DB8::A", "20010db800000000000000000000000a"),
    ("all zero", "::", "00" * 16),
    ("loopback", "::1", "00" * 15 + "01"),
    ("trailing ::", "1::", "0001" + "00" * 14),
    ("middle ::", "2001:db8::1", "20010db8" + "00" * 11 + "01"),
    (":: for one group", "1:2:3:4:5:6:7::", "0001000200030004000500060007" + "0000"),
    (":: at start, 7 groups", "::2:3:4:5:6:7:8", "0000000200030004000500060007" + "0008"),
    ("v4-mapped", "::ffff:192.0.2.1", "00" * 10 + "ffff" + "c0000201"),
    ("v4-compatible", "::192.0.2.1", "00" * 12 + "c0000201"),
    ("full with v4", "1:2:3:4:5:6:192.0.2.1", "000100020003000400050006c0000201"),
    ("v4 after ::", "64:ff9b::192.0.2.33", "0064ff9b" + "00" * 8 + "c0000221"),
    # refused
    ("empty", "", None),
    ("v4 three parts", "192.0.2", None),
    ("v4 five parts", "1.2.3.4.5", None),
    ("v4 octet 256", "1.2.3.256", None),
    ("v4 leading zero", "192.0.2.01", None),
    ("v4 empty part", "1..2.3", None),
    ("v4 sign", "1.2.3.+4", None),
    ("v4 space", " 1.2.3.4", None),
    ("v4 unicode digit", "1.2.3.\u0664", None),
    ("v6 two ::", "1::2::3", None),
    ("v6 :::", ":::", None),
    ("v6 1:::2", "1:::2", None),
    ("v6 leading single colon", ":1::", None),
    ("v6 trailing single colon", "1:2:3:4:5:6:7:", None),
    ("v6 nine groups", "1:2:3:4:5:6:7:8:9", None),
    ("v6 seven groups no ::", "1:2:3:4:5:6:7", None),
    (":: standing for none", "1:2:3:4:5:6:7::8", None),
    ("v6 group of 5 digits", "12345::", None),
    ("v6 not hex", "g::", None),
    ("v6 0x prefix", "0x1::", None),
    ("v6 zone id", "fe80::1%eth0", None),
    ("v6 v4 too many groups", "1:2:3:4:5:6:7:1.2.3.4", None),
    ("v6 v4 and full ::", "1:2:3:4:5:6::1.2.3.4", None),
    ("v6 bad v4 tail", "::ffff:1.2.3", None),
    ("v6 v4 not last", "::1.2.3.4:5", None),
    ("v6 v4 alone after colon", "ffff:1.2.3.4", None),
    ("v6 prefix length", "2001:db8::/32", None),
    ("v6 too long", "0000:" * 9 + "1", None),
]


def test_ip_parse_table():
    for name, text, want in IP_CASES:
        if want is None:
            assert hostname.ip_octets(text) is None, name
            raises(FormatError, CsrBuilder().ip, text)
        else:
            got = hostname.ip_octets(text)
            assert got == h(want), name
    raises(FormatError, CsrBuilder().ip, b"1.2.3.4")


def test_ip_text_rfc5952():
    cases = [
        ("v4", "c0000201", "192.0.2.1"),
        ("4.2.1 no leading zeros", "20010db8000000000000000000000001", "2001:db8::1"),
        ("4.2.2 one zero group kept", "20010db8000000010001000100010001", "2001:db8:0:1:1:1:1:1"),
        ("4.2.3 longest run", "20010000000000010000000000000001", "2001:0:0:1::1"),
        ("4.2.3 first of equal runs", "20010db8000000000001000000000001", "2001:db8::1:0:0:1"),
        ("4.3 lower case", "20010db8abcd000000000000000000ef", "2001:db8:abcd::ef"),
        ("all zero", "00" * 16, "::"),
        ("loopback", "00" * 15 + "01", "::1"),
        ("trailing", "0001" + "00" * 14, "1::"),
        ("5 mapped", "00" * 10 + "ffffc0000201", "::ffff:192.0.2.1"),
    ]
    for name, hexa, want in cases:
        assert names.ip_text(h(hexa)) == want, name
        assert hostname.ip_octets(want) == h(hexa), name
    raises(FormatError, names.ip_text, b"\x01\x02\x03")


# ---------------------------------------------------------------- builder rules


def test_builder_is_immutable():
    b0 = CsrBuilder()
    b1 = b0.subject([("CN", "a")])
    assert b1 is not b0
    # b0 is untouched: it still has no subject and accepts a different one
    raises(FormatError, b0.info_der, SPKI)
    b0.subject([("CN", "other")])
    before = b1.info_der(SPKI)
    b2 = b1.dns("a.example").key_usage("digitalSignature").challenge_password("pw")
    b3 = b1.dns("b.example")  # branching from b1 does not see b2's additions
    assert b1.info_der(SPKI) == before
    assert b2.info_der(SPKI) != before
    ext3 = _ext_list(_parse_info(b3.info_der(SPKI))[3])
    assert [e[0] for e in ext3] == [OID_SAN]
    assert b"a.example" not in ext3[0][2]
    # b2 can still gain what b3 has, independently
    b2.dns("b.example")


def test_accepted_names():
    b = (_base().email("first.last+tag@x.example").email("o'neil!#$%&*^_`{|}~=?/-@x.example")
         .uri("a+b.c-d:rest?q=1#f").uri("https://[2001:db8::1]:8443/p").dns("*.x.example").dns("1.2.3.4")
         .dns("xn--bcher-kva.example"))
    exts = _ext_list(_parse_info(b.info_der(SPKI))[3])
    r = der.top(exts[0][2])
    got = []
    while not r.empty():
        got.append(bytes(r.read_any()[1]))
    assert got == [b"first.last+tag@x.example", b"o'neil!#$%&*^_`{|}~=?/-@x.example", b"a+b.c-d:rest?q=1#f",
                   b"https://[2001:db8::1]:8443/p", b"*.x.example", b"1.2.3.4", b"xn--bcher-kva.example"]


def test_duplicates_refused():
    b = _base().dns("a.example").ip("192.0.2.1").uri("https://x.example/").email("a@x.example")
    b = b.key_usage("digitalSignature").ext_key_usage("clientAuth").basic_constraints()
    b = b.challenge_password("pw").attribute("1.2.3.4", h("0500"))
    cases = [
        ("second subject", lambda: b.subject([("CN", "x")])),
        ("second empty subject", lambda: CsrBuilder().subject([]).subject([])),
        ("same DNS name", lambda: b.dns("a.example")),
        ("same DNS name other case", lambda: b.dns("A.Example")),
        ("same IP other spelling", lambda: b.ip("192.0.2.1")),
        ("same IPv6 other spelling", lambda: b.ip("::1").ip("0:0:0:0:0:0:0:1")),
        ("same URI", lambda: b.uri("https://x.example/")),
        ("same email", lambda: b.email("a@x.example")),
        ("key usage twice", lambda: b.key_usage("keyAgreement")),
        ("EKU twice", lambda: b.ext_key_usage("serverAuth")),
        ("basic constraints twice", lambda: b.basic_constraints(True)),
        ("raw keyUsage after key_usage", lambda: b.extension("2.5.29.15", h("03020780"))),
        ("raw SAN after dns", lambda: b.extension("2.5.29.17", h("3000"))),
        ("dns after raw SAN", lambda: _base().extension("2.5.29.17", h("3000")).dns("a.example")),
        ("raw extension twice", lambda: _base().extension("1.2.3", h("0500")).extension("1.2.3", h("0101ff"))),
        ("challenge password twice", lambda: b.challenge_password("other")),
        ("raw challengePassword after", lambda: b.attribute("1.2.840.113549.1.9.7", h("130178"))),
        ("raw attribute twice", lambda: b.attribute("1.2.3.4", h("0101ff"))),
        ("usage repeated in one call", lambda: _base().key_usage("digitalSignature", "digitalSignature")),
        ("EKU repeated in one call", lambda: _base().ext_key_usage("clientAuth", "1.3.6.1.5.5.7.3.2")),
        ("attribute repeated in an RDN", lambda: CsrBuilder().subject([[("CN", "a"), ("cn", "b")]])),
    ]
    for name, fn in cases:
        e = raises(FormatError, fn)
        assert isinstance(e, EstError), name


def test_bad_arguments_refused():
    c = CsrBuilder()
    b = _base()
    cases = [
        ("subject not a list", lambda: c.subject("CN=x")),
        ("subject pair of three", lambda: c.subject([("CN", "x", "y")])),
        ("unknown attribute", lambda: c.subject([("XX", "x")])),
        ("bad dotted attribute", lambda: c.subject([("2.5.4.", "x")])),
        ("value not str", lambda: c.subject([("CN", b"x")])),
        ("empty value", lambda: c.subject([("CN", "")])),
        ("control character", lambda: c.subject([("CN", "a\x00b")])),
        ("CN over 64", lambda: c.subject([("CN", "x" * 65)])),
        ("C three letters", lambda: c.subject([("C", "DEU")])),
        ("C lower case", lambda: c.subject([("C", "de")])),
        ("C digits", lambda: c.subject([("C", "12")])),
        ("serialNumber not printable", lambda: c.subject([("serialNumber", "a_b")])),
        ("emailAddress not ASCII", lambda: c.subject([("emailAddress", "\u00e9@x.example")])),
        ("empty multi-valued RDN", lambda: c.subject([[]])),
        ("dns empty", lambda: b.dns("")),
        ("dns trailing dot", lambda: b.dns("a.example.")),
        ("dns empty label", lambda: b.dns("a..example")),
        ("dns underscore", lambda: b.dns("a_b.example")),
        ("dns leading hyphen", lambda: b.dns("-a.example")),
        ("dns unicode", lambda: b.dns("b\u00fccher.example")),
        ("dns label over 63", lambda: b.dns("a" * 64 + ".example")),
        ("dns wildcard inside", lambda: b.dns("a.*.example")),
        ("dns bare wildcard", lambda: b.dns("*")),
        ("dns not str", lambda: b.dns(b"a.example")),
        ("uri without scheme", lambda: b.uri("x.example/path")),
        ("uri with space", lambda: b.uri("https://x.example/a b")),
        ("uri scheme starts with digit", lambda: b.uri("1http://x")),
        ("uri scheme only", lambda: b.uri("urn:")),
        ("email without @", lambda: b.email("a.example")),
        ("email two @", lambda: b.email("a@b@example")),
        ("email empty local", lambda: b.email("@example")),
        ("email bad domain", lambda: b.email("a@exa mple")),
        ("email wildcard domain", lambda: b.email("a@*.example")),
        ("email double dot", lambda: b.email("a..b@x.example")),
        ("email leading dot", lambda: b.email(".a@x.example")),
        ("email comment", lambda: b.email("a(b)@x.example")),
        ("email quoted", lambda: b.email('"a b"@x.example')),
        ("uri with <", lambda: b.uri("https://x.example/<a>")),
        ("uri with quote", lambda: b.uri('https://x.example/"')),
        ("key usage none", lambda: b.key_usage()),
        ("key usage unknown", lambda: b.key_usage("signEverything")),
        ("key usage not str", lambda: b.key_usage(0)),
        ("EKU none", lambda: b.ext_key_usage()),
        ("EKU unknown", lambda: b.ext_key_usage("anyThing")),
        ("EKU bad OID", lambda: b.ext_key_usage("1.3.6.1.5.5.7.3.")),
        ("critical not bool", lambda: b.key_usage("digitalSignature", critical=1)),
        ("ca not bool", lambda: b.basic_constraints(1)),
        ("path_len without ca", lambda: b.basic_constraints(False, 0)),
        ("path_len negative", lambda: b.basic_constraints(True, -1)),
        ("path_len bool", lambda: b.basic_constraints(True, True)),
        ("extension bad OID", lambda: b.extension("1.x.3", h("0500"))),
        ("extension value not DER", lambda: b.extension("1.2.3", h("0505"))),
        ("extension value two elements", lambda: b.extension("1.2.3", h("05000500"))),
        ("extension value str", lambda: b.extension("1.2.3", "0500")),
        ("challenge password empty", lambda: b.challenge_password("")),
        ("challenge password over 255", lambda: b.challenge_password("x" * 256)),
        ("challenge password bytes", lambda: b.challenge_password(b"pw")),
        ("attribute without values", lambda: b.attribute("1.2.3")),
        ("attribute value not DER", lambda: b.attribute("1.2.3", h("30"))),
        ("raw extensionRequest", lambda: b.attribute("1.2.840.113549.1.9.14", h("3000"))),
        ("empty subject without SAN", lambda: CsrBuilder().subject([]).info_der(SPKI)),
        ("no subject", lambda: CsrBuilder().dns("a.example").info_der(SPKI)),
        ("SPKI not DER", lambda: b.info_der(SPKI[:-1])),
        ("SPKI not an SPKI", lambda: b.info_der(h("3003020100"))),
        ("assemble bad algorithm", lambda: csr.assemble(b.info_der(SPKI), h("3000"), b"\x30\x00")),
        ("assemble empty signature", lambda: csr.assemble(b.info_der(SPKI), ECDSA_SHA256, b"")),
    ]
    for name, fn in cases:
        try:
            fn()
        except EstError:
            pass
        else:
            raise AssertionError("accepted: " + name)


# ---------------------------------------------------------------- structure


def test_info_structure():
    b = (CsrBuilder()
         .subject([("C", "DE"), ("O", "Acme"), [("CN", "dev-1"), ("serialNumber", "0042")],
                   ("emailAddress", "ops@acme.example"), ("DC", "acme"), ("2.5.4.97", "VATDE-1")])
         .dns("dev-1.acme.example").ip("192.0.2.1").ip("2001:db8::1").uri("urn:dev:1").email("ops@acme.example")
         .key_usage("digitalSignature", "keyAgreement")
         .ext_key_usage("clientAuth", "1.3.6.1.4.1.99999.1")
         .basic_constraints()
         .extension("1.2.3.4", h("0c0161"), critical=True)
         .challenge_password("Pass word+/=")
         .attribute("1.2.3.5", h("0c0162"), h("0101ff")))
    version, subject, spki, attrs, raw = _parse_info(b.info_der(SPKI))
    assert version == 0
    assert spki == SPKI

    # subject: RDN order kept; C/serialNumber PrintableString, email/DC IA5, others UTF8
    want = [
        [("550406", der.PRINTABLE_STRING, "DE")],
        [("55040a", der.UTF8_STRING, "Acme")],
        None,  # multi-valued, checked below
        [("2a864886f70d010901", der.IA5_STRING, "ops@acme.example")],
        [("0992268993f22c640119", der.IA5_STRING, "acme")],
        [("550461", der.UTF8_STRING, "VATDE-1")],
    ]
    i = 0
    while not subject.empty():
        s = subject.enter(der.SET)
        atvs = []
        while not s.empty():
            a = s.enter(der.SEQUENCE)
            oid = bytes(a.read_oid()).hex()
            tag, text = a.read_string()
            a.done()
            atvs.append((oid, tag, text))
        if want[i] is not None:
            assert atvs == want[i], (i, atvs)
        else:
            assert sorted(atvs) == [("550403", der.UTF8_STRING, "dev-1"),
                                    ("550405", der.PRINTABLE_STRING, "0042")], atvs
        i += 1
    assert i == len(want)

    # attributes: DER-sorted, each once
    for j in range(len(raw) - 1):
        assert _der_order(raw[j], raw[j + 1]), "attributes not in DER order"
    oids = [a[0] for a in attrs]
    assert sorted(oids) == sorted([OID_CHALLENGE, OID_EXT_REQ, h("2a0305")])
    for oid, vals in attrs:
        if oid == OID_CHALLENGE:
            assert vals == [b"\x13\x0c" + b"Pass word+/="]  # PrintableString
        if oid == h("2a0305"):
            assert sorted(vals) == [h("0101ff"), h("0c0162")]
            assert _der_order(vals[0], vals[1])

    exts = _ext_list(attrs)
    assert [e[0] for e in exts] == [OID_SAN, OID_KU, OID_EKU, OID_BC, h("2a0304")]
    san, ku, eku, bc, raw_ext = exts
    assert san[1] is False  # subject present: SAN not critical
    r = der.top(san[2])
    names = []
    while not r.empty():
        names.append(r.read_any())
    assert [(t, bytes(v)) for t, v in names] == [
        (0x82, b"dev-1.acme.example"), (0x87, h("c0000201")), (0x87, h("20010db8" + "00" * 11 + "01")),
        (0x86, b"urn:dev:1"), (0x81, b"ops@acme.example")]
    assert ku[1] is True
    assert ku[2] == h("03020388")  # bits 0 and 4, trailing zeros dropped: 3 unused bits
    assert eku[1] is False
    r = der.top(eku[2])
    assert bytes(r.read_oid()) == h("2b06010505070302")
    assert der.oid_str(r.read_oid()) == "1.3.6.1.4.1.99999.1"
    r.done()
    assert bc == (OID_BC, True, h("3000"))
    assert raw_ext == (h("2a0304"), True, h("0c0161"))


def test_challenge_password_utf8_when_not_printable():
    _, _, _, attrs, _ = _parse_info(_base().challenge_password("p\u00e4ss_").info_der(SPKI))
    assert attrs == [(OID_CHALLENGE, [b"\x0c\x06p\xc3\xa4ss_"])]


def test_no_attributes_is_empty_set():
    info = _base().info_der(SPKI)
    assert info.endswith(SPKI + b"\xa0\x00")
    assert _parse_info(info)[3] == []


def test_empty_subject_makes_san_critical():
    info = CsrBuilder().subject([]).dns("dev.example").info_der(SPKI)
    version, subject, _, attrs, _ = _parse_info(info)
    assert subject.empty()
    exts = _ext_list(attrs)
    assert exts == [(OID_SAN, True, h("300d820b") + b"dev.example")]


def test_key_usage_bits():
    cases = [
        ("digitalSignature", ("digitalSignature",), "03020780"),
        ("nonRepudiation", ("nonRepudiation",), "03020640"),
        ("keyEncipherment", ("keyEncipherment",), "03020520"),
        ("dataEncipherment", ("dataEncipherment",), "03020410"),
        ("keyAgreement", ("keyAgreement",), "03020308"),
        ("keyCertSign", ("keyCertSign",), "03020204"),
        ("cRLSign", ("cRLSign",), "03020102"),
        ("CA pair", ("keyCertSign", "cRLSign"), "03020106"),
        ("TLS RSA", ("digitalSignature", "keyEncipherment"), "030205a0"),
        ("all seven", tuple(csr_build._KEY_USAGE), "030201fe"),
        ("any case", ("DIGITALSIGNATURE",), "03020780"),
    ]
    for name, names, want in cases:
        exts = _ext_list(_parse_info(_base().key_usage(*names).info_der(SPKI))[3])
        assert exts == [(OID_KU, True, h(want))], name
    exts = _ext_list(_parse_info(_base().key_usage("digitalSignature", critical=False).info_der(SPKI))[3])
    assert exts[0][1] is False


def test_basic_constraints_forms():
    cases = [
        ("end entity", (), "3000"),
        ("CA", (True,), "30030101ff"),
        ("CA path 0", (True, 0), "30060101ff020100"),
        ("CA path 200", (True, 200), "30070101ff020200c8"),
    ]
    for name, args, want in cases:
        exts = _ext_list(_parse_info(_base().basic_constraints(*args).info_der(SPKI))[3])
        assert exts == [(OID_BC, True, h(want))], name


# ---------------------------------------------------------------- signing


def test_sign_p256_verifies():
    from tinyest import ec

    key = ec.from_secret(X.to_bytes(32, "big"), "P-256")
    assert key.public_key_der() == SPKI
    b = (CsrBuilder().subject([("O", "Acme"), ("CN", "dev-1")])
         .dns("dev-1.acme.example").ip("::1").ext_key_usage("clientAuth").challenge_password("tls-unique"))
    data = b.sign(key)
    p = csr_read.Csr(data)
    p.verify()
    assert p.public_key_der == SPKI
    assert p.subject == "CN=dev-1,O=Acme"
    assert p.challenge_password == "tls-unique"
    assert p.san == [("dns", "dev-1.acme.example"), ("ip", bytes(15) + b"\x01")]
    assert p.sig_alg == key.algorithm_der()

    # the outer structure, read independently
    r = der.top(data)
    info = bytes(r.read_element(der.SEQUENCE))
    assert bytes(r.read_element(der.SEQUENCE)) == ECDSA_SHA256
    sig = bytes(r.read_bits())
    r.done()
    assert info == b.info_der(SPKI)
    s = der.top(sig)
    assert s.read_int() > 0 and s.read_int() > 0
    s.done()

    # RFC 6979 signatures are deterministic: the split path gives the same bytes
    assert csr.assemble(info, key.algorithm_der(), key.sign(info)) == data

    # tampering with the signed part or the signature breaks verification
    i = data.find(b"dev-1.acme")
    bad = data[:i] + b"x" + data[i + 1:]
    raises(VerifyError, csr_read.Csr(bad).verify)
    sig2 = bytearray(sig)
    sig2[10] ^= 1
    raises(VerifyError, csr_read.Csr(csr.assemble(info, ECDSA_SHA256, bytes(sig2))).verify)


def test_parse_cryptography_vector():
    # tests/vectors/make_csr.py: written by pyca/cryptography with the RFC 6979 key
    p = csr_read.Csr(vector("csr_p256_cryptography.der"))
    p.verify()
    assert p.public_key_der == SPKI
    assert p.signature_oid == h("2a8648ce3d040302")
    assert p.subject_rdns[:2] == [[("C", "DE")], [("O", "Acme, Inc.")]]
    assert sorted(p.subject_rdns[2]) == [("CN", "sensor-7"), ("serialNumber", "A1B2")]
    assert p.subject in ("CN=sensor-7+serialNumber=A1B2,O=Acme\\, Inc.,C=DE",
                         "serialNumber=A1B2+CN=sensor-7,O=Acme\\, Inc.,C=DE")
    assert p.challenge_password == "s3cret"
    assert p.san == [("dns", "sensor-7.example.net"), ("ip", h("c6336407")),
                     ("ip", h("20010db8000000000000000000000007")),
                     ("uri", "urn:dev:sensor-7"), ("email", "ops@example.net")]
    assert p.extension(OID_KU) == (True, h("03020388"))
    assert p.extension(OID_EKU) == (False, h("300a06082b06010505070302"))
    assert p.extension(OID_BC) is None
    assert [o for o, _ in p.attributes] == [OID_CHALLENGE, OID_EXT_REQ]
    assert p.attribute(OID_CHALLENGE) == [b"\x0c\x06s3cret"]


def test_subject_text_rfc4514():
    b = CsrBuilder().subject([
        ("C", "DE"),
        ("O", 'a,b+c"d\\e<f>g;h'),
        ("OU", "#lead"),
        ("L", " both "),
        [("CN", "x"), ("UID", "u=1")],
        ("1.2.3.4", "other"),
    ])
    p = csr_read.Csr(csr.assemble(b.info_der(SPKI), ECDSA_SHA256, b"\x30\x00"))
    assert p.subject == ("1.2.3.4=other,CN=x+UID=u=1,L=\\ both\\ ,OU=\\#lead,"
                         'O=a\\,b\\+c\\"d\\\\e\\<f\\>g\\;h,C=DE')
    assert p.subject_rdns[4] == [("CN", "x"), ("UID", "u=1")]
    # a value that is not a string shows as '#' and its DER in hex (RFC 4514 2.4)
    name = der.seq(der.set_of(der.seq(der.oid("2.5.4.3"), der.integer(5))))
    info = der.seq(der.integer(0), name, SPKI, b"\xa0\x00")
    p = csr_read.Csr(csr.assemble(info, ECDSA_SHA256, b"\x30\x00"))
    assert p.subject == "CN=#020105"
    assert p.subject_rdns == [[("CN", "#020105")]]


# ---------------------------------------------------------------- hostile input


def _req(version=0, name=None, spki=SPKI, attrs=b"\xa0\x00", alg=ECDSA_SHA256, sig=None):
    if name is None:
        name = der.seq(der.set_of(der.seq(der.oid("2.5.4.3"), der.utf8("x"))))
    info = der.seq(der.integer(version), name, spki, attrs)
    return der.seq(info, alg, sig if sig is not None else der.bit_string(b"\x30\x00"))


def _attrs(*attrs):
    return der.tlv(0xA0, *attrs)


def _attr(oid, *values):
    return der.seq(der.oid(oid), der.tlv(der.SET, *values))


def _ext_req(*exts):
    return _attr("1.2.840.113549.1.9.14", der.seq(*exts))


def test_parse_hostile_table():
    good = _req()
    csr_read.Csr(good)  # the baseline parses
    ext = der.seq(der.oid("2.5.29.19"), der.octet_string(h("3000")))
    cases = [
        ("empty", b"", DERError),
        ("not a sequence", h("3100"), DERError),
        ("truncated", good[:-1], DERError),
        ("trailing byte", good + b"\x00", DERError),
        ("two top elements", good + good, DERError),
        ("version 1", _req(version=1), DERError),
        ("version negative", _req(version=-1), DERError),
        ("no attributes [0]", der.seq(der.seq(der.integer(0), der.seq(), SPKI), ECDSA_SHA256,
                                      der.bit_string(b"\x30\x00")), DERError),
        ("attributes [0] primitive", _req(attrs=h("8000")), DERError),
        ("element after attributes", der.seq(der.seq(der.integer(0), der.seq(), SPKI, h("a000"), h("0500")),
                                             ECDSA_SHA256, der.bit_string(b"\x30\x00")), DERError),
        ("empty RDN", _req(name=der.seq(der.tlv(der.SET))), DERError),
        ("RDN value missing", _req(name=der.seq(der.set_of(der.seq(der.oid("2.5.4.3"))))), DERError),
        ("bad UTF-8 in name", _req(name=der.seq(der.set_of(der.seq(der.oid("2.5.4.3"), h("0c01ff"))))),
         DERError),
        ("SPKI without key", _req(spki=der.seq(der.seq(der.oid("1.2.840.10045.2.1")))), DERError),
        ("SPKI key with unused bits", _req(spki=der.seq(der.seq(der.oid("1.2.840.10045.2.1")),
                                                        der.bit_string(b"\x04\x00", 1))), DERError),
        ("attribute with no values", _req(attrs=_attrs(_attr("1.2.3"))), DERError),
        ("attribute repeated", _req(attrs=_attrs(_attr("1.2.3", h("0500")), _attr("1.2.3", h("0500")))),
         DERError),
        ("challengePassword not a string", _req(attrs=_attrs(_attr("1.2.840.113549.1.9.7", h("020101")))),
         DERError),
        ("challengePassword two values", _req(attrs=_attrs(_attr("1.2.840.113549.1.9.7", h("130161"),
                                                                 h("130162")))), DERError),
        ("extensionRequest two values", _req(attrs=_attrs(_attr("1.2.840.113549.1.9.14", der.seq(ext),
                                                                der.seq(ext)))), DERError),
        ("extensionRequest not a sequence", _req(attrs=_attrs(_attr("1.2.840.113549.1.9.14", h("0500")))),
         DERError),
        ("critical FALSE encoded", _req(attrs=_attrs(_ext_req(der.seq(der.oid("2.5.29.19"), der.boolean(False),
                                                                     der.octet_string(h("3000")))))), DERError),
        ("extension twice", _req(attrs=_attrs(_ext_req(ext, ext))), DERError),
        ("extension value not octets", _req(attrs=_attrs(_ext_req(der.seq(der.oid("2.5.29.19"), h("3000"))))),
         DERError),
        ("signature algorithm without OID", _req(alg=der.seq(der.null())), DERError),
        ("signature with unused bits", _req(sig=der.bit_string(b"\x30\x02", 1)), DERError),
        ("signature not a bit string", _req(sig=der.octet_string(b"\x30\x00")), DERError),
        ("non-minimal length", h("30 81 05") + good[2:7], DERError),
        ("too large", bytes(csr_read.MAX_CSR + 1), FormatError),
        ("not bytes", "3000", FormatError),
    ]
    for name, data, exc in cases:
        try:
            csr_read.Csr(data)
        except exc:
            pass
        except EstError as e:
            raise AssertionError("%s: %r" % (name, e))
        else:
            raise AssertionError("accepted: " + name)


def _san_req(value):
    return _req(attrs=_attrs(_ext_req(der.seq(der.oid("2.5.29.17"), der.octet_string(value)))))


def test_san_reader_as_x509():
    # the kinds and value types of x509.Certificate.san; None when not requested, [] when empty
    raises(FormatError, csr_read.Csr, _san_req(der.seq(der_extra.implicit(7, b"\x01\x02\x03"))))
    raises(DERError, csr_read.Csr, _san_req(der.seq(der_extra.implicit(2, b"\xff"))))
    raises(DERError, csr_read.Csr, _san_req(der.seq() + der.seq()))
    assert csr_read.Csr(_san_req(der.seq(der_extra.implicit(8, h("2a03"))))).san == [("other", h("88022a03"))]
    assert csr_read.Csr(_san_req(der.seq(der_extra.implicit(7, h("0a000001"))))).san == [("ip", h("0a000001"))]
    assert csr_read.Csr(_san_req(der.seq())).san == []
    assert csr_read.Csr(_req()).san is None
