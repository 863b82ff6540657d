"""Factory provisioning agent: receives a device's bootstrap credentials over the
serial console and commits them to the credential store (``tinyest.store``).

Runs on MicroPython boards and under the unix ``micropython`` interpreter (and
CPython), using only the modules the tinyest core may import. The wire format
described here (frames, CRC, config text, set digest, READBACK items) is
``tinyest.serialwire``, which the host imports too. Start it with
``import provision_agent; provision_agent.main()`` (the host tool
``tinyest-provision`` does this through the raw REPL when the module is on the
board), or on unix::

    micropython provision_agent.py [--root DIR] [--id ID] [--idle SECONDS]

While it runs, the console carries only frames: ``micropython.kbd_intr(-1)``
turns Ctrl-C into data, and it is restored when the agent leaves.

Frames (HDLC-like, RFC 1662 framing with every control character escaped)
    wire    0x7E, escaped body, 0x7E. Inside, the octets 0x00-0x1F, 0x7D, 0x7E and
            0x7F are sent as 0x7D followed by the octet XOR 0x20, so a frame holds
            no control character at all: a line discipline, an echoing or a REPL
            that happens to read it cannot act on it (no Ctrl-C, Ctrl-D, XON/XOFF).
    body    type u8, seq u16, length u16, payload (length octets), CRC-32 u32 of
            everything before it (IEEE, as binascii.crc32). Big-endian.
    types   0x51 'Q' request (host), 0x52 'R' response, 0x41 'A' acknowledgement
            (sent on receipt of a new request that takes a while: GENKEY, COMMIT,
            CERT, WIPE), 0x4E 'N' negative acknowledgement (a damaged frame
            arrived; seq 0xFFFF).
    A frame is complete when its length and CRC are (the closing flag may be lost);
    one whose CRC, length or escaping is wrong is dropped and NAKed; bytes between
    frames (a boot banner, noise) resynchronise at the next 0x7E.
    The host sends one request at a time and retransmits it unchanged until the
    response with the same seq arrives. The agent keeps its last response: the
    same request again (same seq and CRC) gets that response again, without being
    carried out twice.

Requests: command u8, arguments. Responses: status u8 (0 OK, else an ``E_*``
code followed by a UTF-8 message), data.

    01 HELLO nonce(8)           -> proto u8, max payload u16, nonce, agent version.
                                   Discards any transfer.
    02 INFO                     -> "name=value\\n" lines: id, fw, agent, proto, free,
                                   state (empty, config, bootstrap, pending,
                                   enrolled, damaged), gen, max, and the stored
                                   identity: cn, dns (when the config holds them)
    03 BEGIN                    -> opens a transfer: an empty staging area in RAM
    04 PUT namelen name off(u32) data
                                -> staged length u32; says "octets off.. of the
                                   file are data": what overlaps the staged octets
                                   must equal them, the rest is appended (so a
                                   chunk sent again, or cut smaller, is harmless);
                                   off beyond the staged length is refused
    05 HASH key(32) namelen name
                                -> length u32, HMAC-SHA256 under key of the staged
                                   file
    06 READ namelen name off(u32) count(u16)
                                -> octets of a public item: "csr" (made by GENKEY)
                                   or a staged "config", "trust", "boot_chain",
                                   "chain"; the other files are refused
    07 GENKEY curvelen curve cn -> CSR length u32, SHA-256; a new key (kept in the
                                   transfer, never sent) and a CSR (subject CN=cn)
    08 COMMIT digest(32)        -> generation u32; checks the set digest of the
                                   staged files, their contents, then commits them
                                   with ``Store.commit`` in one step (twice when an
                                   older generation existed, so that no slot keeps
                                   the replaced credentials); ends the transfer
    09 READBACK key(32)         -> count u8, HMAC-SHA256 under key of the set digest
                                   of the items rendered from the store as loaded
                                   (see below), in ITEMS order
    09 READBACK key(32) index(u8)
                                -> namelen name length(u32) HMAC-SHA256 under key
                                   of item index
    0A CERT                     -> generation u32: the staged "chain" for the key
                                   stored as pending (``Store.commit_enrollment``)
    0B WIPE                     -> ``Store.wipe()``; ends the transfer
    0C ABORT                    -> ends the transfer
    0D REBOOT                   -> answers, then machine.reset() (unix: exit 0)
    0E QUIT                     -> answers, then the agent returns

Files (PUT names; each at most ``MAX_FILE`` octets, all together ``MAX_STAGED``)
    config      lines "name=T:value\\n" sorted by name, T one of s (UTF-8 text),
                i (integer), x (hex octets), t (boolean 0/1); "host", "port",
                "label" name the EST server. Must be in this canonical form.
    trust       trust anchor certificates, DER, concatenated (at least one)
    boot_user, boot_password    UTF-8 text (both or neither)
    boot_key, boot_chain        factory key (DER) and certificates (both or
                                neither; the first certificate must hold the key)
    chain       certificates for the key made by GENKEY, issued one first; it must
                hold the key and chain to a trust anchor. GENKEY without a chain
                stores the key and CSR as ``pending`` (op "enroll") until CERT.
The set digest is SHA-256 over, for each staged file in the order above:
name, 0x00, length u32, SHA-256 of the contents. READBACK renders the same
items from the store (lists concatenated, text UTF-8), plus "key" (the public
key, SubjectPublicKeyInfo DER) and "pending" (the pending CSR), and digests them
the same way in ITEMS order (FILES, "key", "pending").

No secret is ever sent back, nor a plain digest of one: HASH and READBACK answer
with an HMAC-SHA256 under a key of 32 octets that the host chooses afresh for each
request, so an answer matches no table and no other request, and READ serves
public items only. Such a proof shows the store holds what the host sent; like any
proof, it lets whoever holds the console test guesses of a weak password, so
passwords should be long and random (one-time passwords are). Answers stay short
(a damaged line loses long frames).

On a board, main.py may give an unprovisioned device a window for the station::

    import provision_agent
    provision_agent.main(idle=5)   # returns after 5 s without a request

Limits: payload ``MAX_PAYLOAD`` octets; staging lives in RAM, so a reset loses
it and leaves the store untouched. Certificate validity dates are not checked
here (a board may not know the time yet); signatures and names are.
"""

import binascii
import hashlib
import os
import struct
import sys
import time

try:
    import micropython
except ImportError:  # CPython
    micropython = None
try:
    import select
except ImportError:
    select = None

from tinyest.errors import EstError
from tinyest.serialwire import (ABORT, BAD, BEGIN, CERT, COMMIT, E_ARGS, E_COMMAND, E_DIGEST, E_INTERNAL,
                                E_INVALID, E_NOKEY, E_OFFSET, E_SPACE, E_STORE, E_TRANSFER, FILES, GENKEY,
                                HASH, HELLO, INFO, ITEMS, KEY_LEN, OK, PROTO, PUT, QUIT, READ, READBACK,
                                REBOOT, SLOW, T_ACK, T_NAK, T_REQ, T_RESP, WIPE, Decoder, encode, keyed,
                                parse_config, render, set_digest, split_der, state_of)
from tinyest.store import Credentials, Pending, Store, key_matches

AGENT_VERSION = "1.1"
STORE_ROOT = "/est"
ID_FILE = "provision-id"

MAX_PAYLOAD = 600
MAX_FILE = 8192
MAX_STAGED = 16384

READABLE = ("csr", "config", "trust", "boot_chain", "chain")  # no secret, no bootstrap credential


def _key(args):
    """(key, the rest) of a HASH or READBACK request."""
    if len(args) < KEY_LEN:
        raise Failure(E_ARGS, "key of %d octets first" % KEY_LEN)
    return bytes(args[:KEY_LEN]), args[KEY_LEN:]


def _text(data, what):
    try:
        return str(bytes(data), "utf-8")
    except UnicodeError:
        raise ValueError(what + " is not UTF-8")


# ---------------------------------------------------------------- console

class Console:
    """The board's USB/UART console (sys.stdin/sys.stdout in binary)."""

    def __init__(self, inp=None, out=None):
        self.inp = inp if inp is not None else sys.stdin.buffer
        self.out = out if out is not None else sys.stdout.buffer
        self.poll = None
        if select is not None:
            self.poll = select.poll()
            self.poll.register(self.inp, select.POLLIN)

    def read(self, ms):
        """One octet; None after ms milliseconds of silence; -1 at end of input."""
        if self.poll is not None and ms is not None and not self.poll.poll(ms):
            return None
        b = self.inp.read(1)
        if not b:
            return -1
        return b[0]

    def write(self, data):
        self.out.write(data)
        f = getattr(self.out, "flush", None)
        if f is not None:
            f()


class Failure(Exception):
    def __init__(self, status, msg=""):
        super().__init__(msg)
        self.status = status
        self.msg = msg


def _name(args, i):
    if len(args) < i + 1:
        raise Failure(E_ARGS, "short request")
    n = args[i]
    if n < 1 or len(args) < i + 1 + n:
        raise Failure(E_ARGS, "bad name")
    try:
        return str(args[i + 1:i + 1 + n], "utf-8"), i + 1 + n
    except UnicodeError:
        raise Failure(E_ARGS, "bad name")


def device_id(given=None):
    """The board's unique id (hex), else a given one, else a random id kept in
    ID_FILE (unix)."""
    if given:
        return given
    try:
        import machine

        return binascii.hexlify(machine.unique_id()).decode()
    except (ImportError, AttributeError):
        pass
    try:
        with open(ID_FILE) as f:
            v = f.read().strip()
        if v:
            return v
    except OSError:
        pass
    v = binascii.hexlify(os.urandom(8)).decode()
    try:
        with open(ID_FILE, "w") as f:
            f.write(v + "\n")
    except OSError:
        pass
    return v


def _ticks():
    f = getattr(time, "ticks_ms", None)
    return f() if f is not None else int(time.monotonic() * 1000)


def _elapsed(start):
    f = getattr(time, "ticks_diff", None)
    return f(_ticks(), start) if f is not None else _ticks() - start


def _firmware():
    impl = sys.implementation
    v = ".".join([str(x) for x in impl.version[:3]])
    return "%s %s (%s)" % (impl.name, v, sys.platform)


class Agent:
    def __init__(self, console=None, root=STORE_ROOT, dev_id=None, fs=None):
        self.io = console if console is not None else Console()
        self.root = root
        self.store = Store(root, fs)
        self.id = device_id(dev_id)
        self.dec = Decoder(MAX_PAYLOAD)
        self.last = None  # (seq, crc, response frame)
        self.staged = None
        self.key_der = None
        self.csr = None
        self.after = None
        self.running = True

    # -- the loop

    def serve(self, idle=None):
        """Answer frames until QUIT, REBOOT, end of input, or ``idle`` seconds
        without a valid request (None: forever)."""
        span = None if idle is None else int(idle * 1000)
        since = _ticks()
        while self.running:
            ms = None if span is None else span - _elapsed(since)
            b = self.io.read(ms) if ms is None or ms > 0 else None
            if b is None:
                return "idle"
            if b < 0:
                return "eof"
            r = self.dec.byte(b)
            if r is None:
                continue
            if r is BAD:
                self.io.write(encode(T_NAK, 0xFFFF))
                continue
            ftype, seq, payload, crc = r
            if ftype != T_REQ:
                continue  # our own frames echoed by a cooked tty, or noise
            last = self.last
            if last is not None and last[0] == seq and last[1] == crc:
                self.io.write(last[2])
                continue
            since = _ticks()
            if payload and payload[0] in SLOW:
                self.io.write(encode(T_ACK, seq))
            resp = encode(T_RESP, seq, self.dispatch(payload))
            self.last = (seq, crc, resp)
            self.io.write(resp)
            if self.after is not None:
                fn, self.after = self.after, None
                fn()
        return "quit"

    def dispatch(self, payload):
        if not payload:
            return bytes([E_ARGS]) + b"empty request"
        cmd = payload[0]
        args = payload[1:]
        fn = _COMMANDS.get(cmd)
        if fn is None:
            return bytes([E_COMMAND]) + b"unknown command"
        try:
            return bytes([OK]) + fn(self, args)
        except Failure as e:
            return bytes([e.status]) + e.msg.encode()
        except MemoryError:
            self.end()
            return bytes([E_SPACE]) + b"out of memory"
        except Exception as e:  # reported to the host, which decides
            return bytes([E_INTERNAL]) + ("%s: %s" % (type(e).__name__, e)).encode()

    def end(self):
        self.staged = None
        self.key_der = None
        self.csr = None

    def transfer(self):
        if self.staged is None:
            raise Failure(E_TRANSFER, "no transfer open (the device restarted?)")
        return self.staged

    # -- commands

    def c_hello(self, args):
        if len(args) != 8:
            raise Failure(E_ARGS, "nonce of 8 octets")
        self.end()
        return struct.pack(">BH", PROTO, MAX_PAYLOAD) + bytes(args) + AGENT_VERSION.encode()

    def c_info(self, args):
        try:
            c = self.store.load()
            state = state_of(c)
            gen = c.generation
        except EstError:
            state = "damaged"
            gen = 0
        free = -1
        try:
            try:
                s = os.statvfs(self.root)
            except OSError:
                s = os.statvfs(self.root.rsplit("/", 1)[0] or "/")
            free = s[0] * s[4]
        except (OSError, AttributeError):
            pass
        lines = [("id", self.id), ("fw", _firmware()), ("agent", AGENT_VERSION), ("proto", PROTO),
                 ("free", free), ("state", state), ("gen", gen), ("max", MAX_PAYLOAD)]
        if state != "damaged":
            for name in ("cn", "dns"):
                v = c.config.get(name)
                if isinstance(v, str) and v:
                    lines.append((name, v))
        return "".join(["%s=%s\n" % kv for kv in lines]).encode()

    def c_begin(self, args):
        self.end()
        self.staged = {}
        return b""

    def c_put(self, args):
        files = self.transfer()
        name, i = _name(args, 0)
        if name not in FILES:
            raise Failure(E_ARGS, "unknown file " + name)
        if len(args) < i + 4:
            raise Failure(E_ARGS, "short request")
        off = struct.unpack(">I", args[i:i + 4])[0]
        data = args[i + 4:]
        cur = files.get(name)
        have = 0 if cur is None else len(cur)
        if off > have:
            raise Failure(E_OFFSET, "%s holds %d octets" % (name, have))
        same = have - off if have - off < len(data) else len(data)
        if same and bytes(cur[off:off + same]) != bytes(data[:same]):
            raise Failure(E_OFFSET, "%s differs at %d" % (name, off))
        data = data[same:]
        total = 0
        for k in files:
            total += len(files[k])
        if have + len(data) > MAX_FILE or total + len(data) > MAX_STAGED:
            raise Failure(E_SPACE, "too much data for %s" % name)
        if cur is None:
            cur = files[name] = bytearray()
        cur.extend(data)
        return struct.pack(">I", len(cur))

    def _item(self, name):
        files = self.transfer()
        if name == "csr":
            data = self.csr
        else:
            data = files.get(name)
        if data is None:
            raise Failure(E_ARGS, "nothing staged as " + name)
        return data

    def c_hash(self, args):
        key, args = _key(args)
        name, _ = _name(args, 0)
        data = self._item(name)
        return struct.pack(">I", len(data)) + keyed(key, data)

    def c_read(self, args):
        name, i = _name(args, 0)
        if len(args) != i + 6:
            raise Failure(E_ARGS, "offset and count expected")
        if name not in READABLE:
            raise Failure(E_ARGS, name + " is not readable")
        off, n = struct.unpack(">IH", args[i:])
        data = self._item(name)
        n = min(n, MAX_PAYLOAD - 8)
        return bytes(data[off:off + n])

    def c_genkey(self, args):
        self.transfer()
        curve, i = _name(args, 0)
        try:
            cn = str(args[i:], "utf-8")
        except UnicodeError:
            raise Failure(E_ARGS, "CN is not UTF-8")
        if not cn:
            raise Failure(E_ARGS, "empty CN")
        from tinyest import csr, ec

        try:
            key = ec.generate(curve)
            req = csr.request(key, cn)
        except EstError as e:
            raise Failure(E_INVALID, str(e))
        self.key_der = key.to_der()
        self.csr = bytes(req)
        return struct.pack(">I", len(self.csr)) + hashlib.sha256(self.csr).digest()

    def _credentials(self, files):
        """A Credentials from the staged files; Failure(E_INVALID) if they are not
        a usable set."""
        from tinyest import x509

        c = Credentials()
        try:
            if "config" in files:
                c.config = parse_config(files["config"])
            if "trust" not in files:
                raise ValueError("no trust anchor")
            c.trust = split_der(files["trust"])
            for t in c.trust:
                x509.Certificate(t)
            if ("boot_user" in files) != ("boot_password" in files):
                raise ValueError("boot_user and boot_password go together")
            if "boot_user" in files:
                c.boot_user = _text(files["boot_user"], "boot_user")
                c.boot_password = _text(files["boot_password"], "boot_password")
                if not c.boot_user or ":" in c.boot_user:
                    raise ValueError("bad boot_user")
            if ("boot_key" in files) != ("boot_chain" in files):
                raise ValueError("boot_key and boot_chain go together")
            if "boot_key" in files:
                c.boot_key = bytes(files["boot_key"])
                c.boot_chain = split_der(files["boot_chain"])
                if not c.boot_chain or not key_matches(c.boot_key, c.boot_chain[0]):
                    raise ValueError("boot_chain does not hold boot_key")
            if "chain" in files:
                if self.key_der is None:
                    raise ValueError("a chain without a key made here")
                chain = split_der(files["chain"])
                self._check_chain(self.key_der, chain, c.trust)
                c.key_der = self.key_der
                c.chain = chain
            elif self.key_der is not None:
                c.pending = Pending("enroll", self.csr, self.key_der)
        except (ValueError, EstError) as e:
            raise Failure(E_INVALID, str(e))
        return c

    def _check_chain(self, key_der, chain, trust):
        from tinyest import x509

        if not chain or not key_matches(key_der, chain[0]):
            raise ValueError("the certificate does not hold the key")
        x509.verify_chain(chain[0], chain[1:], trust)

    def _old_generation(self):
        try:
            return self.store.load().generation
        except EstError:
            return 1  # damaged: something was there

    def c_commit(self, args):
        files = self.transfer()
        if len(args) != 32:
            raise Failure(E_ARGS, "digest of 32 octets")
        if set_digest(files) != bytes(args):
            raise Failure(E_DIGEST, "staged files differ from the host's")
        c = self._credentials(files)
        old = self._old_generation()
        try:
            gen = self.store.commit(c)
            if old:
                gen = self.store.commit(c)  # the older slot held the replaced set
        except EstError as e:
            raise Failure(E_STORE, str(e))
        self.end()
        return struct.pack(">I", gen)

    def c_readback(self, args):
        key, args = _key(args)
        try:
            c = self.store.load()
            items = render(c)
        except EstError as e:
            raise Failure(E_STORE, str(e))
        if not args:
            return bytes([len(items)]) + keyed(key, set_digest(dict(items), ITEMS))
        i = args[0]
        if len(args) != 1 or i >= len(items):
            raise Failure(E_ARGS, "no item %d" % i)
        name, data = items[i]
        return bytes([len(name)]) + name.encode() + struct.pack(">I", len(data)) + keyed(key, data)

    def c_cert(self, args):
        files = self.transfer()
        try:
            c = self.store.load()
        except EstError as e:
            raise Failure(E_STORE, str(e))
        p = c.pending
        if p is None or p.key_der is None:
            raise Failure(E_NOKEY, "no pending key")
        if "chain" not in files:
            raise Failure(E_ARGS, "no chain staged")
        try:
            chain = split_der(files["chain"])
            self._check_chain(p.key_der, chain, c.trust)
        except (ValueError, EstError) as e:
            raise Failure(E_INVALID, str(e))
        try:
            c = self.store.commit_enrollment(p.key_der, chain, erase_bootstrap=False)
        except EstError as e:
            raise Failure(E_STORE, str(e))
        self.end()
        return struct.pack(">I", c.generation)

    def c_wipe(self, args):
        self.end()
        try:
            self.store.wipe()
        except EstError as e:
            raise Failure(E_STORE, str(e))
        return b""

    def c_abort(self, args):
        self.end()
        return b""

    def c_reboot(self, args):
        self.after = _reboot
        return b""

    def c_quit(self, args):
        self.running = False
        return b""


def _reboot():
    try:
        import machine

        time.sleep(0.1)  # let the answer leave the USB/UART buffers
        machine.reset()
    except (ImportError, AttributeError):
        pass
    sys.exit(0)


_COMMANDS = {
    HELLO: Agent.c_hello,
    INFO: Agent.c_info,
    BEGIN: Agent.c_begin,
    PUT: Agent.c_put,
    HASH: Agent.c_hash,
    READ: Agent.c_read,
    GENKEY: Agent.c_genkey,
    COMMIT: Agent.c_commit,
    READBACK: Agent.c_readback,
    CERT: Agent.c_cert,
    WIPE: Agent.c_wipe,
    ABORT: Agent.c_abort,
    REBOOT: Agent.c_reboot,
    QUIT: Agent.c_quit,
}


def main(root=STORE_ROOT, dev_id=None, idle=None):
    """Run the agent on the console until QUIT/REBOOT (or ``idle`` seconds of
    silence); returns why it stopped."""
    if micropython is not None:
        micropython.kbd_intr(-1)
    try:
        return Agent(Console(), root, dev_id).serve(idle)
    finally:
        if micropython is not None:
            micropython.kbd_intr(3)


def _argv(args):
    opts = {"root": STORE_ROOT, "dev_id": None, "idle": None}
    i = 0
    while i + 1 < len(args):
        k, v = args[i], args[i + 1]
        if k == "--root":
            opts["root"] = v
        elif k == "--id":
            opts["dev_id"] = v
        elif k == "--idle":
            opts["idle"] = float(v)
        else:
            break
        i += 2
    if i != len(args):
        sys.stderr.write("usage: provision_agent.py [--root DIR] [--id ID] [--idle SECONDS]\n")
        sys.exit(2)
    return opts


if __name__ == "__main__":
    o = _argv(sys.argv[1:])
    main(o["root"], o["dev_id"], o["idle"])
