"""CSRs from tinyest checked by independent implementations: OpenSSL,
pyca/cryptography and asn1crypto; the reader fuzzed with hypothesis; the demo run."""

import ipaddress
import pathlib
import subprocess
import sys

import pytest
from asn1crypto import core as a_core
from asn1crypto import csr as a_csr
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec as c_ec
from cryptography.hazmat.primitives.asymmetric import ed25519 as c_ed25519
from cryptography.hazmat.primitives.asymmetric import rsa as c_rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID, ObjectIdentifier
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tinyest import csr, csr_read, der, keys, names, pem
from tinyest.der_text import oid_str
from tinyest.hostname import ip_octets
from tinyest.csr_build import CsrBuilder
from tinyest.errors import EstError, FormatError

ROOT = pathlib.Path(__file__).resolve().parent.parent.parent
VECTOR = (ROOT / "tests" / "vectors" / "csr_p256_cryptography.der").read_bytes()

OID_CHALLENGE = ObjectIdentifier("1.2.840.113549.1.9.7")
OID_RAW_EXT = ObjectIdentifier("1.3.6.1.4.1.55555.7")
OID_RAW_ATTR = ObjectIdentifier("1.3.6.1.4.1.55555.8")
OID_PRIVATE_EKU = ObjectIdentifier("1.3.6.1.4.1.55555.9")

SUBJECT = [
    ("C", "DE"),
    ("ST", "Bayern"),
    ("L", "M\u00fcnchen"),
    ("O", "Acme, GmbH"),
    ("OU", "Devices"),
    [("CN", "sensor-9"), ("serialNumber", "SN-0009")],
    ("street", "Hauptstr. 1"),
    ("title", "Sensor"),
    ("GN", "Anna"),
    ("SN", "Muster"),
    ("UID", "u9"),
    ("DC", "acme"),
    ("emailAddress", "ops@acme.example"),
]

# the same subject, spelled for cryptography, and the string type each must have
EXPECTED_NAME = x509.Name([
    x509.RelativeDistinguishedName([x509.NameAttribute(NameOID.COUNTRY_NAME, "DE")]),
    x509.RelativeDistinguishedName([x509.NameAttribute(NameOID.STATE_OR_PROVINCE_NAME, "Bayern")]),
    x509.RelativeDistinguishedName([x509.NameAttribute(NameOID.LOCALITY_NAME, "M\u00fcnchen")]),
    x509.RelativeDistinguishedName([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Acme, GmbH")]),
    x509.RelativeDistinguishedName([x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, "Devices")]),
    x509.RelativeDistinguishedName([x509.NameAttribute(NameOID.COMMON_NAME, "sensor-9"),
                                    x509.NameAttribute(NameOID.SERIAL_NUMBER, "SN-0009")]),
    x509.RelativeDistinguishedName([x509.NameAttribute(NameOID.STREET_ADDRESS, "Hauptstr. 1")]),
    x509.RelativeDistinguishedName([x509.NameAttribute(NameOID.TITLE, "Sensor")]),
    x509.RelativeDistinguishedName([x509.NameAttribute(NameOID.GIVEN_NAME, "Anna")]),
    x509.RelativeDistinguishedName([x509.NameAttribute(NameOID.SURNAME, "Muster")]),
    x509.RelativeDistinguishedName([x509.NameAttribute(NameOID.USER_ID, "u9")]),
    x509.RelativeDistinguishedName([x509.NameAttribute(NameOID.DOMAIN_COMPONENT, "acme")]),
    x509.RelativeDistinguishedName([x509.NameAttribute(NameOID.EMAIL_ADDRESS, "ops@acme.example")]),
])
PRINTABLE = {NameOID.COUNTRY_NAME, NameOID.SERIAL_NUMBER}
IA5 = {NameOID.EMAIL_ADDRESS, NameOID.DOMAIN_COMPONENT}
NAME_OVERRIDES = {NameOID.SERIAL_NUMBER: "serialNumber", NameOID.TITLE: "title", NameOID.GIVEN_NAME: "GN",
                  NameOID.SURNAME: "SN", NameOID.EMAIL_ADDRESS: "emailAddress"}  # STREET: RFC 4514 3

EXPECTED_SAN = x509.SubjectAlternativeName([
    x509.DNSName("sensor-9.acme.example"),
    x509.DNSName("*.sensor-9.acme.example"),
    x509.IPAddress(ipaddress.ip_address("192.0.2.9")),
    x509.IPAddress(ipaddress.ip_address("2001:db8::9")),
    x509.IPAddress(ipaddress.ip_address("::ffff:198.51.100.9")),
    x509.UniformResourceIdentifier("urn:uuid:f81d4fae-7dec-11d0-a765-00a0c91e6bf6"),
    x509.RFC822Name("ops@acme.example"),
])


def _packed(ip):
    """The octets of an IP address, as ``Csr.san`` gives them."""
    return ipaddress.ip_address(ip).packed


def _full_builder(subject=SUBJECT):
    return (CsrBuilder()
            .subject(subject)
            .dns("sensor-9.acme.example").dns("*.sensor-9.acme.example")
            .ip("192.0.2.9").ip("2001:db8::9").ip("::ffff:198.51.100.9")
            .uri("urn:uuid:f81d4fae-7dec-11d0-a765-00a0c91e6bf6")
            .email("ops@acme.example")
            .key_usage("digitalSignature", "keyAgreement")
            .ext_key_usage("clientAuth", "serverAuth", "1.3.6.1.4.1.55555.9")
            .basic_constraints()
            .extension("1.3.6.1.4.1.55555.7", b"\x0c\x05hello")
            .challenge_password("Zm9vYmFy+/A=")
            .attribute("1.3.6.1.4.1.55555.8", b"\x0c\x02hi"))


class _SetOfAny(a_core.SetOf):
    _child_spec = a_core.Any


def _teach_asn1crypto(monkeypatch):
    # asn1crypto cannot re-encode an attribute type it does not know
    monkeypatch.setitem(a_csr.CRIAttribute._oid_specs, OID_RAW_ATTR.dotted_string, _SetOfAny)


def _pkcs8(private_key):
    return private_key.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8,
                                     serialization.NoEncryption())


def _key(kind):
    if kind == "P-256":
        from tinyest import ec
        return ec.generate("P-256")
    if kind == "P-384":
        from tinyest import ec
        return ec.generate("P-384")
    if kind == "RSA-2048":  # a provisioned key: made elsewhere, loaded as PKCS#8 PEM
        k = c_rsa.generate_private_key(65537, 2048)
        return keys.load_private(pem.encode(_pkcs8(k), "PRIVATE KEY"))
    if kind == "Ed25519":
        return keys.load_private(_pkcs8(c_ed25519.Ed25519PrivateKey.generate()))
    raise AssertionError(kind)


SIG_OIDS = {"P-256": "1.2.840.10045.4.3.2", "P-384": "1.2.840.10045.4.3.3",
            "RSA-2048": "1.2.840.113549.1.1.11", "Ed25519": "1.3.101.112"}


def _openssl_verify(tmp_path, der):
    path = tmp_path / "req.pem"
    path.write_text(pem.encode(der, "CERTIFICATE REQUEST"))
    p = subprocess.run(["openssl", "req", "-verify", "-noout", "-in", str(path)],
                       capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stdout + p.stderr
    assert "verify OK" in p.stdout + p.stderr


@pytest.mark.parametrize("kind", ["P-256", "P-384", "RSA-2048", "Ed25519"])
def test_csr_checked_by_three_implementations(kind, tmp_path, monkeypatch):
    _teach_asn1crypto(monkeypatch)
    key = _key(kind)
    der = _full_builder().sign(key)

    # OpenSSL
    _openssl_verify(tmp_path, der)

    # pyca/cryptography
    req = x509.load_der_x509_csr(der)
    assert req.is_signature_valid
    assert req.signature_algorithm_oid.dotted_string == SIG_OIDS[kind]
    assert req.public_key().public_bytes(serialization.Encoding.DER,
                                         serialization.PublicFormat.SubjectPublicKeyInfo) == key.public_key_der()
    assert req.subject == EXPECTED_NAME
    for attr in req.subject:
        want = (x509.name._ASN1Type.PrintableString if attr.oid in PRINTABLE else
                x509.name._ASN1Type.IA5String if attr.oid in IA5 else x509.name._ASN1Type.UTF8String)
        assert attr._type == want, attr
    exts = req.extensions
    assert [e.oid.dotted_string for e in exts] == ["2.5.29.17", "2.5.29.15", "2.5.29.37", "2.5.29.19",
                                                   OID_RAW_EXT.dotted_string]
    san = exts.get_extension_for_class(x509.SubjectAlternativeName)
    assert san.critical is False and san.value == EXPECTED_SAN
    ku = exts.get_extension_for_class(x509.KeyUsage)
    assert ku.critical is True
    assert ku.value == x509.KeyUsage(True, False, False, False, True, False, False, False, False)
    eku = exts.get_extension_for_class(x509.ExtendedKeyUsage)
    assert eku.critical is False
    assert list(eku.value) == [ExtendedKeyUsageOID.CLIENT_AUTH, ExtendedKeyUsageOID.SERVER_AUTH, OID_PRIVATE_EKU]
    bc = exts.get_extension_for_class(x509.BasicConstraints)
    assert bc.critical is True and bc.value == x509.BasicConstraints(ca=False, path_length=None)
    raw = exts.get_extension_for_oid(OID_RAW_EXT)
    assert raw.critical is False and raw.value.value == b"\x0c\x05hello"
    assert req.attributes.get_attribute_for_oid(OID_CHALLENGE).value == b"Zm9vYmFy+/A="
    assert req.attributes.get_attribute_for_oid(OID_CHALLENGE)._type == 19  # PrintableString
    assert req.attributes.get_attribute_for_oid(OID_RAW_ATTR).value == b"hi"

    # asn1crypto, and its canonical re-encoding equals ours byte for byte
    a = a_csr.CertificationRequest.load(der)
    assert a.dump(force=True) == der
    info = a["certification_request_info"]
    assert info["version"].native == "v1"
    assert info["subject_pk_info"].dump() == key.public_key_der()
    assert a["signature_algorithm"]["algorithm"].dotted == SIG_OIDS[kind]
    assert info["subject"].native["common_name"] == "sensor-9"
    assert info["subject"].native["country_name"] == "DE"
    attrs = {x["type"].dotted: x["values"] for x in info["attributes"]}
    assert set(attrs) == {"1.2.840.113549.1.9.7", "1.2.840.113549.1.9.14", OID_RAW_ATTR.dotted_string}
    assert attrs["1.2.840.113549.1.9.7"].native == ["Zm9vYmFy+/A="]
    assert [v.dump() for v in attrs[OID_RAW_ATTR.dotted_string]] == [b"\x0c\x02hi"]
    ext_req = attrs["1.2.840.113549.1.9.14"].native[0]
    assert [e["extn_id"] for e in ext_req] == ["subject_alt_name", "key_usage", "extended_key_usage",
                                               "basic_constraints", OID_RAW_EXT.dotted_string]
    assert ext_req[0]["extn_value"] == ["sensor-9.acme.example", "*.sensor-9.acme.example", "192.0.2.9",
                                        "2001:db8::9", "::ffff:198.51.100.9",
                                        "urn:uuid:f81d4fae-7dec-11d0-a765-00a0c91e6bf6", "ops@acme.example"]
    assert ext_req[1]["extn_value"] == {"digital_signature", "key_agreement"}
    assert ext_req[3]["extn_value"] == {"ca": False, "path_len_constraint": None}

    # tinyest's own reader agrees with cryptography
    p = csr_read.Csr(der)
    p.verify()
    assert p.subject == req.subject.rfc4514_string(NAME_OVERRIDES)
    assert oid_str(p.signature_oid) == SIG_OIDS[kind]
    assert p.challenge_password == "Zm9vYmFy+/A="
    assert p.san == [("dns", "sensor-9.acme.example"), ("dns", "*.sensor-9.acme.example"),
                     ("ip", _packed("192.0.2.9")), ("ip", _packed("2001:db8::9")),
                     ("ip", _packed("::ffff:198.51.100.9")),
                     ("uri", "urn:uuid:f81d4fae-7dec-11d0-a765-00a0c91e6bf6"), ("email", "ops@acme.example")]


def test_empty_subject_and_ca_request(tmp_path):
    key = _key("P-256")
    der = (CsrBuilder().subject([]).ip("10.0.0.1").basic_constraints(True, 0)
           .key_usage("keyCertSign", "cRLSign").sign(key))
    _openssl_verify(tmp_path, der)
    req = x509.load_der_x509_csr(der)
    assert req.is_signature_valid
    assert len(req.subject) == 0
    san = req.extensions.get_extension_for_class(x509.SubjectAlternativeName)
    assert san.critical is True  # RFC 5280 4.2.1.6: empty subject
    assert req.extensions.get_extension_for_class(x509.BasicConstraints).value == x509.BasicConstraints(True, 0)
    ku = req.extensions.get_extension_for_class(x509.KeyUsage).value
    assert ku.key_cert_sign and ku.crl_sign and not ku.digital_signature
    assert a_csr.CertificationRequest.load(der).dump(force=True) == der


def test_utf8_challenge_password_and_unicode_subject():
    key = keys.load_private(_pkcs8(c_ed25519.Ed25519PrivateKey.generate()))
    der = CsrBuilder().subject([("CN", "Ger\u00e4t \u2603"), ("O", "#1 ,co")]).challenge_password(
        "p\u00e4ss").sign(key)
    req = x509.load_der_x509_csr(der)
    assert req.is_signature_valid
    attr = req.attributes.get_attribute_for_oid(OID_CHALLENGE)
    assert attr._type == 12 and attr.value == "p\u00e4ss".encode()
    assert csr_read.Csr(der).subject == req.subject.rfc4514_string()
    assert a_csr.CertificationRequest.load(der).dump(force=True) == der


def test_multi_valued_raw_attribute(tmp_path, monkeypatch):
    _teach_asn1crypto(monkeypatch)
    # values given out of order come out DER-sorted (X.690 11.6)
    der = (CsrBuilder().subject([("CN", "m")])
           .attribute("1.3.6.1.4.1.55555.8", b"\x0c\x03bcd", b"\x0c\x01z", b"\x0c\x01a")
           .sign(_CryptographySigner()))
    _openssl_verify(tmp_path, der)
    a = a_csr.CertificationRequest.load(der)
    assert a.dump(force=True) == der
    (attr,) = a["certification_request_info"]["attributes"]
    assert [v.dump() for v in attr["values"]] == [b"\x0c\x01a", b"\x0c\x01z", b"\x0c\x03bcd"]


class _CryptographySigner:
    """A signer outside tinyest, as a secure element would be."""

    def __init__(self):
        self.key = c_ec.generate_private_key(c_ec.SECP256R1())

    def public_key_der(self):
        return self.key.public_key().public_bytes(serialization.Encoding.DER,
                                                  serialization.PublicFormat.SubjectPublicKeyInfo)

    def algorithm_der(self):
        return bytes.fromhex("300a06082a8648ce3d040302")

    def sign(self, data):
        return self.key.sign(data, c_ec.ECDSA(hashes.SHA256()))


def test_external_signer_and_split_signing(tmp_path):
    se = _CryptographySigner()
    b = _full_builder()
    der = b.sign(se)
    assert x509.load_der_x509_csr(der).is_signature_valid
    info = b.info_der(se.public_key_der())
    der2 = csr.assemble(info, se.algorithm_der(), se.sign(info))
    _openssl_verify(tmp_path, der2)
    p = csr_read.Csr(der2)
    p.verify()
    assert p.tbs == info


def test_reader_on_foreign_csrs(tmp_path):
    # a CSR written by OpenSSL
    subprocess.run(["openssl", "req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
                    "-nodes", "-keyout", str(tmp_path / "k.pem"), "-out", str(tmp_path / "r.der"),
                    "-outform", "DER", "-subj", "/C=DE/O=Open SSL/CN=ossl+serialNumber=7",
                    "-addext", "subjectAltName=DNS:ossl.example,IP:2001:db8:0:0:1:0:0:1"],
                   check=True, capture_output=True, timeout=60)
    der = (tmp_path / "r.der").read_bytes()
    p = csr_read.Csr(der)
    p.verify()
    req = x509.load_der_x509_csr(der)
    assert p.subject == req.subject.rfc4514_string(NAME_OVERRIDES)
    assert p.san == [("dns", "ossl.example"), ("ip", _packed("2001:db8:0:0:1:0:0:1"))]
    # the committed cryptography vector
    p = csr_read.Csr(VECTOR)
    p.verify()
    assert p.subject == x509.load_der_x509_csr(VECTOR).subject.rfc4514_string(NAME_OVERRIDES)


def test_verify_refuses_a_foreign_bad_signature():
    req = x509.CertificateSigningRequestBuilder().subject_name(
        x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "x")])).sign(
        c_ec.generate_private_key(c_ec.SECP384R1()), hashes.SHA384())
    der = bytearray(req.public_bytes(serialization.Encoding.DER))
    der[-3] ^= 0x01
    p = csr_read.Csr(bytes(der))
    with pytest.raises(EstError):
        p.verify()


# ---------------------------------------------------------------- IP text, differentially


@given(st.integers(0, 2**128 - 1))
@settings(max_examples=300, deadline=None)
def test_ipv6_forms_agree_with_ipaddress(n):
    a = ipaddress.IPv6Address(n)
    for text in (a.compressed, a.exploded, a.compressed.upper()):
        assert ip_octets(text) == a.packed
    txt = names.ip_text(a.packed)
    if a.ipv4_mapped is None:
        assert txt == a.compressed
    else:
        assert txt == "::ffff:" + str(a.ipv4_mapped)
    assert ip_octets(txt) == a.packed


@given(st.text(alphabet="0123456789abcdefABCDEF:.", max_size=46))
@settings(max_examples=2000, deadline=None)
def test_ip_acceptance_agrees_with_ipaddress(text):
    try:
        want = ipaddress.ip_address(text).packed
    except ValueError:
        want = None
    assert ip_octets(text) == want, text


# ---------------------------------------------------------------- what the builder accepts, others read

_SIGNER = None


def _signer():
    global _SIGNER
    if _SIGNER is None:
        _SIGNER = _CryptographySigner()
    return _SIGNER


_TEXT = st.text(alphabet=st.characters(max_codepoint=0x2FF), max_size=70)
_ASCII = st.text(alphabet=st.characters(min_codepoint=0, max_codepoint=0x7F), max_size=40)


@given(st.sampled_from(["CN", "O", "C", "serialNumber", "emailAddress", "DC", "1.2.3.4"]), _TEXT,
       st.sampled_from(["dns", "email", "uri", "ip"]), _ASCII)
@settings(max_examples=600, deadline=None)
def test_accepted_input_reads_back(attr, value, kind, name):
    b = CsrBuilder()
    try:
        b = b.subject([(attr, value)])
    except FormatError:
        b = b.subject([("CN", "x")])
        value = None
    try:
        b = getattr(b, kind)(name)
    except FormatError:
        name = None
        b = b.dns("fallback.example")
    data = b.sign(_signer())
    req = x509.load_der_x509_csr(data)
    assert req.is_signature_valid
    if value is not None:
        (got,) = list(req.subject)
        assert got.value == value
        assert csr_read.Csr(data).subject == req.subject.rfc4514_string(NAME_OVERRIDES)
    if name is not None:
        gn = req.extensions.get_extension_for_class(x509.SubjectAlternativeName).value[0]
        if kind == "ip":
            assert gn.value.packed == ip_octets(name)
        else:
            assert gn.value == name


# ---------------------------------------------------------------- fuzzing the reader


def _only_est_errors(data):
    try:
        p = csr_read.Csr(data)
    except EstError:
        return
    try:
        p.verify()
    except EstError:
        pass


@given(st.binary(max_size=600))
@settings(max_examples=1500, deadline=None)
def test_fuzz_random_bytes(data):
    _only_est_errors(data)


@given(st.binary(max_size=600))
@settings(max_examples=500, deadline=None)
def test_fuzz_random_bytes_in_a_sequence(data):
    _only_est_errors(der.seq(data))


@st.composite
def _mutations(draw):
    data = bytearray(VECTOR)
    for _ in range(draw(st.integers(1, 4))):
        op = draw(st.sampled_from(["flip", "set", "cut", "insert", "delete"]))
        i = draw(st.integers(0, len(data) - 1))
        if op == "flip":
            data[i] ^= 1 << draw(st.integers(0, 7))
        elif op == "set":
            data[i] = draw(st.integers(0, 255))
        elif op == "cut":
            del data[i:]
        elif op == "insert":
            data[i:i] = draw(st.binary(min_size=1, max_size=4))
        else:
            del data[i:i + draw(st.integers(1, 8))]
        if not data:
            data = bytearray(b"\x30")
    return bytes(data)


@given(_mutations())
@settings(max_examples=1500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_fuzz_mutated_csr(data):
    _only_est_errors(data)


# ---------------------------------------------------------------- the demo


def _run_demo(*args):
    p = subprocess.run([sys.executable, "-m", "host_tools.demo", *args], cwd=str(ROOT),
                       capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stdout + p.stderr
    return p.stdout


@pytest.mark.parametrize("args,cn", [((), "tinyest-demo"), (("pump-17",), "pump-17")])
def test_demo(args, cn):
    out = _run_demo(*args)
    lines = out.splitlines()
    i = lines.index("-----BEGIN CERTIFICATE REQUEST-----")
    assert i > 0 and all(line.startswith("demo: ") for line in lines[:i])
    req = x509.load_pem_x509_csr(out[out.index("-----BEGIN"):].encode())
    assert req.is_signature_valid
    assert req.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == cn
    assert isinstance(req.public_key(), c_ec.EllipticCurvePublicKey)
    assert req.public_key().curve.name == "secp256r1"


def test_demo_refuses_a_bad_name():
    p = subprocess.run([sys.executable, "-m", "host_tools.demo", "x" * 65], cwd=str(ROOT),
                       capture_output=True, text=True, timeout=120)
    assert p.returncode == 1
    assert p.stderr.startswith("demo: ") and "BEGIN" not in p.stdout
