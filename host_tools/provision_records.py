"""What a run leaves: the lines it prints (``Reporter``), the ledger (SQLite, one
row per device) and the export of one-time passwords for the CA."""

import csv
import datetime
import errno
import os
import sqlite3
import stat
import sys
import threading

from host_tools.provision_exits import EXIT_INPUT, PROG, Fail


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
                self._write(f, [dev_id, user, password, now()])


def now():
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def size(n):
    n = int(n)
    if n < 0:
        return "unknown"
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return ("%d %s" % (n, unit)) if unit == "B" else ("%.1f %s" % (n, unit))
        n /= 1024.0
