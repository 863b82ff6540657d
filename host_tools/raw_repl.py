"""The raw REPL of a stock MicroPython board, and its files as a file system for
``tinyest.store``: the way to provision a board without the agent.

Raw REPL (``RawRepl``), as mpremote does it
    Ctrl-C twice, Ctrl-A, wait for "raw REPL; CTRL-B to exit\\r\\n>". Code goes in
    raw-paste mode (Ctrl-E 'A' Ctrl-A; the device answers "R\\x01" and a 16-bit
    little-endian window; each 0x01 it sends grants another window; 0x04 from it
    means it stopped taking data; Ctrl-D ends the code and is acknowledged with
    0x04), falling back to the plain raw REPL (256 octets every 10 ms, Ctrl-D,
    "OK") on firmware without raw paste. Output and error text follow, each
    ended by 0x04, then the ">" prompt. No soft reset is made (it would end the
    unix interpreter and run main.py on a board).

The port is pyserial-like (``read(n)``, ``write(data)``, ``in_waiting``); nothing
prints.

``ReplFs`` makes files on the board look like a local file system to
``tinyest.store.Store``, so the store's own commit protocol runs on the host
with its I/O done over the raw REPL: the board needs no tinyest at all.
Written data travels as base64 inside the code; before a file is renamed into
place the board computes its HMAC-SHA256 under a fresh key from the host, which
compares it with the same HMAC of what was sent.

No secret comes back from the board, nor a plain digest of one: the file proofs
are HMAC-SHA256 under a key the host chooses afresh for each
(``tinyest.serialwire.fresh_key``), and ``ReplFs.summary`` reads the store's
state, generation and identity on the board, never its values. One exception
remains: a commit over an existing store reads the old slot files through the
REPL to find the newest (the store's own scan).
"""

import ast
import binascii
import struct
import time

from tinyest.serialwire import fresh_key, keyed


class ReplError(Exception):
    """The raw REPL did not behave (no prompt, garbled exchange, timeout)."""


class ReplExecError(ReplError):
    """Code sent through the raw REPL raised on the board."""


class RawRepl:
    """A raw REPL connection (see the module text)."""

    BANNER = b"raw REPL; CTRL-B to exit\r\n"
    RESTARTED = b'Type "help()" for more information.'

    def __init__(self, port, timeout=5.0):
        self.port = port
        self.timeout = timeout
        self.use_paste = True
        self.rbuf = bytearray()

    def _fill(self):
        chunk = self.port.read(max(1, self.port.in_waiting))
        if chunk:
            self.rbuf += chunk

    def _read_until(self, ending, timeout=None, limit=1 << 22, watch=False):
        """Octets up to and including ``ending``. ``watch``: fail at once if the
        board's start-up banner shows up (it restarted)."""
        end = time.monotonic() + (self.timeout if timeout is None else timeout)
        start = 0
        while True:
            i = self.rbuf.find(ending, start)
            if i >= 0:
                out = bytes(self.rbuf[:i + len(ending)])
                self.rbuf = self.rbuf[i + len(ending):]
                return out
            if watch and self.RESTARTED in self.rbuf:
                self.rbuf = bytearray()
                raise ReplError("the board restarted")
            start = max(0, len(self.rbuf) - len(ending) + 1)
            if len(self.rbuf) > limit:
                raise ReplError("too much output waiting for %r" % ending)
            if time.monotonic() >= end:
                raise ReplError("timeout waiting for %r (got %r)" % (ending, bytes(self.rbuf[-80:])))
            self._fill()

    def _read_exact(self, n, timeout=None):
        end = time.monotonic() + (self.timeout if timeout is None else timeout)
        while len(self.rbuf) < n:
            if time.monotonic() >= end:
                raise ReplError("timeout (got %r)" % bytes(self.rbuf))
            self._fill()
        out = bytes(self.rbuf[:n])
        self.rbuf = self.rbuf[n:]
        return out

    def _waiting(self):
        return len(self.rbuf) or self.port.in_waiting

    def _drain(self, quiet=0.05):
        self.rbuf = bytearray()
        end = time.monotonic() + quiet
        while time.monotonic() < end:
            n = self.port.in_waiting
            if n:
                self.port.read(n)
                end = time.monotonic() + quiet
            else:
                time.sleep(0.01)

    def enter(self, timeout=None):
        # Ctrl-C first, not CR: a line left in the friendly REPL is dropped, not run.
        self.port.write(b"\x03\x03")
        self._drain()
        self.port.write(b"\r\x01")
        self._read_until(self.BANNER + b">", timeout)

    def leave(self):
        self.port.write(b"\r\x02")

    def _paste(self, code):
        window = struct.unpack("<H", self._read_exact(2))[0]
        remain = window
        i = 0
        while i < len(code):
            while remain == 0 or self._waiting():
                c = self._read_exact(1)
                if c == b"\x01":
                    remain += window
                elif c == b"\x04":
                    self.port.write(b"\x04")
                    raise ReplError("the board stopped taking code")
                else:
                    raise ReplError("unexpected %r during raw paste" % c)
            part = code[i:i + remain]
            self.port.write(part)
            remain -= len(part)
            i += len(part)
        self.port.write(b"\x04")
        self._read_until(b"\x04", watch=True)

    def send(self, code):
        """Send code for execution; do not wait for its output."""
        code = code.encode() if isinstance(code, str) else bytes(code)
        if self.use_paste:
            self.port.write(b"\x05A\x01")
            r = self._read_exact(2)
            if r == b"R\x01":
                return self._paste(code)
            if r != b"R\x00":
                # Firmware without raw paste prompts again; anything else means
                # the board is no longer at the raw REPL (it restarted).
                try:
                    self._read_until(b"w REPL; CTRL-B to exit\r\n>", timeout=min(self.timeout, 1.0))
                except ReplError:
                    raise ReplError("not at the raw REPL any more (got %r)" % r)
            self.use_paste = False
        for i in range(0, len(code), 256):
            self.port.write(code[i:i + 256])
            time.sleep(0.01)
        self.port.write(b"\x04")
        if self._read_exact(2) != b"OK":
            raise ReplError("the board did not accept the code")

    def follow(self, timeout=None):
        out = self._read_until(b"\x04", timeout, watch=True)[:-1]
        err = self._read_until(b"\x04", timeout, watch=True)[:-1]
        self._read_until(b">", timeout)
        return out, err

    def exec(self, code, timeout=None):
        """Run code; return its standard output; ReplExecError if it raised."""
        self.send(code)
        out, err = self.follow(timeout)
        if err:
            raise ReplExecError(err.decode("utf-8", "replace").strip().splitlines()[-1])
        return out

    def eval(self, expr, timeout=None):
        """The value of a Python literal the board prints with repr()."""
        out = self.exec("print(repr(%s))" % expr, timeout)
        try:
            return ast.literal_eval(out.decode("utf-8").strip())
        except (ValueError, SyntaxError, UnicodeError):
            raise ReplError("unreadable answer %r" % out[-80:])


_BOARD_CODE = r"""
import os, binascii, hashlib, struct
_pf = {}
def _po(i, p, m):
    _pf[i] = open(p, m)
def _pr(i, n):
    print(repr(_pf[i].read(n) or b''))
def _pw(i, d):
    _pf[i].write(binascii.a2b_base64(d))
def _pfl(i):
    _pf[i].flush()
def _pc(i):
    _pf.pop(i).close()
def _pst(p):
    try:
        print(repr(tuple(os.stat(p))))
    except OSError as e:
        print(repr(-e.args[0]))
def _pmac(k, p):
    k = binascii.unhexlify(k)
    i = hashlib.sha256(bytes([b ^ 0x36 for b in k]) + b'6' * (64 - len(k)))
    n = 0
    with open(p, 'rb') as f:
        while True:
            b = f.read(512)
            if not b:
                break
            i.update(b)
            n += len(b)
    o = hashlib.sha256(bytes([b ^ 0x5c for b in k]) + b'\\' * (64 - len(k)))
    o.update(i.digest())
    print(repr((n, binascii.hexlify(o.digest()))))
def _pslot(p):
    try:
        f = open(p, 'rb')
    except OSError:
        return None
    try:
        h = f.read(16)
        if len(h) != 16 or h[:4] != b'tEST':
            return False
        v, _, s, n = struct.unpack('>HHII', h[4:])
        d = hashlib.sha256(h)
        tags = []
        cfg = {}
        while n > 0:
            r = f.read(3)
            if len(r) != 3:
                return False
            d.update(r)
            t, k = struct.unpack('>BH', r)
            if k > n - 3:
                return False
            b = f.read(k)
            if len(b) != k:
                return False
            d.update(b)
            n -= 3 + k
            tags.append(t)
            if t == 1 and k > 2 and b[1:1 + b[0]] in (b'cn', b'dns') and b[1 + b[0]:2 + b[0]] == b's':
                cfg[str(b[1:1 + b[0]], 'utf-8')] = str(b[2 + b[0]:], 'utf-8')
        if n or f.read(32) != d.digest() or f.read(1):
            return False
        return s, v, tags, cfg
    finally:
        f.close()
def _psum(r):
    best = None
    seen = False
    for name in ('cred.a', 'cred.b'):
        x = _pslot(r + '/' + name)
        if x is not None:
            seen = True
        if x and (best is None or 0 < (x[0] - best[0]) & 0xFFFFFFFF < 0x80000000):
            best = x + (name,)
    if best is None:
        print(repr({'state': 'damaged' if seen else 'empty', 'gen': 0}))
        return
    s, v, t, cfg = best[:4]
    if v != 1:
        st = 'damaged'
    elif 7 in t and 8 in t:
        st = 'enrolled'
    elif 9 in t:
        st = 'pending'
    elif 4 in t or 5 in t:
        st = 'bootstrap'
    else:
        st = 'config'
    cfg.update({'state': st, 'gen': s, 'slot': best[4]})
    print(repr(cfg))
def _psync():
    if hasattr(os, 'sync'):
        os.sync()
"""

_IDENTIFY = r"""
import sys, os, binascii
def _pid():
    try:
        import machine
        return binascii.hexlify(machine.unique_id()).decode()
    except Exception:
        pass
    try:
        with open('provision-id') as f:
            return f.read().strip()
    except OSError:
        return ''
def _pfree(p):
    while True:
        try:
            s = os.statvfs(p or '/')
            return s[0] * s[4]
        except (OSError, AttributeError):
            if not p or p == '/':
                return -1
            p = p.rsplit('/', 1)[0]
def _pagent():
    try:
        import provision_agent
        return provision_agent.AGENT_VERSION
    except ImportError:
        return ''
_v = sys.implementation
print(repr({'id': _pid(), 'fw': '%s %s (%s)' % (_v.name, '.'.join([str(x) for x in _v.version[:3]]), sys.platform),
            'free': _pfree(%(root)r), 'agent': _pagent()}))
"""


class _RemoteFile:
    def __init__(self, fs, path, mode):
        self.fs = fs
        self.path = path
        self.mode = mode
        self.n = fs._next_id()
        self.rbuf = b""
        self.wbuf = bytearray()
        fs.run("_po(%d, %r, %r)" % (self.n, path, mode))
        if "w" in mode:
            fs.written[path] = bytearray()

    def read(self, n=-1):
        if n is None or n < 0:
            out = bytearray(self.rbuf)
            self.rbuf = b""
            while True:
                d = self.fs.value("_pr(%d, 2048)" % self.n)
                if not d:
                    return bytes(out)
                out += d
        if len(self.rbuf) < n:
            self.rbuf += self.fs.value("_pr(%d, %d)" % (self.n, max(n - len(self.rbuf), 2048)))
        out, self.rbuf = self.rbuf[:n], self.rbuf[n:]
        return out

    def readinto(self, mv):
        d = self.read(len(mv))
        mv[:len(d)] = d
        return len(d)

    def write(self, data):
        data = bytes(data)
        self.wbuf += data
        self.fs.written[self.path] += data
        return len(data)

    def flush(self):
        lines = []
        size = 0
        for i in range(0, len(self.wbuf), 1536):
            b64 = binascii.b2a_base64(bytes(self.wbuf[i:i + 1536]), newline=False).decode()
            lines.append("_pw(%d, %r)" % (self.n, b64))
            size += len(b64)
            if size > 6000:
                self.fs.run("\n".join(lines))
                lines, size = [], 0
        lines.append("_pfl(%d)" % self.n)
        self.fs.run("\n".join(lines))
        self.wbuf = bytearray()

    def close(self):
        if self.wbuf:
            self.flush()
        self.fs.run("_pc(%d)" % self.n)


class ReplFs:
    """A ``tinyest.store`` file system whose files live on the board (see the
    module text). OSError on any failure, as the store expects."""

    def __init__(self, repl):
        self.repl = repl
        self.ids = 0
        self.renames = 0
        self.written = {}  # path -> octets written there in this session
        self.landed = {}  # path -> octets a checked rename put there
        self.broken = False
        self.install()

    def install(self):
        """Define the functions ReplFs calls on the board (again after a reset)."""
        self.repl.exec(_BOARD_CODE)
        self.broken = False

    def _next_id(self):
        self.ids += 1
        return self.ids

    def run(self, code):
        if self.broken:  # fail fast until install() succeeds again
            raise OSError(5, "raw REPL: the link broke earlier")
        try:
            return self.repl.exec(code)
        except ReplExecError as e:
            raise OSError(5, "on the board: %s" % e)
        except ReplError as e:
            self.broken = True
            raise OSError(5, "raw REPL: %s" % e)

    def value(self, code):
        out = self.run(code)
        try:
            return ast.literal_eval(out.decode("utf-8").strip())
        except (ValueError, SyntaxError, UnicodeError):
            raise OSError(5, "unreadable answer from the board")

    def open(self, path, mode):
        return _RemoteFile(self, path, mode)

    def stat(self, path):
        r = self.value("_pst(%r)" % path)
        if isinstance(r, int):
            raise OSError(-r, "no such file: " + path)
        return r

    def mkdir(self, path):
        self.run("os.mkdir(%r)" % path)

    def remove(self, path):
        self.run("os.remove(%r)" % path)

    def rename(self, src, dst):
        self.renames += 1
        data = self.written.get(src)
        if data is not None and not self.same(src, data):
            raise OSError(5, "%s arrived damaged on the board (its HMAC differs)" % src)
        self.run("os.rename(%r, %r)" % (src, dst))
        self.landed.pop(src, None)
        if data is not None:
            self.landed[dst] = bytes(data)

    def fsync(self, f):
        self.run("_psync()")

    def syncdir(self, path):
        pass

    def same(self, path, data):
        """True when the board's file holds exactly data: the board answers with
        the HMAC-SHA256 of the file under a fresh key, never the file."""
        key = fresh_key()
        n, mac = self.value("_pmac(%r, %r)" % (key.hex(), path))
        return n == len(data) and bytes(mac).decode() == keyed(key, data).hex()

    def summary(self, root):
        """{'state', 'gen'[, 'slot', 'cn', 'dns']} of the store on the board, read
        there (the store's values never cross the line)."""
        r = self.value("_psum(%r)" % root.rstrip("/"))
        if not isinstance(r, dict):
            raise OSError(5, "unreadable store summary from the board")
        return r


def repl_identify(repl, root):
    """{'id', 'fw', 'free', 'agent'} of a board at the raw REPL."""
    out = repl.exec(_IDENTIFY.replace("%(root)r", repr(root)))
    try:
        return ast.literal_eval(out.decode("utf-8").strip().splitlines()[-1])
    except (ValueError, SyntaxError, UnicodeError, IndexError):
        raise ReplError("unreadable identification %r" % out[-80:])
