"""``tinyest-provision``: give devices their bootstrap credentials over USB serial.

One device::

    tinyest-provision --port PORT --server URL [--label L] --ta FILE CREDENTIAL [options]
    tinyest-provision --port PORT --identify | --wipe

CREDENTIAL is one of

    --user NAME --password PW       a bootstrap user and password (PW "-": prompt)
    --otp auto                      a one-time password made here for each device
                                    (``secrets``), user name from --otp-user
                                    (default "{device_id}"), written to --otp-export
                                    FILE (CSV, mode 0600 even when the file existed;
                                    a symbolic link there is refused) for the CA;
                                    never printed
    --idevid-cert F --idevid-key F  a factory certificate (chain) and its key
    --station-enroll                this station is the registration authority: the
                                    device makes its key and a CSR (CN from --cn),
                                    the station enrolls it with the
                                    EST server using its own credentials
                                    (--station-user/--station-password or
                                    --station-cert/--station-key) and writes the
                                    certificate back; the key never leaves the device

Every mode also gives the device its identity, the subject of its first
certificate request: --cn TEMPLATE (default "{device_id}") and optionally
--dns TEMPLATE (one DNS name), where {device_id} (or {id}) is the device's id.
They are stored in the store's config as "cn" and "dns", committed with the rest,
and read there by the device (``tinyest.device.Device``); --identify shows them.

A batch::

    tinyest-provision --batch STATION.toml|STATION.csv --devices DEVICES.csv [options]

The station file holds the same settings as the options (names with "_" for
"-": server, label, ta, credential = password|otp|idevid|station, user,
password, otp_export, otp_user, cn, dns, station_user, station_password,
station_cert, station_key, station, ledger, mode, store, force, reboot, timeout,
frame_timeout, baud, attempts, wait, jobs); options given on the command line
win. TOML needs Python 3.11 (tomllib) or stays within the flat subset read
here (key = "text" | number | true | false, comments); CSV is "key,value" rows.
DEVICES.csv has one device per row: port[,device_id[,idevid_cert,idevid_key[,cn]]],
or, with a header row naming them, any of the columns port (required), device_id,
idevid_cert, idevid_key, cn, dns in any order. A row's cn or dns (a template
like --cn) replaces the station's for that device; an empty cell keeps it.
For each row the tool waits (--wait seconds) until a device answers on the port
that it has not provisioned in this batch (and, if given, with that id),
provisions it and moves on.

PORT is anything pyserial opens: /dev/ttyUSB0, COM3, socket://host:port,
rfc2217://host:port, a pseudo-terminal path. The device either runs the
provisioning agent (``port_micropython/provision_agent.py``: framed protocol with
CRC and retransmission; started through the raw REPL when it is on the board),
or is a stock MicroPython board: then the credential store is written through
the raw REPL (raw-paste mode) with the store's own commit protocol.

What is written: the store's config (host, port, label of the EST server, and
the device's cn and dns), the trust anchors (--ta, PEM or DER, all certificates
of the file) and the credential. Every file is checked after writing and, after
the one atomic commit, the store is read back and compared; neither check brings
a secret back over the line, nor a plain digest of one: the device answers with
HMAC-SHA256 under a key this tool chooses afresh for each check. A device that fails is left
untouched (nothing committed) or wiped, never half-provisioned. A device that
already holds credentials is refused unless --force.

The ledger (--ledger FILE, SQLite) gets one row per device: device id, time
(UTC), station, port, mode, credential kind, trust-anchor SHA-256, result
(ok/failed), device state afterwards (provisioned, untouched, wiped, unknown),
SHA-256 of what was written (the set digest), certificate SHA-256 (station
mode), exit code, seconds and a message. Never a secret.

Exit codes:

===  ======================================================================
0    success (batch: every device provisioned)
1    usage error
2    the device refused or a check failed (content, read-back, already
     provisioned, wrong device); the device is untouched or wiped
3    cannot talk to the device: port missing or busy, cable, driver, no
     agent or REPL answering; the device is untouched
4    a local file is missing or unreadable (inputs, ledger, OTP export)
5    station mode: the EST server refused or could not be reached; the
     device is untouched
6    batch finished, some devices failed (see the ledger)
7    the link was lost while the device was committing or wiping: it holds
     the old or the new set, never a mix; check it again (--identify)
130  interrupted
===  ======================================================================

Errors are printed once, as ``tinyest-provision: message``, on standard error.
"""

import argparse
import csv
import datetime
import errno
import getpass
import hashlib
import os
import secrets
import socket
import sqlite3
import stat
import sys
import threading
import time

from host_tools import serialproto as sp
from tinyest import serialwire as wire

PROG = "tinyest-provision"

EXIT_OK = 0
EXIT_USAGE = 1
EXIT_DEVICE = 2
EXIT_LINK = 3
EXIT_INPUT = 4
EXIT_EST = 5
EXIT_BATCH = 6
EXIT_UNKNOWN = 7
EXIT_INTERRUPTED = 130

HINT = ("hint: check the USB cable (a charge-only cable carries no data), the USB-serial driver "
        "(CP210x, CH34x, FTDI), the port name, and that no other program (a serial monitor, "
        "mpremote) holds the port; on Linux your user may need the dialout group")

METHODS = ("password", "otp", "idevid", "station")
PROBE = 0.6  # seconds an agent has to answer HELLO before the raw REPL is tried
SLOW_FACTOR = 8  # key generation, commit, wipe: this many --timeout after the acknowledgement

DEFAULTS = {
    "label": None, "ta": None, "server": None, "credential": None, "user": None, "password": None,
    "otp_export": None, "otp_user": "{device_id}", "cn": "{device_id}", "dns": None, "station_user": None,
    "station_password": None, "station_cert": None, "station_key": None, "station": None,
    "ledger": None, "mode": "auto", "store": "/est", "force": False, "reboot": False,
    "timeout": 8.0, "frame_timeout": 0.5, "baud": 115200, "attempts": 3, "wait": 120.0,
    "jobs": 1, "curve": "P-256", "quiet": False, "device_id": None,
}
_FLOATS = {"timeout", "frame_timeout", "wait"}
_INTS = {"baud", "attempts", "jobs"}
_BOOLS = {"force", "reboot", "quiet"}


class Fail(Exception):
    """Ends one device's run: exit code, message, the device's state."""

    def __init__(self, code, message, state=None, hint=False):
        Exception.__init__(self, message)
        self.code = code
        self.message = message
        self.state = state
        self.hint = hint


class UsageError(Exception):
    pass


# ---------------------------------------------------------------- inputs

def _input(fn, *args):
    from host_tools import cli

    try:
        return fn(*args)
    except cli.InputError as e:
        raise Fail(EXIT_INPUT, str(e))


def load_certs(path, what):
    from host_tools import cli

    return _input(cli.load_certs, path, what)


def load_key(path, what):
    from host_tools import cli

    return bytes(_input(cli.load_key_der, path, what))


def read_toml(text):
    """A TOML document: tomllib when present, else the flat subset."""
    try:
        import tomllib
    except ImportError:
        return mini_toml(text)
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise ValueError(str(e))


def _toml_value(v, n):
    if v[:1] == '"':
        end = 1
        out = []
        while end < len(v) and v[end] != '"':
            if v[end] == "\\":
                esc = v[end + 1:end + 2]
                table = {'"': '"', "\\": "\\", "n": "\n", "t": "\t"}
                if esc not in table:
                    raise ValueError("line %d: unsupported escape" % n)
                out.append(table[esc])
                end += 2
            else:
                out.append(v[end])
                end += 1
        rest = v[end + 1:].strip()
        if end >= len(v) or (rest and not rest.startswith("#")):
            raise ValueError("line %d: bad string" % n)
        return "".join(out)
    if v[:1] == "'":
        end = v.find("'", 1)
        rest = v[end + 1:].strip() if end > 0 else "x"
        if end < 0 or (rest and not rest.startswith("#")):
            raise ValueError("line %d: bad string" % n)
        return v[1:end]
    v = v.split("#", 1)[0].strip()
    if v in ("true", "false"):
        return v == "true"
    try:
        return int(v.replace("_", ""))
    except ValueError:
        pass
    try:
        return float(v)
    except ValueError:
        raise ValueError("line %d: unsupported value %r (this reader knows text, numbers, "
                         "true and false)" % (n, v))


def mini_toml(text):
    """Flat TOML: ``key = value`` lines (text in double or single quotes, integers,
    floats, true/false) and comments; tables and arrays are refused."""
    out = {}
    for n, line in enumerate(text.splitlines(), 1):
        s = line.strip()
        if not s or s.startswith("#"):
            continue
        if s.startswith("["):
            raise ValueError("line %d: tables need Python 3.11 (tomllib)" % n)
        key, eq, v = s.partition("=")
        key = key.strip().strip('"')
        if not eq or not key:
            raise ValueError("line %d: expected key = value" % n)
        if key in out:
            raise ValueError("line %d: %s given twice" % (n, key))
        out[key] = _toml_value(v.strip(), n)
    return out


def read_station(path):
    """Station settings from TOML or CSV (key,value rows)."""
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError as e:
        raise Fail(EXIT_INPUT, "cannot read station file %s: %s" % (path, e.strerror or e))
    try:
        text = data.decode("utf-8")
    except UnicodeError:
        raise Fail(EXIT_INPUT, "station file %s is not UTF-8" % path)
    if path.lower().endswith(".csv"):
        conf = {}
        for row in csv.reader(text.splitlines()):
            if not row or not row[0].strip() or row[0].strip().startswith("#"):
                continue
            if len(row) != 2:
                raise UsageError("station file %s: rows are key,value" % path)
            conf[row[0].strip()] = row[1].strip()
    else:
        try:
            conf = read_toml(text)
        except ValueError as e:
            raise UsageError("station file %s: %s" % (path, e))
    out = {}
    for k, v in conf.items():
        k = k.replace("-", "_")
        if k not in DEFAULTS:
            raise UsageError("station file %s: unknown setting %r" % (path, k))
        out[k] = _typed(k, v, "station file %s" % path)
    base = os.path.dirname(os.path.abspath(path))
    for k in ("ta", "otp_export", "station_cert", "station_key", "ledger"):
        if isinstance(out.get(k), str) and not os.path.isabs(out[k]):
            out[k] = os.path.join(base, out[k])
    return out


def _typed(k, v, where):
    try:
        if k in _BOOLS:
            if isinstance(v, bool):
                return v
            if str(v).lower() in ("1", "true", "yes", "on"):
                return True
            if str(v).lower() in ("0", "false", "no", "off", ""):
                return False
            raise ValueError
        if k in _INTS:
            return int(v)
        if k in _FLOATS:
            return float(v)
        return None if v is None else str(v)
    except (TypeError, ValueError):
        raise UsageError("%s: bad value %r for %s" % (where, v, k))


DEVICE_COLUMNS = ("port", "device_id", "idevid_cert", "idevid_key", "cn", "dns")


def read_devices(path):
    """[(port, device_id, idevid_cert, idevid_key, cn, dns)], None for each cell not
    given (see the module text for the columns)."""
    try:
        with open(path, newline="") as f:
            rows = list(csv.reader(f))
    except (OSError, UnicodeError) as e:
        raise Fail(EXIT_INPUT, "cannot read device list %s: %s" % (path, e))
    base = os.path.dirname(os.path.abspath(path))
    out = []
    columns = None
    for row in rows:
        row = [c.strip() for c in row]
        if not any(row) or row[0].startswith("#"):
            continue
        if columns is None and "port" in [c.lower() for c in row]:
            columns = [c.lower() for c in row]
            unknown = [c for c in columns if c not in DEVICE_COLUMNS]
            if unknown or len(set(columns)) != len(columns):
                raise UsageError("device list %s: the header names columns from %s, each once"
                                 % (path, ", ".join(DEVICE_COLUMNS)))
            continue
        if columns is None:
            if len(row) > 5 or len(row) == 3:
                raise UsageError("device list %s: rows are port[,device_id[,idevid_cert,idevid_key[,cn]]]"
                                 % path)
            cells = dict(zip(DEVICE_COLUMNS, row))
        else:
            if len(row) > len(columns):
                raise UsageError("device list %s: a row has more cells than the header" % path)
            cells = dict(zip(columns, row))
        if not cells.get("port"):
            raise UsageError("device list %s: a row without a port" % path)
        files = [cells.get(k) or None for k in ("idevid_cert", "idevid_key")]
        if (files[0] is None) != (files[1] is None):
            raise UsageError("device list %s: idevid_cert and idevid_key go together" % path)
        files = [c if c is None or os.path.isabs(c) else os.path.join(base, c) for c in files]
        for k in ("cn", "dns"):
            if cells.get(k):
                check_template(cells[k], "device list %s: %s" % (path, k))
        out.append((cells["port"], cells.get("device_id") or None, files[0], files[1],
                    cells.get("cn") or None, cells.get("dns") or None))
    if not out:
        raise UsageError("device list %s names no device" % path)
    return out


# ---------------------------------------------------------------- the plan

class Plan:
    """What every device of a run gets (from the options)."""

    def __init__(self, o):
        from host_tools import cli

        self.o = o
        try:
            self.host, self.port, self.label = cli.parse_server(o["server"], o["label"])
        except cli.UsageError as e:
            raise UsageError(str(e).splitlines()[0])
        self.method = o["credential"]
        self.trust = load_certs(o["ta"], "trust anchor file")
        from tinyest import x509
        from tinyest.errors import EstError

        for t in self.trust:
            try:
                x509.Certificate(t)
            except EstError as e:
                raise Fail(EXIT_INPUT, "trust anchor file %s: %s" % (o["ta"], e))
        self.ta_fingerprint = hashlib.sha256(self.trust[0]).hexdigest()
        self.idevid = None
        if self.method == "idevid" and o.get("idevid_cert"):
            self.idevid = self.load_idevid(o["idevid_cert"], o["idevid_key"])
        self.station_auth = {}
        if self.method == "station":
            if o["station_user"]:
                self.station_auth["auth"] = (o["station_user"], o["station_password"])
            else:
                self.station_auth["cert"] = load_certs(o["station_cert"], "station certificate file")[0]
                self.station_auth["key"] = load_key(o["station_key"], "station key file")
        for k in ("otp_user", "cn", "dns"):
            if k != "dns" or self.o[k]:
                check_template(self.o[k], "--" + k.replace("_", "-"))

    @staticmethod
    def load_idevid(cert_path, key_path):
        from tinyest.errors import EstError
        from tinyest.store import key_matches

        chain = load_certs(cert_path, "IDevID certificate file")
        key = load_key(key_path, "IDevID key file")
        try:
            ok = key_matches(key, chain[0])
        except EstError as e:
            raise Fail(EXIT_INPUT, "IDevID %s / %s: %s" % (cert_path, key_path, e))
        if not ok:
            raise Fail(EXIT_INPUT, "IDevID key %s does not belong to certificate %s" % (key_path, cert_path))
        return key, chain

    def config_for(self, dev_id, cn=None, dns=None):
        """The store config of a device: the EST server and the device's identity
        (``cn``/``dns``: the device's own templates, else the plan's)."""
        cfg = {"host": self.host, "port": self.port}
        if self.label:
            cfg["label"] = self.label
        cfg["cn"] = identity(cn or self.o["cn"], dev_id, "cn")
        if dns or self.o["dns"]:
            cfg["dns"] = identity(dns or self.o["dns"], dev_id, "dns")
        return cfg

    def files_for(self, dev_id, config, idevid=None):
        """(files, secret): the files to write and an OTP (user, password) or None."""
        files = {"config": wire.render_config(config), "trust": b"".join(self.trust)}
        secret = None
        o = self.o
        if self.method == "password":
            files["boot_user"] = o["user"].encode()
            files["boot_password"] = o["password"].encode()
        elif self.method == "otp":
            user = fill(o["otp_user"], dev_id)
            secret = (user, secrets.token_urlsafe(18))
            files["boot_user"] = user.encode()
            files["boot_password"] = secret[1].encode()
        elif self.method == "idevid":
            key, chain = idevid or self.idevid
            files["boot_key"] = key
            files["boot_chain"] = b"".join(chain)
        return files, secret

    def credentials(self, files, config):
        """The tinyest.store Credentials of a file set (raw REPL path)."""
        from tinyest.store import Credentials

        c = Credentials()
        c.config = dict(config)
        c.trust = list(self.trust)
        if "boot_user" in files:
            c.boot_user = files["boot_user"].decode()
            c.boot_password = files["boot_password"].decode()
        if "boot_key" in files:
            c.boot_key = files["boot_key"]
            c.boot_chain = wire.split_der(files["boot_chain"])
        return c

    def enroll(self, csr):
        """Station mode: enroll the device's CSR; the chain to write (issued first)."""
        from tinyest import x509
        from tinyest.client import EstClient
        from tinyest.errors import EstError

        try:
            client = EstClient(self.host, self.port, label=self.label, trust=self.trust,
                               timeout=self.o["timeout"] * 2, **self.station_auth)
            certs = [bytes(c) for c in client.simpleenroll(csr)]
        except EstError as e:
            raise Fail(EXIT_EST, "EST server %s:%d: %s" % (self.host, self.port, e))
        extra = [bytes(c) for c in getattr(client, "ca_certs", [])]
        chain = list(certs)
        for candidate in (chain, chain + [c for c in extra if c not in chain and c not in self.trust]):
            try:
                x509.verify_chain(candidate[0], candidate[1:], self.trust)
                return candidate
            except EstError:
                continue
        raise Fail(EXIT_EST, "the issued certificate does not chain to the trust anchor")


def fill(template, dev_id):
    """A template with the device id filled in ({device_id}, or {id})."""
    return template.format(device_id=dev_id, id=dev_id)


def check_template(template, what):
    try:
        if not fill(template, "x"):
            raise ValueError
    except (KeyError, IndexError, ValueError):
        raise UsageError("%s: a non-empty text that may use {device_id} only" % what)


def identity(template, dev_id, what):
    """The cn or dns of a device; Fail when it cannot be a subject CN (1 to 64
    characters, no control character) or a DNS name."""
    v = fill(template, dev_id)
    if what == "cn":
        ok = 0 < len(v) <= 64 and all(ord(ch) >= 0x20 and ord(ch) != 0x7F for ch in v)
    else:
        labels = v[:-1].split(".") if v.endswith(".") else v.split(".")
        ok = len(v) <= 253 and all(
            0 < len(x) <= 63 and x[0] != "-" and x[-1] != "-"
            and all(ch.isascii() and (ch.isalnum() or ch == "-") for ch in x) for x in labels)
    if not ok:
        raise Fail(EXIT_USAGE, "device %s: %r is not a usable %s" % (dev_id, v, "subject CN (1 to 64 characters)"
                                                                    if what == "cn" else "DNS name"), "untouched")
    return v


def _spki(cert_der):
    from tinyest import x509

    return bytes(x509.Certificate(cert_der).public_key_der)


# ---------------------------------------------------------------- output, ledger, OTP

class Reporter:
    """What the tool did (standard output) and a progress line (only on a terminal)."""

    def __init__(self, quiet=False, out=None, err=None):
        self.out = out or sys.stdout
        self.err = err or sys.stderr
        self.quiet = quiet
        self.tty = not quiet and hasattr(self.err, "isatty") and self.err.isatty()
        self.lock = threading.Lock()
        self.shown = False
        self.prefix = ""

    def say(self, text):
        if self.quiet:
            return
        with self.lock:
            self._clear()
            self.out.write(text + "\n")
            self.out.flush()

    def error(self, text):
        with self.lock:
            self._clear()
            self.err.write("%s: %s\n" % (PROG, text))
            self.err.flush()

    def _clear(self):
        if self.shown:
            self.err.write("\r\033[K")
            self.shown = False

    def progress(self, text, done=None, total=None):
        if not self.tty:
            return
        if total:
            n = int(24 * done / total)
            text = "%s [%s%s] %3d%%" % (text, "#" * n, "." * (24 - n), 100 * done // total)
        with self.lock:
            self.err.write("\r\033[K" + (self.prefix + text)[:150])
            self.err.flush()
            self.shown = True

    def done(self):
        with self.lock:
            self._clear()


class Ledger:
    """SQLite ledger, one row per device run (see the module text)."""

    COLUMNS = ("device_id", "time", "station", "port", "mode", "method", "ta_sha256", "result",
               "device_state", "written_sha256", "cert_sha256", "exit_code", "seconds", "detail")

    def __init__(self, path):
        self.lock = threading.Lock()
        try:
            self.db = sqlite3.connect(path, check_same_thread=False)
            self.db.execute(
                "CREATE TABLE IF NOT EXISTS provisioning (id INTEGER PRIMARY KEY, device_id TEXT, "
                "time TEXT, station TEXT, port TEXT, mode TEXT, method TEXT, ta_sha256 TEXT, "
                "result TEXT, device_state TEXT, written_sha256 TEXT, cert_sha256 TEXT, "
                "exit_code INTEGER, seconds REAL, detail TEXT)")
            self.db.commit()
        except sqlite3.Error as e:
            raise Fail(EXIT_INPUT, "cannot open ledger %s: %s" % (path, e))

    def add(self, row):
        with self.lock:
            try:
                self.db.execute("INSERT INTO provisioning (%s) VALUES (%s)"
                                % (", ".join(self.COLUMNS), ", ".join("?" * len(self.COLUMNS))),
                                [row.get(c) for c in self.COLUMNS])
                self.db.commit()
            except sqlite3.Error as e:
                raise Fail(EXIT_INPUT, "cannot write the ledger: %s" % e)

    def close(self):
        self.db.close()


class OtpExport:
    """One-time passwords for the CA: CSV device_id,user,password,time. The file is
    mode 0600 whatever it was before (a file made by someone else is refused, as is
    anything but a regular file), and a symbolic link there is never followed."""

    def __init__(self, path):
        self.path = path
        self.lock = threading.Lock()
        with self._open() as f:
            if f.tell() == 0:
                self._write(f, ["device_id", "user", "password", "time"])

    def _open(self):
        path = self.path
        try:
            if os.path.islink(path):  # O_NOFOLLOW says so too, where it exists
                raise OSError(errno.ELOOP, "it is a symbolic link")
            fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0), 0o600)
        except OSError as e:
            why = "it is a symbolic link" if e.errno == errno.ELOOP else (e.strerror or e)
            raise Fail(EXIT_INPUT, "cannot write OTP export %s: %s" % (path, why))
        try:
            st = os.fstat(fd)
            if not stat.S_ISREG(st.st_mode):
                raise OSError(errno.EINVAL, "not a regular file")
            if hasattr(os, "fchmod"):
                if hasattr(os, "getuid") and st.st_uid != os.getuid():
                    raise OSError(errno.EPERM, "owned by another user")
                os.fchmod(fd, 0o600)
            return os.fdopen(fd, "a", newline="")
        except OSError as e:
            os.close(fd)
            raise Fail(EXIT_INPUT, "cannot write OTP export %s: %s" % (path, e.strerror or e))

    def _write(self, f, row):
        try:
            csv.writer(f).writerow(row)
            f.flush()
            os.fsync(f.fileno())
        except OSError as e:
            raise Fail(EXIT_INPUT, "cannot write OTP export %s: %s" % (self.path, e.strerror or e))

    def add(self, dev_id, user, password):
        with self.lock:
            with self._open() as f:
                self._write(f, [dev_id, user, password, _now()])


def _now():
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _size(n):
    n = int(n)
    if n < 0:
        return "unknown"
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return ("%d %s" % (n, unit)) if unit == "B" else ("%.1f %s" % (n, unit))
        n /= 1024.0


# ---------------------------------------------------------------- talking to a device

def open_port(url, o):
    import serial

    kw = {"baudrate": o["baud"], "timeout": 0.02, "write_timeout": 10}
    try:
        try:
            return serial.serial_for_url(url, exclusive=True, **kw)
        except (TypeError, ValueError):
            return serial.serial_for_url(url, **kw)
    except (serial.SerialException, OSError, ValueError) as e:
        raise Fail(EXIT_LINK, "cannot open %s: %s" % (url, e), "untouched", hint=True)


class AgentDevice:
    mode = "agent"

    def __init__(self, client, repl=None):
        self.client = client
        self.repl = repl  # the REPL that started the agent, if any

    def identify(self):
        i = self.client.info()
        return {"id": i.get("id", ""), "fw": i.get("fw", "?"), "free": int(i.get("free", -1)),
                "state": i.get("state", "?"), "gen": int(i.get("gen", 0)),
                "agent": i.get("agent", "?"), "cn": i.get("cn", ""), "dns": i.get("dns", "")}

    def wipe(self):
        self.client.wipe()

    def finish(self, reboot):
        if reboot:
            self.client.reboot()
        elif self.repl is not None:
            self.client.quit()  # the agent returns to the raw REPL ...
            self.repl.leave()  # ... and this goes back to the friendly one

    def provision(self, plan, files, config, out, rep, o):
        c = self.client
        commit_sent = False
        last = None
        for attempt in range(1, o["attempts"] + 1):
            try:
                if attempt > 1:
                    rep.say("  %s; starting again (attempt %d of %d)" % (last, attempt, o["attempts"]))
                    c.hello()
                    got = c.info().get("id", "")
                    if got != out["device_id"]:
                        raise Fail(EXIT_DEVICE, "another device (%s) answers now" % got,
                                   "unknown" if commit_sent else "untouched")
                written = dict(files)
                expected = dict(files)
                c.begin()
                for name in wire.FILES:
                    if name in files:
                        self._put(name, files[name], rep)
                if plan.method == "station":
                    rep.progress("making the device key")
                    n, digest = c.genkey(config["cn"], o["curve"])
                    csr = c.read("csr", n)
                    if hashlib.sha256(csr).digest() != digest:
                        raise Fail(EXIT_DEVICE, "the CSR read from the device is damaged")
                    rep.progress("enrolling the device CSR with %s:%d" % (plan.host, plan.port))
                    chain = plan.enroll(csr)
                    written["chain"] = expected["chain"] = b"".join(chain)
                    expected["key"] = _spki(chain[0])
                    out["cert_sha256"] = hashlib.sha256(chain[0]).hexdigest()
                    self._put("chain", written["chain"], rep)
                rep.progress("committing")
                commit_sent = True
                out["state"] = "unknown"  # until the store is read back (or cleaned)
                gen = c.commit(wire.set_digest(written))
                want = wire.set_digest(expected, wire.ITEMS)
                key = wire.fresh_key()
                count, proof, _ = c.readback(key)
                if count != len(expected) or proof != wire.keyed(key, want):
                    key = wire.fresh_key()
                    _, _, items = c.readback(key, items=True)
                    bad = sorted(n for n in set(items) | set(expected)
                                 if items.get(n, (0, b""))[1] != wire.keyed(key, expected.get(n, b"\0")))
                    raise Fail(EXIT_DEVICE, "the store read back differs in %s" % ", ".join(bad), "wipe")
                out["written_sha256"] = want.hex()
                out["state"] = "provisioned"
                rep.say("  wrote %s; HMAC of each read back: match"
                        % ", ".join("%s (%d B)" % (n, len(written[n])) for n in wire.FILES if n in written))
                rep.say("  committed generation %d; read back %d items from the store: match" % (gen, count))
                return
            except (sp.TransferLost, sp.LinkError) as e:
                last = ("the device restarted" if isinstance(e, sp.TransferLost)
                        else "link lost (%s)" % e)
                continue
            except sp.DeviceError as e:
                self._clean(out, commit_sent)
                raise Fail(EXIT_DEVICE, "the device refused: %s" % e, out["state"])
            except Fail as e:
                if e.state is None or e.state == "wipe":
                    self._clean(out, commit_sent or e.state == "wipe")
                    e.state = out["state"]
                raise
        if commit_sent:
            raise Fail(EXIT_UNKNOWN, "%s after a commit was sent; the device holds the old or the "
                       "new set, never a mix" % last, "unknown", hint=True)
        raise Fail(EXIT_LINK, "%s; nothing was committed" % last, "untouched", hint=True)

    def _clean(self, out, committed):
        try:
            if committed:
                self.client.wipe()
                out["state"] = "wiped"
            else:
                self.client.abort()
                out["state"] = "untouched"
        except (sp.LinkError, sp.DeviceError):
            out["state"] = "unknown" if committed else "untouched"

    def _put(self, name, data, rep):
        def progress(n, done, total):
            rep.progress("writing %s" % n, done, total)

        self.client.put(name, data, progress)
        key = wire.fresh_key()
        n, proof = self.client.hash(name, key)
        if n != len(data) or proof != wire.keyed(key, data):
            raise Fail(EXIT_DEVICE, "%s arrived damaged on the device (its HMAC differs)" % name)


class ReplDevice:
    mode = "repl"

    def __init__(self, repl, info, root):
        from tinyest.store import Store

        self.repl = repl
        self.info = info
        self.root = root
        self.fs = sp.ReplFs(repl)
        self.store = Store(root, self.fs)

    def identify(self):
        try:
            s = self.fs.summary(self.root)  # read on the board: no value crosses the line
        except OSError as e:
            raise sp.ReplError("the raw REPL stopped answering (%s)" % e)
        self.info["gen"] = gen = s.get("gen", 0)
        return {"id": self.info.get("id") or "", "fw": self.info.get("fw", "?"),
                "free": self.info.get("free", -1), "state": s.get("state", "?"), "gen": gen,
                "agent": "none (raw REPL)", "cn": s.get("cn", ""), "dns": s.get("dns", "")}

    def wipe(self):
        self.store.wipe()

    def finish(self, reboot):
        if reboot:
            self.repl.send("try:\n import machine\n machine.reset()\nexcept Exception:\n pass\n")
            try:
                self.repl.follow(timeout=2)
                self.repl.port.write(b"\x04")  # soft reset where there is no machine.reset
            except sp.ReplError:
                pass
        else:
            self.repl.leave()

    def provision(self, plan, files, config, out, rep, o):
        from tinyest.errors import EstError

        if plan.method == "station":
            raise Fail(EXIT_DEVICE, "station enrollment needs the provisioning agent on the device "
                       "(the key is made there)", "untouched")
        creds = plan.credentials(files, config)
        old = self.info.get("gen", 0)
        last = None
        for attempt in range(1, o["attempts"] + 1):
            try:
                if attempt > 1:
                    rep.say("  %s; starting again (attempt %d of %d)" % (last, attempt, o["attempts"]))
                    self._reconnect(out, o)
                rep.progress("writing the store through the raw REPL")
                out["state"] = "unknown"  # until the store is read back (or cleaned)
                gen = self.store.commit(creds)
                if old:
                    gen = self.store.commit(creds)  # the older slot held the replaced set
                # Read back on the board: the newest intact slot, its generation, and
                # the HMAC of its octets under a fresh key against what was written.
                s = self.fs.summary(self.root)
                path = self.root.rstrip("/") + "/" + str(s.get("slot"))
                data = self.fs.landed.get(path)
                same = s.get("gen") == gen and data is not None and self.fs.same(path, data)
                break
            except (EstError, OSError, sp.ReplError) as e:
                if isinstance(e, sp.ReplError) or self.fs.broken:
                    last = "the raw REPL stopped answering (%s)" % e
                    continue
                self._clean(out, self.fs.renames > 0)
                raise Fail(EXIT_DEVICE, "writing the store through the raw REPL failed: %s" % e, out["state"])
        else:
            committed = self.fs.renames > 0
            self._clean(out, committed)
            if committed and out["state"] != "wiped":
                raise Fail(EXIT_UNKNOWN, "%s after the commit began; the device holds the old or the "
                           "new set, never a mix" % last, "unknown", hint=True)
            raise Fail(EXIT_LINK, "%s; %s" % (last, "the store was wiped" if committed else "nothing was committed"),
                       out["state"], hint=True)
        items = dict(wire.render(creds))
        want = wire.set_digest(files, wire.ITEMS)
        if not same or wire.set_digest(items, wire.ITEMS) != want:
            self._clean(out, True)
            raise Fail(EXIT_DEVICE, "the store read back differs from what was written", out["state"])
        out["written_sha256"] = want.hex()
        out["state"] = "provisioned"
        rep.say("  wrote %s through the raw REPL; the slot file's HMAC matched before its rename"
                % ", ".join("%s (%d B)" % (n, len(files[n])) for n in wire.FILES if n in files))
        rep.say("  committed generation %d; read back the newest slot (%d items) on the board: match"
                % (gen, len(items)))

    def _reconnect(self, out, o):
        end = time.monotonic() + o["timeout"]
        while True:
            try:
                self.repl.enter(timeout=1.0)
                info = sp.repl_identify(self.repl, self.root)
                break
            except sp.ReplError:
                if time.monotonic() >= end:
                    raise
        if (o["device_id"] or info.get("id")) != out["device_id"]:
            raise Fail(EXIT_DEVICE, "another device (%s) answers now" % info.get("id"),
                       "unknown" if self.fs.renames else "untouched")
        self.fs.install()

    def _clean(self, out, committed):
        try:
            if self.fs.broken:
                self.repl.enter()
                self.fs.install()
            try:
                self.fs.remove(self.root + "/cred.tmp")
            except OSError:
                pass
            if committed:
                self.store.wipe()
                out["state"] = "wiped"
            else:
                out["state"] = "untouched"
        except Exception:  # the board is gone or wedged: say what is known
            out["state"] = "unknown" if committed else "untouched"


def connect(port, o, rep, probe=None):
    """An AgentDevice or ReplDevice for the device on ``port``."""
    link = sp.Link(port, frame_timeout=o["frame_timeout"], answer_timeout=o["timeout"],
                   slow_timeout=SLOW_FACTOR * o["timeout"])
    client = sp.AgentClient(link)
    mode = o["mode"]
    if mode in ("auto", "agent"):
        try:
            try:
                client.hello(answer_timeout=probe or (PROBE if mode == "auto" else o["timeout"]), probe=True)
            except sp.LinkError:
                if not link.heard_agent:
                    raise
                client.hello()  # an agent NAKed: a bad line, not a REPL
            return AgentDevice(client)
        except sp.LinkError:
            pass
        except sp.DeviceError as e:
            raise Fail(EXIT_DEVICE, "the agent refused HELLO: %s" % e, "untouched")
    repl = sp.RawRepl(port, timeout=min(o["timeout"], 5.0))
    try:
        repl.enter()
        info = sp.repl_identify(repl, o["store"])
    except sp.ReplError:
        if mode == "auto":
            try:  # an agent slow to start (a board still booting) gets the full time
                client.hello(answer_timeout=o["timeout"], probe=not link.heard_agent)
                return AgentDevice(client)
            except (sp.LinkError, sp.DeviceError):
                pass
        what = {"agent": "no answer from the provisioning agent",
                "repl": "no answer from a MicroPython raw REPL"}.get(
            mode, "no answer: neither the provisioning agent nor a MicroPython REPL answers")
        raise Fail(EXIT_LINK, what, "untouched", hint=True)
    if info.get("agent") and mode != "repl":
        try:
            repl.send("import provision_agent\nprovision_agent.main(%r)\n" % o["store"])
            link.pending.extend(link.dec.feed(bytes(repl.rbuf)))
            repl.rbuf = bytearray()
            client.hello()
        except (sp.ReplError, sp.LinkError) as e:
            raise Fail(EXIT_LINK, "could not start the agent on the board: %s" % e, "untouched", hint=True)
        return AgentDevice(client, repl)
    if mode == "agent":
        raise Fail(EXIT_DEVICE, "the board has no provisioning agent (provision_agent.py)", "untouched")
    return ReplDevice(repl, info, o["store"])


# ---------------------------------------------------------------- one device

def run_device(port_url, plan, o, rep, ledger=None, otp=None, expected_id=None, idevid=None,
               wait=None, done_ids=None, cn=None, dns=None):
    """Provision the device on port_url; returns the outcome dict (also written to
    the ledger). ``wait``: seconds to wait for a (new) device to answer; ``cn``,
    ``dns``: this device's identity templates instead of the plan's."""
    t0 = time.monotonic()
    out = {"device_id": expected_id or "", "time": _now(), "station": o["station"], "port": port_url,
           "mode": None, "method": plan.method, "ta_sha256": plan.ta_fingerprint, "result": "failed",
           "device_state": None, "written_sha256": None, "cert_sha256": None, "state": "untouched"}
    port = None
    conn = None
    try:
        port, conn, info = _attach(port_url, o, rep, wait, done_ids)
        out["mode"] = conn.mode
        out["device_id"] = dev_id = o["device_id"] or info["id"]
        if not dev_id:
            raise Fail(EXIT_DEVICE, "the device has no unique id: give --device-id", "untouched")
        rep.say("device %s on %s: %s, %s, %s free, store %s%s"
                % (dev_id, port_url, "agent " + info["agent"] if conn.mode == "agent" else "raw REPL",
                   info["fw"], _size(info["free"]), info["state"],
                   " (generation %d)" % info["gen"] if info["gen"] else ""))
        if expected_id and dev_id != expected_id:
            raise Fail(EXIT_DEVICE, "device %s answered, %s expected" % (dev_id, expected_id), "untouched")
        if info["state"] != "empty" and not o["force"]:
            raise Fail(EXIT_DEVICE, "the device already holds credentials (store %s); --force replaces them"
                       % info["state"], "untouched")
        config = plan.config_for(dev_id, cn, dns)
        files, secret = plan.files_for(dev_id, config, idevid)
        rep.prefix = "%s: " % dev_id
        conn.provision(plan, files, config, out, rep, o)
        if secret is not None:
            try:
                otp.add(dev_id, secret[0], secret[1])
            except Fail:
                conn._clean(out, True)
                raise Fail(EXIT_INPUT, "cannot export the one-time password, so the device was %s"
                           % out["state"], out["state"])
            rep.say("  credential: one-time password for user %s, exported to %s" % (secret[0], otp.path))
        elif plan.method == "password":
            rep.say("  credential: password for user %s" % o["user"])
        elif plan.method == "idevid":
            rep.say("  credential: factory certificate and key (IDevID)")
        else:
            rep.say("  credential: certificate enrolled by this station, SHA-256 %s" % out["cert_sha256"])
        rep.say("  identity %s" % _identity(config))
        rep.say("  trust anchor SHA-256 %s; written set SHA-256 %s" % (plan.ta_fingerprint, out["written_sha256"]))
        try:
            conn.finish(o["reboot"])
        except (sp.LinkError, sp.DeviceError, sp.ReplError):
            pass
        out["result"] = "ok"
        out["exit_code"] = EXIT_OK
        s = conn.client.link.stats if conn.mode == "agent" else None
        rep.say("  provisioned in %.2f s%s" % (time.monotonic() - t0,
                                               " (%d frames, %d retransmitted)" % (s["requests"], s["retransmissions"])
                                               if s else ""))
    except Fail as e:
        if e.state is not None:
            out["state"] = e.state
        out["exit_code"] = e.code
        out["detail"] = e.message
        rep.error(e.message)
        if e.hint:
            rep.error(HINT)
    except KeyboardInterrupt:
        out["exit_code"] = EXIT_INTERRUPTED
        out["detail"] = "interrupted"
        if out["state"] == "untouched" and conn is not None and conn.mode == "agent":
            try:
                conn.client.abort()
            except Exception:
                pass
        raise
    finally:
        rep.done()
        rep.prefix = ""
        if port is not None:
            try:
                port.close()
            except Exception:
                pass
        out["seconds"] = round(time.monotonic() - t0, 3)
        out["device_state"] = out["state"]
        if conn is not None and conn.mode == "agent" and not out.get("detail"):
            s = conn.client.link.stats
            out["detail"] = "frames %d, retransmitted %d, damaged %d, naks %d" % (
                s["requests"], s["retransmissions"], s["damaged"], s["naks"])
        elif conn is not None and conn.mode == "agent":
            s = conn.client.link.stats
            out["detail"] += " (frames %d, retransmitted %d)" % (s["requests"], s["retransmissions"])
        if ledger is not None:
            ledger.add(out)
    return out


def _identity(d):
    """"CN x, DNS y" of a config or an identification."""
    if not d.get("cn"):
        return "none (no cn stored)"
    return "CN %s%s" % (d["cn"], ", DNS %s" % d["dns"] if d.get("dns") else "")


def _attach(port_url, o, rep, wait, done_ids):
    """(port, connection, info) once a device answers; with ``wait``, keep trying
    that long for one whose id is not in ``done_ids``."""
    end = time.monotonic() + (wait or 0)
    shown = False
    while True:
        port = None
        try:
            port = open_port(port_url, o)
            conn = connect(port, o, rep)
            info = conn.identify()
            if not (done_ids and info["id"] in done_ids):
                return port, conn, info
            last = Fail(EXIT_DEVICE, "only device %s, provisioned already in this batch, answers on %s"
                        % (info["id"], port_url), "untouched")
        except Fail as e:
            last = e
        except (sp.LinkError, sp.DeviceError, sp.ReplError) as e:
            last = Fail(EXIT_LINK, "the device stopped answering: %s" % e, "untouched", hint=True)
        if port is not None:
            port.close()
        if time.monotonic() >= end:
            raise last
        if not shown:
            rep.progress("waiting for a device on %s" % port_url)
            shown = True
        time.sleep(0.5)


# ---------------------------------------------------------------- command line

class _Parser(argparse.ArgumentParser):
    def error(self, message):
        raise UsageError(message)


def _parser():
    p = _Parser(
        prog=PROG, formatter_class=argparse.RawDescriptionHelpFormatter,
        description=__doc__.replace("``", ""))
    a = p.add_argument
    a("--port", help="serial port or pyserial URL of the device")
    a("--batch", metavar="STATION", help="station settings (TOML or CSV) for a batch")
    a("--devices", metavar="CSV", help="device list of a batch: port[,device_id[,idevid_cert,idevid_key]]")
    a("--identify", action="store_true", help="only show the device's identity and store state")
    a("--wipe", action="store_true", help="erase the device's credential store")
    a("--server", help="EST server URL https://host[:port][/.well-known/est[/LABEL]]")
    a("--label", help="EST label (path segment after /.well-known/est/)")
    a("--ta", metavar="FILE", help="trust anchor certificate(s), PEM or DER")
    a("--user", help="bootstrap user name")
    a("--password", help="bootstrap password ('-': prompt)")
    a("--otp", choices=["auto"], help="a one-time password per device (CSPRNG)")
    a("--otp-export", metavar="FILE", help="where one-time passwords go for the CA (CSV, 0600)")
    a("--otp-user", metavar="TEMPLATE", help="user name of one-time passwords (default {device_id})")
    a("--idevid-cert", metavar="FILE", help="factory certificate (chain), PEM or DER")
    a("--idevid-key", metavar="FILE", help="factory private key, PEM or DER")
    a("--station-enroll", action="store_true", help="this station enrolls the device's CSR (RA)")
    a("--station-user", help="the station's EST user")
    a("--station-password", help="the station's EST password ('-': prompt)")
    a("--station-cert", metavar="FILE", help="the station's EST client certificate")
    a("--station-key", metavar="FILE", help="the station's EST client key")
    a("--cn", metavar="TEMPLATE", help="the device's subject CN, stored in every mode (default {device_id})")
    a("--dns", metavar="TEMPLATE", help="a DNS name for the device's requests, e.g. {device_id}.example.net")
    a("--station", help="station name for the ledger (default: host name)")
    a("--ledger", metavar="FILE", help="SQLite ledger to append to")
    a("--mode", choices=["auto", "agent", "repl"], help="how to talk to the device (default auto)")
    a("--store", metavar="DIR", help="credential store directory on the device (default /est)")
    a("--device-id", help="device id to use when the device has none")
    a("--force", action="store_true", default=None, help="replace credentials already on the device")
    a("--reboot", action="store_true", default=None, help="reset the device afterwards")
    a("--baud", type=int, help="baud rate (default 115200)")
    a("--timeout", type=float, help="seconds without an answer before giving up (default 8; key "
                                    "generation, commit and wipe get %d times that once acknowledged)"
                                    % SLOW_FACTOR)
    a("--frame-timeout", type=float, help="longest retransmission interval (default 0.5 s)")
    a("--attempts", type=int, help="runs per device when it restarts or the link drops (default 3)")
    a("--wait", type=float, help="batch: seconds to wait for each device (default 120)")
    a("--jobs", type=int, help="batch: devices provisioned at once on different ports (default 1)")
    a("--quiet", "-q", action="store_true", default=None, help="print errors only")
    return p


def _options(args):
    """Merged settings: defaults < station file < command line."""
    o = dict(DEFAULTS)
    if args.batch:
        o.update(read_station(args.batch))
    cli_creds = []
    if args.user is not None or args.password is not None:
        cli_creds.append("password")
    if args.otp:
        cli_creds.append("otp")
    if args.idevid_cert or args.idevid_key:
        cli_creds.append("idevid")
    if args.station_enroll:
        cli_creds.append("station")
    if len(cli_creds) > 1:
        raise UsageError("give one credential: --user/--password, --otp auto, --idevid-cert/--idevid-key "
                         "or --station-enroll")
    if cli_creds:
        o["credential"] = cli_creds[0]
    for k in DEFAULTS:
        v = getattr(args, k, None)
        if v is not None:
            o[k] = v
    if o["station"] is None:
        o["station"] = socket.gethostname()
    for k in ("password", "station_password"):
        if o[k] == "-":
            o[k] = getpass.getpass("%s: " % k.replace("_", " "))
    return o


def _check(o, args):
    if o["credential"] not in METHODS:
        raise UsageError("give a credential: --user/--password, --otp auto, --idevid-cert/--idevid-key "
                         "or --station-enroll (station file: credential = %s)" % " | ".join(METHODS))
    if not o["server"]:
        raise UsageError("--server is required")
    if not o["ta"]:
        raise UsageError("--ta is required (the EST server's trust anchor)")
    m = o["credential"]
    if m == "password" and (not o["user"] or o["password"] is None):
        raise UsageError("--user and --password go together")
    if m == "password" and ":" in o["user"]:
        raise UsageError("no ':' in --user")
    if m == "otp" and not o["otp_export"]:
        raise UsageError("--otp auto needs --otp-export FILE (the CA must learn the passwords)")
    if m == "idevid" and not args.batch and not (o.get("idevid_cert") and o.get("idevid_key")):
        raise UsageError("--idevid-cert and --idevid-key go together")
    if m == "station":
        if bool(o["station_user"]) == bool(o["station_cert"]):
            raise UsageError("station mode needs --station-user/--station-password or "
                             "--station-cert/--station-key")
        if o["station_user"] and o["station_password"] is None:
            raise UsageError("--station-user needs --station-password")
        if o["station_cert"] and not o["station_key"]:
            raise UsageError("--station-cert needs --station-key")
    if m != "station" and (o["station_user"] or o["station_cert"]):
        raise UsageError("--station-user/--station-cert belong to --station-enroll")
    for k in ("timeout", "frame_timeout"):
        if o[k] <= 0:
            raise UsageError("--%s must be positive" % k.replace("_", "-"))
    if o["attempts"] < 1 or o["jobs"] < 1:
        raise UsageError("--attempts and --jobs are at least 1")


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    p = _parser()
    rep = Reporter()

    def usage(msg):
        rep.error(msg)
        sys.stderr.write(p.format_usage())
        return EXIT_USAGE

    try:
        try:
            args = p.parse_args(argv)
        except SystemExit as e:  # --help
            return EXIT_OK if not e.code else EXIT_USAGE
        if bool(args.batch) != bool(args.devices):
            return usage("--batch and --devices go together")
        o = _options(args)
        o["idevid_cert"], o["idevid_key"] = args.idevid_cert, args.idevid_key
        rep.quiet = bool(o["quiet"])
        rep.tty = rep.tty and not rep.quiet
        if args.batch:
            if args.port or args.identify or args.wipe:
                return usage("--port, --identify and --wipe are for one device, not a batch")
            _check(o, args)
            return run_batch(o, args, rep)
        if not args.port:
            return usage("--port is required")
        if args.identify or args.wipe:
            if args.identify and args.wipe:
                return usage("--identify or --wipe, not both")
            return run_tool(args.port, o, rep, "wipe" if args.wipe else "identify")
        _check(o, args)
        plan = Plan(o)
        ledger = Ledger(o["ledger"]) if o["ledger"] else None
        otp = OtpExport(o["otp_export"]) if plan.method == "otp" else None
        out = run_device(args.port, plan, o, rep, ledger, otp)
        return out["exit_code"]
    except UsageError as e:
        return usage(str(e))
    except Fail as e:
        rep.error(e.message)
        return e.code
    except KeyboardInterrupt:
        rep.error("interrupted")
        return EXIT_INTERRUPTED


def run_tool(port_url, o, rep, what):
    """--identify and --wipe."""
    port = None
    try:
        port = open_port(port_url, o)
        conn = connect(port, o, rep)
        info = conn.identify()
        rep.say("device %s on %s: %s, %s, %s free, store %s (generation %d), identity %s"
                % (info["id"] or "(no id)", port_url,
                   "agent " + info["agent"] if conn.mode == "agent" else "raw REPL",
                   info["fw"], _size(info["free"]), info["state"], info["gen"], _identity(info)))
        if what == "wipe":
            conn.wipe()
            rep.say("  store wiped")
        conn.finish(o["reboot"])
        return EXIT_OK
    except Fail as e:
        rep.error(e.message)
        if e.hint:
            rep.error(HINT)
        return e.code
    except (sp.LinkError, sp.ReplError) as e:
        rep.error("the device stopped answering: %s" % e)
        rep.error(HINT)
        return EXIT_UNKNOWN if what == "wipe" else EXIT_LINK
    except sp.DeviceError as e:
        rep.error("the device refused: %s" % e)
        return EXIT_DEVICE
    except Exception as e:
        from tinyest.errors import EstError

        if isinstance(e, EstError):
            rep.error("the device's store: %s" % e)
            return EXIT_DEVICE
        raise
    finally:
        if port is not None:
            port.close()


def run_batch(o, args, rep):
    plan = Plan(o)
    devices = read_devices(args.devices)
    if plan.method == "idevid":
        for row in devices:
            if not (row[2] and row[3]) and not plan.idevid:
                raise UsageError("credential idevid: each device row needs idevid_cert,idevid_key")
    if not o["ledger"]:
        raise UsageError("a batch needs a ledger (--ledger FILE or ledger = in the station file)")
    ledger = Ledger(o["ledger"])
    otp = OtpExport(o["otp_export"]) if plan.method == "otp" else None
    done = set()
    lock = threading.Lock()
    results = []
    total = len(devices)
    rep.say("batch: %d devices, station %s, server %s:%d%s, credential %s"
            % (total, o["station"], plan.host, plan.port, "/" + plan.label if plan.label else "",
               plan.method))

    def one(i, row):
        port_url, dev_id, cert, key, cn, dns = row
        try:
            idevid = Plan.load_idevid(cert, key) if cert else None
        except Fail as e:  # the row's own files: no device was touched
            rep.error(e.message)
            with lock:
                results.append({"result": "failed"})
            return
        with lock:
            busy = set(done)
        rep.progress("[%d/%d] %s" % (i + 1, total, port_url))
        out = run_device(port_url, plan, o, rep, ledger, otp, expected_id=dev_id, idevid=idevid,
                         wait=o["wait"], done_ids=busy, cn=cn, dns=dns)
        with lock:
            if out["result"] == "ok":
                done.add(out["device_id"])
            results.append(out)

    if o["jobs"] > 1:
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(max_workers=o["jobs"]) as pool:
            list(pool.map(lambda a: one(*a), enumerate(devices)))
    else:
        for i, row in enumerate(devices):
            one(i, row)
    ok = sum(1 for r in results if r["result"] == "ok")
    rep.say("batch: %d provisioned, %d failed (ledger %s)" % (ok, len(results) - ok, o["ledger"]))
    ledger.close()
    return EXIT_OK if ok == total else EXIT_BATCH


if __name__ == "__main__":
    sys.exit(main())
