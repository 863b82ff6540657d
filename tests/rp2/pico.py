"""An emulated Raspberry Pi Pico for the tests and benchmarks: MicroPython's own
RP2040 firmware (v1.28.0, RPI_PICO, no network) booted in rp2040js by
``../shared/tools/rp2/run-pico.mjs``, with a real LittleFS flash kept in a file and
the USB-CDC REPL on a pseudo-terminal.

    with Pico(tmp / "flash.img") as p:          # boots (formats LittleFS the first time)
        p.install_library(mpy_dir)              # .mpy files to /lib/tinyest/
        out = p.exec("import tinyest.ec; print(1)")
        r = p.timed("k = tinyest.ec.generate()")  # r.cycles, r.ms, r.free, r.out
        p.reboot()                              # SIGTERM (flash saved), boot the same file

Talks the raw REPL (raw-paste mode with its flow control) over the pty with
pyserial. Board-side exceptions raise ``BoardError`` carrying the traceback; a
step that does not finish in time raises ``PicoTimeout``. ``stop()`` closes the
port and sends SIGTERM (the emulator saves the flash and exits; its pty relay
follows), waits, and kills the process group if it does not go: no node process
outlives a ``Pico``, also when the test run is interrupted (atexit).

The cycle counter is the emulator's EMU register (``machine.mem32[0x40068000]``
low word, +4 the high word latched by reading the low one): executed CPU cycles
at clk_sys 125 MHz plus modelled flash busy time; deterministic for the same
firmware, code and inputs. Time spent idle at the REPL is not counted.

``flash_ops()`` asks the running emulator (SIGUSR1) for its counters: flash
erase and program calls so far, and cycles.

Host side only (CPython). Locates the tools relative to the repository:
``ROOT.parent / "shared" / "tools" / "rp2"``; ``missing()`` says why they cannot
be used here (the tests skip with that reason).
"""

import atexit
import base64
import collections
import os
import pathlib
import re
import shutil
import signal
import struct
import subprocess
import threading
import time

ROOT = pathlib.Path(__file__).resolve().parents[2]
TOOLS = ROOT.parent / "shared" / "tools" / "rp2"
RUNNER = TOOLS / "run-pico.mjs"
FIRMWARE = TOOLS / "micropython-rp2-pico-v1.28.0.uf2"
CLOCK_HZ = 125_000_000
EMU = 0x40068000

# What a device imports on its way through an enrollment: the state machine and
# the store, and the modules the offline part of an enrollment loads.
DEVICE_IMPORTS = ("import tinyest.device, tinyest.store, tinyest.ec, tinyest.csr, tinyest.x509, "
                  "tinyest.pkcs7, tinyest.keys\n")

_BANNER = b"raw REPL; CTRL-B to exit\r\n>"
_STATS = re.compile(rb"\[rp2040js\] cycles=(\d+) .*?flash: (\d+) erase calls/(\d+) B, (\d+) program calls/(\d+) B")

_LIVE = set()
FIGURES = []  # (group, name, text): figures measured in this process (the tests print them)


JOBS = {}  # name -> (test module name, function(flash) -> result): board sessions run in parallel


def job(name):
    """Register a board session of a test module (decorator): the tests'
    conftest runs those of the selected modules two at a time in threads, each
    on its own board, and hands their results to the tests."""
    def register(fn):
        JOBS[name] = (fn.__module__, fn)
        return fn

    return register


def figure(group, name, text):
    """Record a measured figure: printed now (seen with -s) and, by the tests'
    conftest, in the summary at the end of the run."""
    FIGURES.append((group, name, text))
    print("[rp2] %s %s: %s" % (group, name, text))


def missing():
    """Why the emulator cannot be used here (a text), or None."""
    for f in (RUNNER, FIRMWARE, TOOLS / "pty-relay.py", TOOLS / "node_modules" / "rp2040js"):
        if not f.exists():
            return "RP2040 emulator not found: %s is absent (../shared/tools/rp2 beside the repository)" % f
    return None


def node_exe():
    exe = shutil.which("node")
    if exe is None:
        raise PicoError("node is not on PATH (the RP2040 emulator runs under node)")
    return exe


class PicoError(Exception):
    pass


class PicoTimeout(PicoError):
    pass


class BoardError(PicoError):
    """The code raised on the board; ``.traceback`` is its text."""

    def __init__(self, traceback, out=""):
        lines = traceback.strip().splitlines()
        PicoError.__init__(self, lines[-1] if lines else "error on the board")
        self.traceback = traceback
        self.out = out

    def __str__(self):
        return "on the board:\n" + self.traceback.strip()


class Timed:
    """One measured step: cycles, milliseconds at 125 MHz, gc.mem_free() after
    the step (see ``Pico.timed``), and the step's output."""

    def __init__(self, cycles, free, out):
        self.cycles = cycles
        self.free = free
        self.out = out

    @property
    def ms(self):
        return self.cycles * 1000.0 / CLOCK_HZ

    def __repr__(self):
        return "Timed(%d cycles, %.1f ms, %d free)" % (self.cycles, self.ms, self.free)


# Defined on the board after every boot (raw REPL globals persist between runs).
_PRELUDE = """
import gc as _gc, machine as _m
def _cyc():
    lo = _m.mem32[%d] & 0xffffffff
    return ((_m.mem32[%d] & 0xffffffff) << 32) | lo
""" % (EMU, EMU + 4)


class Pico:
    """One emulated board on ``flash`` (created and formatted on the first boot).
    ``workdir`` holds the pty link (default: the flash file's folder).
    ``flash_timing`` "none" makes flash erase/program free (default: typical
    busy times are charged)."""

    def __init__(self, flash, workdir=None, flash_timing=None, boot_timeout=60.0, start=True):
        self.flash = pathlib.Path(flash)
        self.workdir = pathlib.Path(workdir) if workdir else self.flash.parent
        self.flash_timing = flash_timing
        self.boot_timeout = boot_timeout
        self.link = self.workdir / ("pico-%d-%d.tty" % (os.getpid(), id(self) & 0xFFFFFF))
        self.proc = None
        self.port = None
        self.boots = 0
        self.log = collections.deque(maxlen=400)
        self.stats = None  # the last (cycles, erases, erased B, programs, programmed B) reported
        self._stats_seen = threading.Condition()
        self._stats_n = 0
        self._reader = None
        self._rbuf = bytearray()
        self._prompt = False
        if start:
            self.start()

    # ------------------------------------------------------------ process

    def start(self):
        """Boot the emulator and enter the raw REPL."""
        if self.proc is not None:
            raise PicoError("already running")
        if os.path.lexists(self.link):  # left by a relay killed with its emulator: a stale pts
            os.unlink(self.link)
        cmd = [node_exe(), str(RUNNER), "--pty", str(self.link), "--flash", str(self.flash),
               "--quiet", "--stats"]
        if self.flash_timing:
            cmd += ["--flash-timing", self.flash_timing]
        self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.PIPE, cwd=str(self.workdir),
                                     start_new_session=True)
        _LIVE.add(self)
        self._reader = threading.Thread(target=self._read_stderr, args=(self.proc,), daemon=True)
        self._reader.start()
        try:
            self._open_port()
            self.enter_raw(booting=True)
            self.exec(_PRELUDE)
        except BaseException:
            self.stop(signal.SIGKILL)
            raise
        self.boots += 1

    def _read_stderr(self, proc):
        for line in iter(proc.stderr.readline, b""):
            self.log.append(line.decode("utf-8", "replace").rstrip())
            m = _STATS.search(line)
            if m:
                with self._stats_seen:
                    self.stats = tuple(int(x) for x in m.groups())
                    self._stats_n += 1
                    self._stats_seen.notify_all()
        proc.stderr.close()

    def _open_port(self):
        import serial

        end = time.monotonic() + self.boot_timeout
        while True:
            if self.proc.poll() is not None:
                raise PicoError("the emulator exited (%s) before its pty appeared:\n%s"
                                % (self.proc.returncode, self.log_text()))
            if os.path.islink(self.link) and os.path.exists(self.link):
                try:
                    self.port = serial.Serial(str(self.link), timeout=0.05, write_timeout=30)
                    return
                except (serial.SerialException, OSError):
                    pass
            if time.monotonic() > end:
                raise PicoTimeout("the emulator's pty %s did not appear" % self.link)
            time.sleep(0.05)

    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def stop(self, sig=signal.SIGTERM, timeout=30.0):
        """Close the port, signal the emulator (SIGTERM: it saves the flash and
        exits; SIGKILL: the flash file keeps its last periodic save), wait for
        it; kill its process group if it lingers. Returns the exit status."""
        if self.port is not None:
            try:
                self.port.close()
            except Exception:
                pass
            self.port = None
        proc, self.proc = self.proc, None
        if proc is None:
            return None
        try:
            if proc.poll() is None:
                try:
                    os.kill(proc.pid, sig)
                except ProcessLookupError:
                    pass
                try:
                    proc.wait(timeout)
                except subprocess.TimeoutExpired:
                    self.log.append("[pico.py] no exit %.0f s after signal %d: killed" % (timeout, sig))
                    _killpg(proc.pid)
                    proc.wait(10)
        finally:
            _killpg(proc.pid)  # the pty relay, should it still be there
            _LIVE.discard(self)
            if self._reader is not None:
                self._reader.join(5)
            self._rbuf = bytearray()
        return proc.returncode

    def kill(self):
        """SIGKILL: a power cut as the flash file saw it last."""
        return self.stop(signal.SIGKILL)

    def reboot(self):
        """Stop (SIGTERM, flash saved) and boot again from the same flash file."""
        self.stop()
        self.start()

    def close(self):
        self.stop()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()

    def log_text(self):
        return "\n".join(self.log)

    def release(self):
        """Close the serial port (another program may open the pty now)."""
        if self.port is not None:
            self.port.close()
            self.port = None

    def attach(self):
        """Open the serial port again after ``release`` and enter the raw REPL."""
        self._open_port()
        self.enter_raw()

    def flash_ops(self, timeout=5.0):
        """(cycles, erase calls, erased bytes, program calls, programmed bytes)
        from the running emulator."""
        with self._stats_seen:
            n = self._stats_n
            os.kill(self.proc.pid, signal.SIGUSR1)
            end = time.monotonic() + timeout
            while self._stats_n == n:
                left = end - time.monotonic()
                if left <= 0:
                    raise PicoTimeout("no statistics from the emulator")
                self._stats_seen.wait(left)
            return self.stats

    # ------------------------------------------------------------ serial

    def _fill(self):
        if not self.running():
            raise PicoError("the emulator is not running (exit %s):\n%s"
                            % (self.proc.returncode if self.proc else None, self.log_text()))
        data = self.port.read(max(1, self.port.in_waiting))
        if data:
            self._rbuf += data
        return data

    def _read_until(self, ending, timeout):
        end = time.monotonic() + timeout
        while True:
            i = self._rbuf.find(ending)
            if i >= 0:
                out = bytes(self._rbuf[:i])
                del self._rbuf[:i + len(ending)]
                return out
            if time.monotonic() > end:
                raise PicoTimeout("no %r from the board within %.0f s (got %r)"
                                  % (ending, timeout, bytes(self._rbuf[-200:])))
            self._fill()

    def _read_exact(self, n, timeout):
        end = time.monotonic() + timeout
        while len(self._rbuf) < n:
            if time.monotonic() > end:
                raise PicoTimeout("expected %d octets from the board, got %r" % (n, bytes(self._rbuf)))
            self._fill()
        out = bytes(self._rbuf[:n])
        del self._rbuf[:n]
        return out

    def _drain(self, quiet=0.2, limit=5.0):
        end = time.monotonic() + limit
        last = time.monotonic()
        while time.monotonic() < end and time.monotonic() - last < quiet:
            if self._fill():
                last = time.monotonic()
        self._rbuf = bytearray()

    def enter_raw(self, timeout=None, booting=False):
        """Interrupt whatever runs (Ctrl-C) and enter the raw REPL. ``booting``:
        first wait for the firmware's first output (its USB device enumerated,
        the REPL up) before sending anything, so that no keystroke is queued
        twice."""
        timeout = timeout or self.boot_timeout
        end = time.monotonic() + timeout
        while booting and not self._rbuf:
            if time.monotonic() > end:
                raise PicoTimeout("no output from the board within %.0f s:\n%s" % (timeout, self.log_text()))
            self.port.write(b"\r")
            stop = time.monotonic() + 2.0
            while not self._rbuf and time.monotonic() < stop:
                self._fill()
        while True:
            self.port.write(b"\r\x03\x03")
            time.sleep(0.05)
            self.port.write(b"\x01")
            try:
                self._read_until(_BANNER, 5.0)
                break
            except PicoTimeout:
                if time.monotonic() > end:
                    raise PicoTimeout("no raw REPL within %.0f s:\n%s" % (timeout, self.log_text()))
        self._drain()
        self._prompt = False

    def _send(self, code):
        if self._prompt:
            self._read_until(b">", 10)
            self._prompt = False
        self.port.write(b"\x05A\x01")
        r = self._read_exact(2, 10)
        while r == _BANNER[:2]:  # a raw REPL banner from a late Ctrl-A: skip it
            self._read_until(_BANNER[2:], 10)
            r = self._read_exact(2, 10)
        if r == b"R\x01":
            window = struct.unpack("<H", self._read_exact(2, 10))[0]
            remain = window
            i = 0
            while i < len(code):
                while remain == 0 or self.port.in_waiting or self._rbuf:
                    c = self._read_exact(1, 30)
                    if c == b"\x01":
                        remain += window
                    elif c == b"\x04":
                        self.port.write(b"\x04")
                        raise PicoError("the board refused the code")
                    else:
                        raise PicoError("unexpected %r during raw paste" % c)
                part = code[i:i + remain]
                self.port.write(part)
                remain -= len(part)
                i += len(part)
            self.port.write(b"\x04")
            self._read_until(b"\x04", 60)
        elif r == b"R\x00":  # no raw-paste support: plain raw REPL
            for i in range(0, len(code), 256):
                self.port.write(code[i:i + 256])
                time.sleep(0.01)
            self.port.write(b"\x04")
            if self._read_exact(2, 10) != b"OK":
                raise PicoError("the board did not accept the code")
        else:
            raise PicoError("not at the raw REPL (got %r)" % (r + bytes(self._rbuf[:80])))

    def exec(self, code, timeout=120.0):
        """Run code on the board; its standard output (text). BoardError when
        it raised, PicoTimeout when it did not finish within ``timeout`` s."""
        if isinstance(code, str):
            code = code.encode()
        self._send(code)
        out = self._read_until(b"\x04", timeout).decode("utf-8", "replace")
        err = self._read_until(b"\x04", 10).decode("utf-8", "replace")
        self._prompt = True  # the raw REPL's ">" follows; the next _send reads it
        if err:
            raise BoardError(err, out)
        return out

    def eval(self, expr, timeout=120.0):
        """The value of a Python literal the board prints with repr()."""
        import ast

        out = self.exec("print(repr(%s))" % expr, timeout)
        return ast.literal_eval(out.strip().splitlines()[-1])

    def value(self, code, timeout=120.0):
        """Run code whose last printed line is a Python literal; its value."""
        import ast

        out = self.exec(code, timeout)
        return ast.literal_eval(out.strip().splitlines()[-1])

    def mem_free(self):
        """gc.mem_free() after a gc.collect()."""
        return int(self.exec("_gc.collect()\nprint(_gc.mem_free())").strip())

    def cycles(self):
        return int(self.exec("print(_cyc())").strip())

    def timed(self, code, timeout=300.0, collect=True):
        """Run code (compiled before the clock starts; no multi-line string
        literals, it is indented into a function whose assignments stay global)
        and measure it: a Timed with the cycles it took, gc.mem_free() after
        it and its output. ``collect``: a gc.collect() before the step and
        another before mem_free(); without it no collection runs outside the
        step (steps measured back to back add up to one run), and the free
        heap is as the step left it."""
        body = "\n".join("    " + line for line in code.strip("\n").splitlines()) or "    pass"
        gc = "_gc.collect()\n" if collect else ""
        wrapped = ("def _step():\n" + body + "\n" + gc +
                   "_c0 = _cyc()\n_step()\n_c1 = _cyc()\n" + gc +
                   "print('\\n@@T', _c1 - _c0, _gc.mem_free())\n")
        names = _assigned_names(code)
        if names:
            wrapped = wrapped.replace("def _step():\n", "def _step():\n    global %s\n" % ", ".join(names), 1)
        out = self.exec(wrapped, timeout)
        head, _, tail = out.rpartition("\n@@T ")
        c, free = tail.split()[:2]
        return Timed(int(c), int(free), head)

    # ------------------------------------------------------------ files

    def mkdirs(self, path):
        self.exec("import os\np = ''\nfor d in %r.strip('/').split('/'):\n"
                  "    p += '/' + d\n    try:\n        os.mkdir(p)\n    except OSError:\n        pass\n" % path)

    def put(self, path, data, chunk=2048, per_run=6):
        """Write a file on the board's file system."""
        self.exec("from binascii import a2b_base64 as _a\n_f = open(%r, 'wb')\n_w = _f.write\n" % path)
        try:
            lines = []
            for i in range(0, len(data), chunk):
                lines.append("_w(_a(%r))" % base64.b64encode(data[i:i + chunk]).decode())
                if len(lines) == per_run:
                    self.exec("\n".join(lines))
                    lines = []
            if lines:
                self.exec("\n".join(lines))
        finally:
            self.exec("_f.close()\ndel _f, _w, _a\n")

    def get(self, path):
        """A file's contents from the board."""
        out = self.exec("from binascii import b2a_base64 as _b\nwith open(%r, 'rb') as _f:\n"
                        "    while True:\n        _d = _f.read(1536)\n        if not _d:\n            break\n"
                        "        print(_b(_d).decode().strip())\n" % path)
        return b"".join(base64.b64decode(line) for line in out.split())

    def install_tree(self, src, dest):
        """Copy the files of a host folder (not recursive) to a board folder."""
        self.mkdirs(dest)
        n = 0
        for f in sorted(pathlib.Path(src).iterdir()):
            if f.is_file():
                self.put(dest.rstrip("/") + "/" + f.name, f.read_bytes())
                n += f.stat().st_size
        return n

    def install_library(self, mpy_dir):
        """The library's .mpy files (``build.build(mpy_dir)``) to /lib/tinyest/."""
        return self.install_tree(pathlib.Path(mpy_dir) / "tinyest", "/lib/tinyest")


class Tap:
    """A pseudo-terminal for a host program (``path``), relayed to the board's
    pty, recording what passes each way (``h2d``, ``d2h``). When the board goes
    away its side is dropped; the host program then sees silence."""

    def __init__(self, board):
        import tty

        self.m, self.s = os.openpty()
        tty.setraw(self.m)
        tty.setraw(self.s)
        self.path = os.ttyname(self.s)
        self.dev = os.open(str(board.link), os.O_RDWR | os.O_NOCTTY)
        tty.setraw(self.dev)
        for fd in (self.m, self.dev):
            os.set_blocking(fd, False)
        self.h2d = bytearray()
        self.d2h = bytearray()
        self.board_gone = False
        self._stop = False
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self):
        import errno
        import select

        out = {self.m: bytearray(), self.dev: bytearray()}  # pending writes per fd
        while not self._stop:
            rd = [self.m] + ([] if self.board_gone else [self.dev])
            wr = [fd for fd, b in out.items() if b and not (fd == self.dev and self.board_gone)]
            try:
                r, w, _ = select.select(rd, wr, [], 0.05)
            except (OSError, ValueError):
                return
            for fd in r:
                try:
                    data = os.read(fd, 65536)
                except OSError as e:
                    if e.errno == errno.EAGAIN:
                        continue
                    data = b""
                if not data:
                    if fd == self.dev:
                        self.board_gone = True
                    continue
                if fd == self.m:
                    self.h2d += data
                    out[self.dev] += data
                else:
                    self.d2h += data
                    out[self.m] += data
            for fd in w:
                try:
                    n = os.write(fd, bytes(out[fd][:65536]))
                    del out[fd][:n]
                except OSError as e:
                    if e.errno != errno.EAGAIN:
                        if fd == self.dev:
                            self.board_gone = True
                        out[fd] = bytearray()
                if len(out[fd]) > 1 << 20:  # nobody reads: drop
                    out[fd] = bytearray()

    def close(self):
        self._stop = True
        self._thread.join(5)
        for fd in (self.m, self.s, self.dev):
            try:
                os.close(fd)
            except OSError:
                pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def _assigned_names(code):
    """Top-level names a code block binds (so ``timed`` keeps them global)."""
    import ast

    out = []
    for node in ast.parse(code).body:
        targets = []
        if isinstance(node, ast.Assign):
            targets = node.targets
        elif isinstance(node, (ast.AugAssign, ast.AnnAssign)):
            targets = [node.target]
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            out += [(a.asname or a.name).split(".")[0] for a in node.names]
        elif isinstance(node, (ast.FunctionDef, ast.ClassDef)):
            out.append(node.name)
        elif isinstance(node, (ast.For, ast.With)):
            for sub in ast.walk(node):
                if isinstance(sub, ast.Name) and isinstance(sub.ctx, ast.Store):
                    out.append(sub.id)
        for t in targets:
            for sub in ast.walk(t):
                if isinstance(sub, ast.Name) and isinstance(sub.ctx, ast.Store):
                    out.append(sub.id)
    seen = []
    for n in out:
        if n not in seen:
            seen.append(n)
    return seen


def group_members(pgid):
    """Live (not zombie) processes of a process group: [(pid, command)]."""
    out = []
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % d) as f:
                st = f.read()
        except OSError:
            continue
        fields = st[st.rindex(")") + 2:].split()
        if int(fields[2]) == pgid and fields[0] != "Z":
            out.append((int(d), st[st.index("(") + 1:st.rindex(")")]))
    return out


def _killpg(pid):
    try:
        os.killpg(pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


@atexit.register
def _stop_all():
    for p in list(_LIVE):
        try:
            p.stop(signal.SIGKILL, timeout=5)
        except Exception:
            pass


def build_mpy(out_dir):
    """Compile the library with port_micropython/build.py into out_dir/tinyest/,
    for the RP2040's core (armv6m: P-256's Thumb assembly included)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("tinyest_port_build", ROOT / "port_micropython" / "build.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod.build(pathlib.Path(out_dir), "armv6m")


def mpy_cross(src, dest):
    """Compile one .py file to .mpy (the same mpy-cross the library build uses)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("tinyest_port_build", ROOT / "port_micropython" / "build.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    subprocess.run(mod.mpy_cross() + ["-o", str(dest), str(src)], check=True, cwd=str(pathlib.Path(src).parent))
