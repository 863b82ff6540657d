"""X.501 names as text (tinyest.names): the one attribute table, RFC 4514 both ways."""

from _t import raises, vector

from tinyest import der, names, x509
from tinyest.errors import DERError, FormatError


def test_parse_rfc4514():
    table = [
        ("CN=dev-1,O=Example", [("O", "Example"), ("CN", "dev-1")]),
        ("cn=a,street=Main 1", [("STREET", "Main 1"), ("CN", "a")]),
        ("CN=a\\,b\\+c\\\\d,C=DE", [("C", "DE"), ("CN", "a,b+c\\d")]),
        ("CN=M\\C3\\BCller", [("CN", "M\u00fcller")]),
        ("2.5.4.97=VATDE-1,CN=x", [("CN", "x"), ("2.5.4.97", "VATDE-1")]),
        ("CN=", [("CN", "")]),
    ]
    for text, want in table:
        assert names.parse(text) == want, (text, names.parse(text))
    for bad in ("CN", "=x", "CN=a,", "XX=1", "CN=a+O=b", "CN=a\\", "CN=\\C3", 5):
        raises(FormatError, names.parse, bad)


def test_text_round_trip_through_a_name():
    # What name_text writes, parse reads back to the same attributes.
    for v in ("a,b", "#lead", " both ", "x+y", 'q"uote', "semi;colon", "<>", "back\\slash"):
        name = der.seq(der.set_of(der.seq(der.oid("2.5.4.3"), der.utf8(v))))
        text = names.name_text(name)
        assert names.parse(text) == [("CN", v)], (v, text)


def test_rdns_and_errors():
    c = x509.Certificate(vector("x509_t61.der"))
    assert names.rdns(c.subject_der)[0] == [("C", "DE")]
    assert names.name_text(c.subject_der) == c.subject
    e = raises(DERError, names.rdns, der.seq(der.set_of()))
    assert "empty RDN" in str(e)
    assert names.ip_text(b"\x7f\x00\x00\x01") == "127.0.0.1"
