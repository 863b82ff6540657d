"""DER codec against independent oracles (asn1crypto) and random input (hypothesis)."""
import datetime

import asn1crypto.core as core
from hypothesis import given, settings, strategies as st

from tinyest import der, der_extra
from tinyest.errors import DERError


@given(st.integers(min_value=-(2**2100), max_value=2**2100))
@settings(max_examples=300, deadline=None)
def test_integer_matches_asn1crypto(x):
    enc = der.integer(x)
    assert enc == core.Integer(x).dump()
    assert der.Reader(enc).read_int() == x


@given(st.lists(st.integers(min_value=0, max_value=2**70), min_size=1, max_size=12), st.integers(0, 2), st.integers(0, 39))
@settings(max_examples=200, deadline=None)
def test_oid_matches_asn1crypto(arcs, first, second):
    if first == 2:
        second = second * 1000
    dotted = ".".join(str(a) for a in [first, second] + arcs)
    enc = der.oid(dotted)
    assert enc == core.ObjectIdentifier(dotted).dump()
    assert der.oid_str(der.Reader(enc).read_oid()) == dotted


@given(st.text(max_size=300))
@settings(max_examples=200, deadline=None)
def test_utf8_and_length_forms_match_asn1crypto(s):
    assert der.utf8(s) == core.UTF8String(s).dump()
    assert der.Reader(der.utf8(s)).read_string()[1] == s


@given(st.binary(max_size=70000))
@settings(max_examples=30, deadline=None)
def test_octet_string_lengths_match(b):
    assert der.octet_string(b) == core.OctetString(b).dump()


@given(st.lists(st.binary(max_size=8), max_size=8))
@settings(max_examples=200, deadline=None)
def test_set_of_order_matches_asn1crypto(items):
    parts = [core.OctetString(b).dump() for b in items]

    class S(core.SetOf):
        _child_spec = core.OctetString

    ref = S([core.OctetString(b) for b in items]).dump(force=True)
    assert der.set_of(*parts) == ref


@given(st.datetimes(min_value=datetime.datetime(1950, 1, 1), max_value=datetime.datetime(9999, 12, 31, 23, 59, 59)))
@settings(max_examples=300, deadline=None)
def test_time_matches_asn1crypto(dt):
    dt = dt.replace(microsecond=0, tzinfo=datetime.timezone.utc)
    t = int(dt.timestamp())
    enc = der_extra.time(t)
    if dt.year < 2050:
        assert enc == core.UTCTime(dt).dump()
    else:
        assert enc == core.GeneralizedTime(dt).dump()
    assert der.Reader(enc).read_time() == t
    assert der_extra.gmtime(t) == (dt.year, dt.month, dt.day, dt.hour, dt.minute, dt.second)


def _walk(r, depth=0):
    # Read everything a generic consumer would: recurse into constructed types.
    while not r.empty():
        tag = r.peek_tag()
        if tag & 0x20:
            _walk(r.enter(tag), depth + 1)
        elif tag == der.INTEGER:
            r.read_int()
        elif tag == der.OID:
            der.oid_str(r.read_oid())
        elif tag in (der.UTC_TIME, der.GENERALIZED_TIME):
            r.read_time()
        elif tag == der.BIT_STRING:
            r.read_bit_string()
        elif tag == der.BOOLEAN:
            r.read_bool()
        elif tag in (der.UTF8_STRING, der.PRINTABLE_STRING, der.IA5_STRING, der.BMP_STRING, der.T61_STRING):
            r.read_string()
        else:
            r.skip()
    r.done()


@given(st.binary(max_size=200), st.booleans())
@settings(max_examples=2000, deadline=None)
def test_random_bytes_only_raise_der_error(data, ber):
    try:
        _walk(der.Reader(data, ber=ber))
    except DERError:
        pass


@given(st.data())
@settings(max_examples=1000, deadline=None)
def test_mutated_structures_only_raise_der_error(data):
    base = der.seq(der.integer(2**100), der.oid("1.2.840.113549.1.1.11"), der.null(),
                   der.set_of(der.utf8("héllo"), der_extra.printable("abc")), der_extra.time(2**31),
                   der.explicit(0, der.bit_string(b"\x01\x02", 1)), der.boolean(True))
    buf = bytearray(base)
    for _ in range(data.draw(st.integers(1, 4))):
        i = data.draw(st.integers(0, len(buf) - 1))
        buf[i] = data.draw(st.integers(0, 255))
    try:
        _walk(der.Reader(bytes(buf), ber=data.draw(st.booleans())))
    except DERError:
        pass


def test_strict_reader_agrees_with_asn1crypto_on_valid_der():
    enc = der.seq(der.integer(-5), der.oid("2.5.4.3"), der.octet_string(b"x" * 300))
    parsed = core.Sequence.load(enc, strict=True)
    assert parsed.dump() == enc
