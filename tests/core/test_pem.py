"""PEM armor: the lax forms real files use, and refusals."""

from tinyest import pem
from tinyest.errors import FormatError, EstError
from _t import raises

DER = bytes(range(256)) * 2


def test_round_trip_and_line_width():
    text = pem.encode(DER, "CERTIFICATE")
    lines = text.splitlines()
    assert lines[0] == "-----BEGIN CERTIFICATE-----"
    assert lines[-1] == "-----END CERTIFICATE-----"
    assert max([len(x) for x in lines[1:-1]]) == 64
    assert text.endswith("\n")
    assert pem.decode(text) == DER
    assert pem.decode(text.encode(), "CERTIFICATE") == DER


def test_lax_forms():
    text = pem.encode(DER, "CERTIFICATE")
    body = "".join(text.splitlines()[1:-1])
    variants = [
        ("crlf", text.replace("\n", "\r\n")),
        ("one line", "-----BEGIN CERTIFICATE-----" + body + "-----END CERTIFICATE-----"),
        ("76 columns", "-----BEGIN CERTIFICATE-----\n"
         + "\n".join([body[i:i + 76] for i in range(0, len(body), 76)]) + "\n-----END CERTIFICATE-----"),
        ("explanatory text", "Subject: CN=x\n  indented\n" + text + "trailing\n"),
        ("blank lines and tabs", text.replace("\n", "\n\t \n")),
    ]
    for name, v in variants:
        assert pem.decode(v) == DER, name


def test_many_blocks_and_labels():
    a = pem.encode(b"\x30\x00", "CERTIFICATE")
    b = pem.encode(b"\x30\x03\x02\x01\x01", "EC PRIVATE KEY")
    both = a + "junk\n" + b + a
    assert pem.decode_all(both) == [("CERTIFICATE", b"\x30\x00"), ("EC PRIVATE KEY", b"\x30\x03\x02\x01\x01"),
                                    ("CERTIFICATE", b"\x30\x00")]
    assert pem.decode(both, "EC PRIVATE KEY") == b"\x30\x03\x02\x01\x01"
    assert len(pem.decode_all(both, "CERTIFICATE")) == 2
    assert pem.is_pem(both) and pem.is_pem(both.encode()) and not pem.is_pem(DER)


def test_refusals():
    good = pem.encode(DER, "CERTIFICATE")
    bad = [
        ("no block", "hello"),
        ("no END", good.replace("-----END CERTIFICATE-----", "")),
        ("mismatched END", good.replace("END CERTIFICATE", "END X509 CRL")),
        ("bad character", good.replace("A", "*", 1)),
        ("bad character kept to a multiple of 4", good.replace("AAEC", "AA*C", 1)),
        ("non-ASCII letter", good.replace("A", "\u00e9", 1)),
        ("non-zero pad bits", "-----BEGIN X-----\nQR==\n-----END X-----\n"),
        ("bad length", good.replace("\n-----END", "A\n-----END")),
        ("legacy encrypted headers", "-----BEGIN RSA PRIVATE KEY-----\nProc-Type: 4,ENCRYPTED\n\nAAAA\n"
         "-----END RSA PRIVATE KEY-----\n"),
        ("empty", "-----BEGIN X-----\n-----END X-----\n"),
        ("wrong label", good, "PRIVATE KEY"),
        ("not utf-8", b"\xff\xfe-----BEGIN"),
        ("unterminated BEGIN", "-----BEGIN CERTIFICATE"),
    ]
    for case in bad:
        name, text = case[0], case[1]
        label = case[2] if len(case) > 2 else None
        e = raises(FormatError, pem.decode, text, label)
        assert isinstance(e, EstError), name


def test_block_count_is_bounded():
    one = pem.encode(b"\x05\x00", "X")
    raises(FormatError, pem.decode_all, one * (pem.MAX_BLOCKS + 1))
    assert len(pem.decode_all(one * pem.MAX_BLOCKS)) == pem.MAX_BLOCKS


def test_large_text_is_decoded_in_linear_time():
    # 400 KB of PEM (the body check runs at binascii's speed on both runtimes; it
    # took a Python loop per character before), and the same with one bad character
    # at the very end: refused, not skipped.
    block = pem.encode(DER * 40, "CERTIFICATE")  # 20 KiB of DER per block
    text = block * 15
    assert len(text) > 400000 and len(pem.decode_all(text)) == 15
    bad = text[:-40] + "*" + text[-39:]
    raises(FormatError, pem.decode_all, bad)
