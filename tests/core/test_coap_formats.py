"""tinyest.coap_formats on both runtimes: discovery link-format (RFC 6690, the
EST resource types of RFC 9148 4.1) and multipart-core (RFC 8710).
tests/host/test_coap_host.py checks the multipart reader against cbor2."""

from _t import h, raises

from tinyest import coap_formats as cf
from tinyest.errors import ProtocolError

# Every EST resource listed on its own (RFC 9148 4.1), one per line as servers send them
FULL = ('</est/crts>;rt="ace.est.crts";ct="281 287",\n</est/sen>;rt="ace.est.sen";ct="281 287",\n'
        '</est/sren>;rt="ace.est.sren";ct="281 287",\n</est/att>;rt="ace.est.att";ct=285,\n'
        '</est/skg>;rt="ace.est.skg";ct=62,\n</est/skc>;rt="ace.est.skc";ct=62')
# Only the root, with a space after the semicolon (the RFC's own example)
ROOT = '</est>; rt="ace.est.sen"'
# RFC 6690's own examples among other links
MIXED = ('</sensors/temp>;rt="temperature-c";if="sensor", </sensors/light>;rt="light-lux";if="sensor",'
         '</e/cr>;rt="ace.est.crts";title="a \\"quoted\\", title";obs,</e/se>;rt="x ace.est.sen"')
# [284, key, 281, certs]: the answer to /skg
SKG = h("84 19011c 43 010203 190119 42 3000")


def test_links():
    got = cf.links(FULL)
    assert len(got) == 6
    assert got[0] == ("/est/crts", {"rt": "ace.est.crts", "ct": "281 287"})
    assert got[3] == ("/est/att", {"rt": "ace.est.att", "ct": "285"})
    assert cf.links(ROOT) == [("/est", {"rt": "ace.est.sen"})]
    got = cf.links(MIXED.encode())
    assert got[2] == ("/e/cr", {"rt": "ace.est.crts", "title": 'a "quoted", title', "obs": None})
    assert got[0][1] == {"rt": "temperature-c", "if": "sensor"}
    assert cf.links("") == [] and cf.links(" ") == []
    # the first occurrence of a parameter counts
    assert cf.links('<a>;rt=x;rt=y') == [("a", {"rt": "x"})]


def test_est_paths():
    full = cf.est_paths(FULL)
    assert full == {n: "/est/" + n for n in ("crts", "sen", "sren", "att", "skg", "skc")}
    assert cf.est_paths(ROOT) == full
    # a root and resources of their own: the listed ones win
    assert cf.est_paths('</x/crts>;rt="ace.est.crts", </est/>;rt="ace.est.sen"') == {
        "crts": "/x/crts", "sen": "/est/sen", "sren": "/est/sren", "att": "/est/att", "skg": "/est/skg",
        "skc": "/est/skc"}
    mixed = cf.est_paths(MIXED)
    assert mixed["crts"] == "/e/cr" and mixed["sen"] == "/e/se/sen" and mixed["att"] == "/e/se/att"
    assert cf.est_paths('</sensors/temp>;rt="temperature-c"') == {}
    assert cf.est_paths('</est/foo>;rt="ace.est.foo"') == {}


def test_bad_link_format():
    for bad in ('/est/crts;rt=x', '</est/crts;rt=x', '<a>;="x"', '<a>;rt="x', '<a>,', '<a> <b>', '<a>;rt=x,,<b>',
                b'<\xff>', '<a>' + ',<a>' * 64, '<' + 'a' * 9000 + '>'):
        raises(ProtocolError, cf.links, bad)


def test_multipart():
    assert cf.multipart(SKG) == [(284, b"\x01\x02\x03"), (281, b"\x30\x00")]
    assert cf.multipart(h("82 00 f6")) == [(0, None)]
    assert cf.multipart(h("80")) == []
    # longer heads: a uint in 4 octets, a byte string length in 2
    assert cf.multipart(h("82 1a00000011 5900 03 616263")) == [(17, b"abc")]


def test_bad_multipart():
    for bad in ("", "83 00 40 01", "a2 00 40", "82 00", "82 00 43 0102", "82 1a00010000 40", "82 00 40 00",
                "9f 00 40 ff", "82 20 40", "82 00 60", "82 00 5f 41 00 ff", "82 1c 40", "82 00 41",
                "92" + "0040" * 9, "82 1b0000000000010000 40"):
        raises(ProtocolError, cf.multipart, h(bad))
