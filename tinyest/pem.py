"""PEM armor (RFC 7468) around DER, text in and text out.

``decode`` accepts the strict and the lax RFC 7468 forms: any line width, LF or
CRLF, blank space around lines, text before, between and after blocks, and
RFC 1421 headers (``Proc-Type: ...``) are refused, because they mean an
encrypted legacy key, which this library cannot use. The base64 alphabet is
checked here: MicroPython's a2b_base64 silently skips bad characters.
Limits: at most ``MAX_BLOCKS`` blocks per text.
"""

import binascii

from tinyest.errors import FormatError

MAX_BLOCKS = 64
_B64 = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/="


def _text(data):
    if isinstance(data, str):
        return data
    try:
        return str(bytes(data), "utf-8")
    except UnicodeError:
        raise FormatError("PEM text is not UTF-8")


def b64decode(body):
    """Strict base64 of ASCII bytes with no white space (a2b_base64 is lax)."""
    for c in body:
        if c not in _B64:
            raise FormatError("bad base64 character 0x%02x" % c)
    if len(body) % 4:
        raise FormatError("base64 length is not a multiple of 4")
    try:
        return binascii.a2b_base64(body)
    except ValueError:
        raise FormatError("bad base64 padding")


def decode_all(data, label=None):
    """Every PEM block in data, as a list of (label, der). With ``label``,
    blocks of other labels are skipped."""
    text = _text(data)
    out = []
    pos = 0
    while True:
        start = text.find("-----BEGIN ", pos)
        if start < 0:
            break
        eol = text.find("-----", start + 11)
        if eol < 0:
            raise FormatError("unterminated PEM BEGIN line")
        name = text[start + 11:eol]
        end_line = "-----END " + name + "-----"
        stop = text.find(end_line, eol + 5)
        if stop < 0:
            raise FormatError("no END line for PEM " + name)
        pos = stop + len(end_line)
        if label is not None and name != label:
            continue
        body = text[eol + 5:stop]
        if ":" in body:
            raise FormatError("PEM headers (encrypted legacy key?) are not supported")
        der = b64decode("".join(body.split()).encode())
        if not der:
            raise FormatError("empty PEM " + name)
        out.append((name, der))
        if len(out) > MAX_BLOCKS:
            raise FormatError("more than %d PEM blocks" % MAX_BLOCKS)
    return out


def decode(data, label=None):
    """DER of the first PEM block (of ``label``, if given)."""
    blocks = decode_all(data, label)
    if not blocks:
        raise FormatError("no PEM block" + ("" if label is None else " " + label))
    return blocks[0][1]


def is_pem(data):
    """True if data looks like PEM text rather than DER."""
    if isinstance(data, str):
        return "-----BEGIN " in data
    return b"-----BEGIN " in bytes(data)


def encode(der, label):
    """PEM text of DER: 64 base64 characters per line, LF line ends."""
    b64 = binascii.b2a_base64(bytes(der)).strip().decode()
    lines = ["-----BEGIN " + label + "-----"]
    for i in range(0, len(b64), 64):
        lines.append(b64[i:i + 64])
    lines.append("-----END " + label + "-----")
    return "\n".join(lines) + "\n"
