"""PEM armor (RFC 7468) around DER, text in and text out.

``decode`` accepts the strict and the lax RFC 7468 forms: any line width, LF or
CRLF, blank space around lines, text before, between and after blocks, and
RFC 1421 headers (``Proc-Type: ...``) are refused, because they mean an
encrypted legacy key, which this library cannot use. The base64 alphabet is
checked here (MicroPython's a2b_base64 silently skips bad characters): a block
must be the canonical base64 of what it decodes to (RFC 4648 3.5: no stray
characters, zero pad bits), which is checked by encoding it again, so decoding
stays linear and runs at the speed of binascii on both runtimes.
Limits: at most ``MAX_BLOCKS`` blocks per text.
"""

import binascii

from tinyest.errors import FormatError

MAX_BLOCKS = 64


def decode_all(data, label=None):
    """Every PEM block in data, as a list of (label, der). With ``label``,
    blocks of other labels are skipped."""
    if not isinstance(data, str):
        try:
            data = str(bytes(data), "utf-8")
        except UnicodeError:
            raise FormatError("PEM text is not UTF-8")
    out = []
    pos = 0
    while True:
        start = data.find("-----BEGIN ", pos)
        if start < 0:
            return out
        eol = data.find("-----", start + 11)
        if eol < 0:
            raise FormatError("unterminated PEM BEGIN line")
        name = data[start + 11:eol]
        end_line = "-----END " + name + "-----"
        stop = data.find(end_line, eol + 5)
        if stop < 0:
            raise FormatError("no END line for PEM " + name)
        pos = stop + len(end_line)
        if label is not None and name != label:
            continue
        body = "".join(data[eol + 5:stop].split())
        if ":" in body:
            raise FormatError("PEM headers (encrypted legacy key?) are not supported")
        if len(body) % 4:
            raise FormatError("bad base64 length in PEM " + name)
        try:
            der = binascii.a2b_base64(body)
        except ValueError:
            raise FormatError("bad base64 padding in PEM " + name)
        # Strict base64 at C speed: MicroPython's a2b_base64 skips bad characters,
        # so only text that is the canonical encoding of what it decodes to is taken.
        if not der or binascii.b2a_base64(der, newline=False) != body.encode():
            raise FormatError("bad or empty base64 in PEM " + name)
        out.append((name, der))
        if len(out) > MAX_BLOCKS:
            raise FormatError("more than %d PEM blocks" % MAX_BLOCKS)


def decode(data, label=None):
    """DER of the first PEM block (of ``label``, if given)."""
    blocks = decode_all(data, label)
    if not blocks:
        raise FormatError("no PEM block " + (label or ""))
    return blocks[0][1]


def is_pem(data):
    """True if data looks like PEM text rather than DER."""
    if not isinstance(data, str):
        data = bytes(data)
        return b"-----BEGIN " in data
    return "-----BEGIN " in data


def encode(der, label):
    """PEM text of DER: 64 base64 characters per line, LF line ends."""
    b64 = binascii.b2a_base64(bytes(der)).strip().decode()
    out = "-----BEGIN " + label + "-----\n"
    for i in range(0, len(b64), 64):
        out += b64[i:i + 64] + "\n"
    return out + "-----END " + label + "-----\n"
