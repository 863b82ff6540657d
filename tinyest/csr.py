"""PKCS#10 certification requests (RFC 2986) as a device makes them.

    der = csr.request(key, "device-0042", ["device-0042.example.com"])
    der = csr.renewal(current_cert_der, new_key)

``request`` makes a first request: subject CN (UTF8String) and dNSName
subjectAltName entries. ``renewal`` makes a re-enrollment request whose subject
and subjectAltName extension are the current certificate's, byte for byte
(RFC 7030 4.2.2: servers compare them). Both take any signer with
``public_key_der()``, ``algorithm_der()`` and ``sign(data)``; a signer that
works elsewhere uses ``assemble(info, alg, sig)``. Every other request (more
subject attributes, IP/URI/e-mail names, key usages, attributes) comes from
``tinyest.csr_build.CsrBuilder``, which is not on a device's path, and the
reader is ``tinyest.csr_read``.

Checks: a CN of 1 to 64 characters and DNS names of LDH labels (at most 63
characters each, 253 in all, a leading '*' label allowed), no control
characters. Errors: FormatError (DERError for a signer's malformed DER), their
texts numbered here and held by ``tinyest.csr_rare``, loaded with the first.
"""

from tinyest import der, texts
from tinyest.errors import FormatError
from tinyest.x509 import OID_SAN, Certificate

try:
    from micropython import const
except ImportError:  # CPython: every constant here is an int
    const = int

OID_CHALLENGE_PASSWORD = b"\x2a\x86\x48\x86\xf7\x0d\x01\x09\x07"  # 1.2.840.113549.1.9.7
OID_EXTENSION_REQUEST = b"\x2a\x86\x48\x86\xf7\x0d\x01\x09\x0e"  # 1.2.840.113549.1.9.14
OID_CN = b"\x55\x04\x03"  # 2.5.4.3

# GeneralName tags (RFC 5280 4.2.1.6, IMPLICIT)
GN_EMAIL = 0x81
GN_DNS = 0x82
GN_URI = 0x86
GN_IP = 0x87

# Error texts by number: csr_rare.TEXTS, loaded with the first error (a board
# would pay heap for a string literal per message each time it makes a request).
_NOT_STR = const(0)
_EMPTY = const(1)
_CONTROL = const(2)
_SURROGATE = const(3)
_NOT_ASCII = const(4)
_LONG_NAME = const(5)
_LABEL_LEN = const(6)
_LABEL_HYPHEN = const(7)
_BAD_CHAR = const(8)
_NOT_DER = const(9)
_NO_SIGNATURE = const(10)
_LONG_CN = const(11)


_error = texts("csr_rare")  # (cls, i, args=()): cls(text i % args)


def check_text(x, what):
    if not isinstance(x, str):
        raise _error(FormatError, _NOT_STR, (what, type(x).__name__))
    if not x:
        raise _error(FormatError, _EMPTY, what)
    for ch in x:
        o = ord(ch)
        if o < 0x20 or o == 0x7F:
            raise _error(FormatError, _CONTROL, (what, x))
        if 0xD800 <= o < 0xE000:  # CPython str may hold lone surrogates; UTF-8 cannot
            raise _error(FormatError, _SURROGATE, (what, x))
    return x


def check_ascii(x, what):
    check_text(x, what)
    for ch in x:
        if ord(ch) > 0x7E:
            raise _error(FormatError, _NOT_ASCII, (what, x))
    return x


def check_hostname(name, what, wildcard=False):
    check_ascii(name, what)
    if len(name) > 253:
        raise _error(FormatError, _LONG_NAME, (what, name))
    labels = name.split(".")
    for i, label in enumerate(labels):
        if wildcard and i == 0 and label == "*" and len(labels) > 1:
            continue
        if not 1 <= len(label) <= 63:
            raise _error(FormatError, _LABEL_LEN, (what, name))
        if label[0] == "-" or label[-1] == "-":
            raise _error(FormatError, _LABEL_HYPHEN, (what, name))
        for ch in label:
            o = ord(ch)
            if not (0x30 <= o <= 0x39 or 0x41 <= o <= 0x5A or 0x61 <= o <= 0x7A or ch == "-"):
                raise _error(FormatError, _BAD_CHAR, (what, name, ch))
    return name


def extension(oid, critical, value):
    """An Extension element (critical only when True, X.690 11.5)."""
    if critical:
        return der.seq(der.oid(oid), der.boolean(True), der.octet_string(value))
    return der.seq(der.oid(oid), der.octet_string(value))


def element(x, what):
    """One whole DER element, as bytes."""
    if not isinstance(x, (bytes, bytearray, memoryview)):
        raise _error(FormatError, _NOT_DER, what)
    x = bytes(x)
    r = der.Reader(x)
    r.read_element()
    r.done()
    return x


def info(subject_der, spki_der, attrs=()):
    """A CertificationRequestInfo (DER): version 0, the subject Name element,
    the SubjectPublicKeyInfo and these Attribute elements, DER-sorted."""
    r = der.top(element(spki_der, "SubjectPublicKeyInfo"))
    r.enter(der.SEQUENCE).read_oid()
    r.read_bits()
    r.done()
    a = der.set_of(*attrs)  # DER order; [0] IMPLICIT keeps length and contents
    return der.seq(b"\x02\x01\x00", subject_der, bytes(spki_der), b"\xa0" + a[1:])


def ext_request(exts):
    """The extensionRequest Attribute (PKCS#9) holding these Extension elements."""
    return der.seq(der.oid(OID_EXTENSION_REQUEST), der.set_of(der.seq(*exts)))


def assemble(info_der, algorithm_der, signature):
    """CertificationRequest DER from a CertificationRequestInfo, the signature
    AlgorithmIdentifier DER and the signature octets."""
    info_der = element(info_der, "CertificationRequestInfo")
    alg = element(algorithm_der, "signature AlgorithmIdentifier")
    der.top(alg).read_oid()
    if not isinstance(signature, (bytes, bytearray, memoryview)) or not len(signature):
        raise _error(FormatError, _NO_SIGNATURE)
    return der.seq(info_der, alg, der.bit_string(bytes(signature)))


def sign(info_der, signer):
    return assemble(info_der, signer.algorithm_der(), signer.sign(info_der))


def request(signer, cn, dns=()):
    """A first request: subject CN=cn, dNSName entries ``dns`` (a name or a list)."""
    check_text(cn, "CN")
    if len(cn) > 64:
        raise _error(FormatError, _LONG_CN, (cn,))
    subject = der.seq(der.set_of(der.seq(der.oid(OID_CN), der.utf8(cn))))
    names = [dns] if isinstance(dns, str) else list(dns or ())
    attrs = []
    if names:
        gns = []
        for n in names:
            gns.append(der.tlv(GN_DNS, check_hostname(n, "DNS name", True).encode()))
        san = der.seq(*gns)
        attrs.append(ext_request([extension(OID_SAN, False, san)]))
    return sign(info(subject, signer.public_key_der(), attrs), signer)


def renewal(cert_der, signer):
    """A re-enrollment request whose subject and subjectAltName extension are
    those of ``cert_der``, copied byte for byte."""
    cert = Certificate(cert_der)
    attrs = []
    san = cert.extension(OID_SAN)
    if san is not None:
        attrs.append(ext_request([extension(OID_SAN, san[0], bytes(san[1]))]))
    return sign(info(bytes(cert.subject_der), signer.public_key_der(), attrs), signer)
