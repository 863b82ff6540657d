"""tinyest.coap against aiocoap, an independent CoAP implementation: the core
test vectors, random messages both ways, and mutated datagrams (where tinyest
accepts one, aiocoap reads the same message; tinyest refuses with ProtocolError
only). tinyest.coap_formats' multipart-core reader against cbor2."""
import warnings

import aiocoap
import cbor2
import pytest
from aiocoap import optiontypes
from aiocoap.numbers.optionnumbers import OptionNumber
from hypothesis import given, settings
from hypothesis import strategies as st
from mutations import EDITS, mutate

import test_coap  # tests/core
from tinyest import coap, coap_formats
from tinyest.errors import ProtocolError

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


# Options aiocoap reads as text or integers (and writes back normalised): the
# comparisons below take their octets from the datagram instead.
TYPED = [n for n in range(3001) if OptionNumber(n).format is not optiontypes.OpaqueOption]


def _theirs(data):
    """(type, code, mid, token, [(number, octets)], payload) as aiocoap reads
    data; the octets of a TYPED option as aiocoap writes its value back."""
    m = aiocoap.Message.decode(data)
    opts = [(int(o.number), o.encode()) for o in m.opt.option_list()]
    return int(m.mtype), int(m.code), m.mid, m.token, opts, m.payload


def _ours(m):
    return m.mtype, m.code, m.mid, bytes(m.token), [(n, bytes(v)) for n, v in m.options], bytes(m.payload)


def _their_encoding(m):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        a = aiocoap.Message(code=m.code, payload=m.payload)
        a.mtype = aiocoap.numbers.types.Type(m.mtype)
        a.mid = m.mid
        a.token = m.token
    for n, v in m.options:
        a.opt.add_option(optiontypes.OpaqueOption(n, v))
    return a.encode()


def test_core_vectors_read_the_same_in_aiocoap():
    for name in ("GET_TEMPERATURE", "CONTENT_281", "EXTENDED", "BLOCKS"):
        data = getattr(test_coap, name)
        assert _theirs(data) == _ours(coap.decode(data)), name
        assert _their_encoding(coap.decode(data)) == data, name
    blocks = aiocoap.Message.decode(test_coap.BLOCKS)
    assert tuple(blocks.opt.block2) == (2, True, 2) and tuple(blocks.opt.block1) == (0xFFFFF, False, 6)


OPTIONS = st.lists(st.tuples(st.integers(1, 3000).filter(lambda n: n not in TYPED), st.binary(max_size=300)),
                   max_size=8)


@settings(max_examples=300, deadline=None)
@given(st.integers(0, 3), st.integers(1, 255), st.integers(0, 0xFFFF), st.binary(max_size=8), OPTIONS,
       st.binary(max_size=200))
def test_random_messages_both_ways(mtype, code, mid, token, options, payload):
    m = coap.Message(mtype, code, mid, token, options, payload)
    ours = coap.encode(m)
    want = (mtype, code, mid, token, sorted(options, key=lambda o: o[0]), payload)
    assert _theirs(ours) == want
    assert _their_encoding(m) == ours
    assert _ours(coap.decode(ours)) == want


SEEDS = [test_coap.GET_TEMPERATURE, test_coap.CONTENT_281, test_coap.EXTENDED, test_coap.BLOCKS]


@settings(max_examples=1500, deadline=None)
@given(st.sampled_from(SEEDS), EDITS)
def test_mutated_datagrams(seed, edits):
    data = mutate(seed, edits)
    try:
        m = coap.decode(data)
    except ProtocolError:
        return
    try:
        theirs = _theirs(data)
    except UnicodeDecodeError:  # a text option that is not UTF-8: aiocoap types it, tinyest does not
        theirs = None
    if theirs is not None:
        ours = _ours(m)
        # typed options: the same numbers in the same order; opaque ones: the same octets
        assert theirs[:4] + theirs[5:] == ours[:4] + ours[5:]
        assert [n for n, _ in theirs[4]] == [n for n, _ in ours[4]]
        assert [o for o in theirs[4] if o[0] not in TYPED] == [o for o in ours[4] if o[0] not in TYPED]
    for n in (coap.BLOCK1, coap.BLOCK2, coap.CONTENT_FORMAT, coap.SIZE2):
        try:
            m.block(n) if n in (coap.BLOCK1, coap.BLOCK2) else m.uint(n)
        except ProtocolError:
            pass


# ---------------------------------------------------------------- multipart-core against cbor2

PARTS = st.lists(st.tuples(st.integers(0, 0xFFFF), st.one_of(st.none(), st.binary(max_size=300))),
                 max_size=coap_formats.MAX_PARTS)


@settings(max_examples=300, deadline=None)
@given(PARTS)
def test_multipart_reads_what_cbor2_writes(parts):
    flat = []
    for ct, body in parts:
        flat += [ct, body]
    assert coap_formats.multipart(cbor2.dumps(flat)) == parts


CBOR = st.recursive(st.one_of(st.none(), st.booleans(), st.integers(-2**70, 2**70), st.binary(max_size=20),
                              st.text(max_size=10), st.floats(allow_nan=False)),
                    lambda inner: st.lists(inner, max_size=6), max_leaves=20)


@settings(max_examples=500, deadline=None)
@given(CBOR)
def test_multipart_refuses_other_cbor_or_agrees(value):
    data = cbor2.dumps(value)
    try:
        got = coap_formats.multipart(data)
    except ProtocolError:
        return
    assert isinstance(value, list) and len(value) == 2 * len(got)
    assert [x for part in got for x in part] == value
