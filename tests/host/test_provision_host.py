"""Factory provisioning: the frame codec on both sides, the device agent under the
micropython interpreter on a pseudo-terminal, and ``tinyest-provision`` end to
end (agent, raw REPL, agent started through the raw REPL, station mode, socket://),
after which the device enrolls against the dev server with what it was given."""

import ast
import hashlib
import importlib.util
import io
import os
import pathlib
import struct
import subprocess
import sys
import time

import pytest
import serial

from host_tools import provision
from host_tools.devserver import DevServer
from host_tools import agent_link, raw_repl
from host_tools import provision_exits as exits
from host_tools.provision_plan import identity
from host_tools.provision_records import OtpExport, Reporter
from host_tools.provision_station import check_template, read_devices, read_station, read_toml
from tinyest import serialwire as wire

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
import provision_sim  # noqa: E402
from provision_fixtures import devices, ledger_rows, relay, ta  # noqa: E402,F401
from provision_sim import SimDevice, TcpBridge, device_enroll  # noqa: E402

ROOT = pathlib.Path(__file__).resolve().parents[2]


def _agent_module():
    spec = importlib.util.spec_from_file_location("provision_agent", ROOT / "port_micropython" / "provision_agent.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


agent = _agent_module()


@pytest.fixture(scope="module")
def server():
    srv = DevServer()
    srv.start()
    srv.add_user("station1", "station-secret")
    yield srv
    srv.stop()


def _base(dev, server, ta, *extra):
    return ["--port", dev.path, "--server", server.url, "--ta", ta, "--store", dev.root,
            "--timeout", "4", "--frame-timeout", "0.2"] + [str(x) for x in extra]


# ---------------------------------------------------------------- frames, both sides


def test_agent_imports_only_what_the_core_may():
    import ast

    allowed = {"socket", "ssl", "tls", "hashlib", "binascii", "os", "time", "struct", "errno", "gc",
               "micropython", "sys", "select", "io", "tinyest", "machine"}
    tree = ast.parse((ROOT / "port_micropython" / "provision_agent.py").read_text())
    guarded = {id(n) for t in ast.walk(tree) if isinstance(t, ast.Try) for n in ast.walk(t)}
    for node in ast.walk(tree):
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module]
            for name in names:
                assert name.split(".")[0] in allowed, name
                if name in ("micropython", "machine", "select"):
                    assert id(node) in guarded, "%s imported unguarded" % name


# ---------------------------------------------------------------- the agent under micropython


def test_board_summary_agrees_with_the_store(tmp_path, server):
    """The raw REPL path reads the state, generation and identity on the board
    (``_psum`` under the micropython interpreter) without sending any value back;
    it must agree with Store.load for every kind of store, damaged ones included."""
    from tinyest.store import Credentials, Pending, Store

    cert, key = server.make_idevid("sum")
    cases = {}

    def store(name, *sets):
        root = tmp_path / name
        for c in sets:
            Store(str(root)).commit(c)
        cases[name] = str(root)
        return root

    def creds(**kw):
        c = Credentials()
        c.trust = [server.ca_der]
        for k, v in kw.items():
            setattr(c, k, v)
        return c

    store("empty")
    store("config", creds(config={"host": "h", "port": 1}))
    boot = creds(config={"cn": "a b", "dns": "a.example", "host": "h", "port": 1}, boot_user="u", boot_password="p")
    store("bootstrap", boot, boot, boot)
    store("idevid", creds(config={"cn": "x"}, boot_key=key, boot_chain=[cert]))
    store("pending", creds(pending=Pending("enroll", cert, key)))
    store("enrolled", creds(config={"cn": "e"}, key_der=key, chain=[cert]))
    bad = store("damaged", boot)
    slot = bad / "cred.a"
    slot.write_bytes(slot.read_bytes()[:-1] + b"\0")
    longer = store("trailing", boot, boot)
    (longer / "cred.b").write_bytes((longer / "cred.b").read_bytes() + b"\0")  # the newer one
    script = raw_repl._BOARD_CODE + "\n" + "".join("_psum(%r)\n" % cases[n] for n in cases)
    (tmp_path / "sum.py").write_text(script)
    proc = subprocess.run([provision_sim.micropython_exe(), str(tmp_path / "sum.py")], capture_output=True,
                          text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    got = dict(zip(cases, [ast.literal_eval(line) for line in proc.stdout.splitlines()]))
    for name, root in cases.items():
        try:
            c = Store(root).load()
            want = {"state": wire.state_of(c), "gen": c.generation}
            want.update({k: c.config[k] for k in ("cn", "dns") if k in c.config})
        except Exception:
            want = {"state": "damaged", "gen": 0}
        summary = dict(got[name])
        summary.pop("slot", None)
        assert summary == want, name
    assert got["trailing"]["gen"] == 1 and got["bootstrap"]["gen"] == 3
    assert "p" not in [v for v in got["bootstrap"].values()]

def _client(dev):
    port = serial.serial_for_url(dev.path, timeout=0.02)
    link = agent_link.Link(port, frame_timeout=0.2, answer_timeout=4)
    c = agent_link.AgentClient(link)
    c.hello(answer_timeout=5)
    return port, c


def _status(exc_info):
    return exc_info.value.status


def test_agent_commands_and_refusals(devices, server):
    dev = devices()
    port, c = _client(dev)
    try:
        info = c.info()
        assert info["id"] == dev.id and info["state"] == "empty" and info["fw"].startswith("micropython")
        with pytest.raises(agent_link.TransferLost):
            c.put("config", b"x")
        c.begin()
        with pytest.raises(agent_link.DeviceError) as e:
            c.call(wire.PUT, c._name("secrets") + struct.pack(">I", 0) + b"x")
        assert _status(e) == 2
        with pytest.raises(agent_link.DeviceError) as e:
            c.call(0x55)
        assert _status(e) == 1
        # PUT says "octets off.. are data": overlaps must agree, gaps are refused.
        put = lambda off, data: struct.unpack(">I", c.call(wire.PUT, c._name("boot_user") + struct.pack(">I", off) + data))[0]
        assert put(0, b"0123456789") == 10
        assert put(5, b"56789abcde") == 15
        assert put(0, b"0123") == 15
        with pytest.raises(agent_link.DeviceError) as e:
            put(5, b"XXXX")
        assert _status(e) == wire.E_OFFSET
        with pytest.raises(agent_link.DeviceError) as e:
            put(16, b"x")
        assert _status(e) == wire.E_OFFSET
        k = wire.fresh_key()
        assert c.hash("boot_user", k) == (15, _mac(k, b"0123456789abcde"))
        # The same request frame twice is carried out once and answered twice alike.
        c.link.seq += 1
        frame = wire.encode(wire.T_REQ, c.link.seq, bytes((wire.PUT,)) + c._name("boot_password")
                                + struct.pack(">I", 0) + b"pw")
        c.link.port.write(frame + frame)
        answers = []
        end = time.monotonic() + 3
        while len(answers) < 2 and time.monotonic() < end:
            r = c.link._next(end)
            if r is not None and r is not wire.BAD and r[0] == wire.T_RESP:
                answers.append(r)
        assert len(answers) == 2 and answers[0] == answers[1]
        assert c.hash("boot_password", k)[0] == 2
        # Too much data, a wrong set digest, contents that are not a usable set.
        with pytest.raises(agent_link.DeviceError) as e:
            c.put("boot_key", b"k" * 9000)
        assert _status(e) == 5
        c.begin()
        files = {"config": wire.render_config({"host": "127.0.0.1", "port": server.port}),
                 "trust": server.ca_der, "boot_user": b"u"}
        for n in ("config", "trust", "boot_user"):
            c.put(n, files[n])
        with pytest.raises(agent_link.DeviceError) as e:
            c.commit(b"\0" * 32)
        assert _status(e) == 7
        with pytest.raises(agent_link.DeviceError) as e:
            c.commit(wire.set_digest(files))
        assert _status(e) == 6 and "go together" in e.value.message
        c.begin()
        c.put("trust", b"\x30\x03\x02\x01\x01")
        with pytest.raises(agent_link.DeviceError) as e:
            c.commit(wire.set_digest({"trust": b"\x30\x03\x02\x01\x01"}))
        assert _status(e) == 6
        cert, key = server.make_idevid("someone-else")
        _, other_key = server.make_idevid("other")
        c.begin()
        bad = {"trust": server.ca_der, "boot_key": other_key, "boot_chain": cert}
        for n in ("trust", "boot_key", "boot_chain"):
            c.put(n, bad[n])
        with pytest.raises(agent_link.DeviceError) as e:
            c.commit(wire.set_digest(bad))
        assert _status(e) == 6 and "boot_chain" in e.value.message
        assert dev.store().generation == 0  # nothing refused ever reached the store
    finally:
        port.close()


def test_agent_keeps_a_pending_key_until_its_certificate(devices, server):
    """GENKEY without a chain commits the key as pending; CERT later takes only a
    certificate for that key that chains to the stored trust anchor."""
    from tinyest.client import EstClient
    from tinyest import csr_read as csrmod

    dev = devices()
    port, c = _client(dev)
    try:
        c.begin()
        files = {"config": wire.render_config({"host": "127.0.0.1", "port": server.port}), "trust": server.ca_der}
        for n in ("config", "trust"):
            c.put(n, files[n])
        n, digest = c.genkey(dev.id)
        req = c.read("csr", n)
        assert hashlib.sha256(req).digest() == digest
        parsed = csrmod.Csr(req)
        parsed.verify()
        c.commit(wire.set_digest(files))
        stored = dev.store()
        assert stored.pending is not None and stored.pending.csr == req and not stored.enrolled
        assert c.info()["state"] == "pending"
        est = EstClient("127.0.0.1", server.port, trust=[server.ca_der], auth=("station1", "station-secret"))
        chain = [bytes(x) for x in est.simpleenroll(req)]
        wrong, _ = server.make_cert("not-this-key")
        c.begin()
        c.put("chain", wrong)
        with pytest.raises(agent_link.DeviceError) as e:
            c.cert()
        assert _status(e) == 6
        c.begin()
        c.put("chain", b"".join(chain))
        gen = c.cert()
        after = dev.store()
        assert after.generation == gen and after.enrolled and after.pending is None
        assert after.chain == chain and after.key_der == stored.pending.key_der
        k = wire.fresh_key()
        count, rb, items = c.readback(k, items=True)
        assert items["key"][1] == _mac(k, _spki(chain[0]))
        assert rb == _mac(k, wire.set_digest({"config": files["config"], "trust": files["trust"],
                                            "chain": b"".join(chain), "key": _spki(chain[0])}, wire.ITEMS))
        c.wipe()
        assert dev.store().generation == 0
    finally:
        port.close()


def _spki(cert):
    from tinyest import x509

    return bytes(x509.Certificate(cert).public_key_der)


def test_reboot_ends_the_agent_on_unix(devices):
    dev = devices()
    port, c = _client(dev)
    try:
        c.reboot()
        assert dev.proc.wait(5) == 0
    finally:
        port.close()


def _mac(key, data):
    import hmac

    return hmac.new(key, bytes(data), hashlib.sha256).digest()


def test_agent_reads_only_public_data_and_proves_with_a_fresh_key(devices, server):
    """READ serves the CSR and public files only; HASH and READBACK answer with an
    HMAC-SHA256 under the key the host sends with each request, never a plain
    digest of a secret."""
    dev = devices("dev-rd")
    port, c = _client(dev)
    try:
        idev_cert, idev_key = server.make_idevid(dev.id)
        pw = b"hunter2-but-longer"
        files = {"config": wire.render_config({"cn": dev.id, "host": "127.0.0.1", "port": server.port}),
                 "trust": server.ca_der, "boot_user": b"u", "boot_password": pw,
                 "boot_key": idev_key, "boot_chain": idev_cert}
        c.begin()
        for n in wire.FILES:
            if n in files:
                c.put(n, files[n])
        for name in ("boot_password", "boot_key", "boot_user"):
            with pytest.raises(agent_link.DeviceError) as e:
                c.call(wire.READ, c._name(name) + struct.pack(">IH", 0, 64))
            assert _status(e) == 2, name
        assert c.read("trust", len(server.ca_der)) == server.ca_der
        assert c.read("config", len(files["config"])) == files["config"]
        k1, k2 = os.urandom(32), os.urandom(32)
        got = c.call(wire.HASH, k1 + c._name("boot_password"))
        assert got == struct.pack(">I", len(pw)) + _mac(k1, pw)
        with pytest.raises(agent_link.DeviceError):
            c.call(wire.HASH, c._name("boot_password"))  # no key: no digest
        c.commit(wire.set_digest(files))
        plain = wire.set_digest(files, wire.ITEMS)
        r1, r2 = c.call(wire.READBACK, k1), c.call(wire.READBACK, k2)
        assert r1 == bytes((6,)) + _mac(k1, plain) and r2 == bytes((6,)) + _mac(k2, plain)
        with pytest.raises(agent_link.DeviceError):
            c.call(wire.READBACK)
        seen = {}
        for i in range(6):
            r = c.call(wire.READBACK, k2 + bytes((i,)))
            name = r[1:1 + r[0]].decode()
            seen[name] = r[1 + r[0]:]
        for name, data in files.items():
            assert seen[name] == struct.pack(">I", len(data)) + _mac(k2, data), name
        assert hashlib.sha256(pw).digest() not in _from_device(dev)
    finally:
        port.close()


def _from_device(dev):
    """What the device sent: the raw octets and the payloads of its frames."""
    raw = bytes(dev.d2h)
    frames = [r[2] for r in wire.Decoder(agent_link.HOST_MAX_PAYLOAD).feed(raw) if r is not wire.BAD]
    return raw + b"".join(frames)


# ---------------------------------------------------------------- tinyest-provision end to end


def test_otp_through_the_agent_then_the_device_enrolls(devices, server, ta, tmp_path, capsys):
    dev = devices("dev-otp-1")
    ledger, export = tmp_path / "ledger.db", tmp_path / "otp.csv"
    rc = provision.main(_base(dev, server, ta, "--otp", "auto", "--otp-export", export, "--ledger", ledger,
                              "--station", "line-1"))
    out, err = capsys.readouterr()
    assert rc == 0, err
    assert "device dev-otp-1" in out and "read back 4 items from the store: match" in out
    rows = list(__import__("csv").DictReader(export.open()))
    assert [r["device_id"] for r in rows] == ["dev-otp-1"] and rows[0]["user"] == "dev-otp-1"
    password = rows[0]["password"]
    assert len(password) >= 24 and password not in out + err
    assert os.stat(export).st_mode & 0o077 == 0
    row = ledger_rows(ledger)[0]
    assert row["result"] == "ok" and row["device_state"] == "provisioned" and row["mode"] == "agent"
    assert row["station"] == "line-1" and row["ta_sha256"] == hashlib.sha256(server.ca_der).hexdigest()
    assert password.encode() not in ledger.read_bytes()
    c = dev.store()
    assert c.boot_user == "dev-otp-1" and c.boot_password == password and c.trust == [server.ca_der]
    assert c.config == {"cn": "dev-otp-1", "host": "127.0.0.1", "port": server.port}
    assert row["written_sha256"] == wire.set_digest(dict(wire.render(c)), wire.ITEMS).hex()
    # The CA learns the password from the export; the device enrolls with it.
    server.add_user(rows[0]["user"], password, one_time=True)
    res = device_enroll(dev)
    assert res.get("op") == "simpleenroll" and res["auth"] == "password", res
    assert res["boot_password_left"] is False
    assert dev.store().enrolled


def test_password_through_the_raw_repl_then_the_device_enrolls(devices, server, ta, tmp_path, capsys):
    dev = devices("dev-repl-1", kind="repl")
    server.add_user("boot-repl", "repl-pass")
    ledger = tmp_path / "ledger.db"
    rc = provision.main(_base(dev, server, ta, "--user", "boot-repl", "--password", "repl-pass",
                              "--ledger", ledger))
    out, err = capsys.readouterr()
    assert rc == 0, err
    assert "raw REPL" in out and "HMAC matched before its rename" in out
    row = ledger_rows(ledger)[0]
    assert row["mode"] == "repl" and row["result"] == "ok" and row["method"] == "password"
    assert b"repl-pass" not in ledger.read_bytes()
    c = dev.store()
    assert (c.boot_user, c.boot_password, c.trust) == ("boot-repl", "repl-pass", [server.ca_der])
    assert c.config["cn"] == "dev-repl-1"
    assert not os.path.exists(os.path.join(dev.root, "cred.tmp"))
    assert dev.proc.poll() is None  # the board is back at its REPL
    res = device_enroll(dev)
    assert res.get("op") == "simpleenroll", res


def test_agent_started_through_the_raw_repl_with_an_idevid(devices, server, ta, tmp_path, capsys):
    dev = devices("dev-idev-1", kind="repl", agent_module=True)
    cert, key = server.make_idevid(dev.id)
    (tmp_path / "id.der").write_bytes(cert)
    (tmp_path / "idk.der").write_bytes(key)
    rc = provision.main(_base(dev, server, ta, "--idevid-cert", tmp_path / "id.der",
                              "--idevid-key", tmp_path / "idk.der", "--ledger", tmp_path / "l.db"))
    out, err = capsys.readouterr()
    assert rc == 0, err
    assert "agent %s" % agent.AGENT_VERSION in out
    assert ledger_rows(tmp_path / "l.db")[0]["mode"] == "agent"
    c = dev.store()
    assert c.boot_key == key and c.boot_chain == [cert] and c.config["cn"] == "dev-idev-1"
    assert dev.proc.poll() is None  # the agent returned to the REPL, which still runs
    res = device_enroll(dev)
    assert res.get("op") == "simpleenroll" and res["auth"] == "idevid", res


def test_station_enrolls_for_the_device(devices, server, ta, tmp_path, capsys):
    dev = devices("dev-ra-1")
    ledger = tmp_path / "l.db"
    rc = provision.main(_base(dev, server, ta, "--station-enroll", "--station-user", "station1",
                              "--station-password", "station-secret", "--ledger", ledger))
    out, err = capsys.readouterr()
    assert rc == 0, err
    c = dev.store()
    assert c.enrolled and c.pending is None and c.boot_password is None
    from tinyest import x509

    cert = x509.Certificate(c.chain[0])
    assert "CN=dev-ra-1" in cert.subject
    row = ledger_rows(ledger)[0]
    assert row["cert_sha256"] == hashlib.sha256(c.chain[0]).hexdigest() and row["method"] == "station"
    assert server.issued and server.issued[-1] == c.chain[0]
    res = device_enroll(dev)  # renews with the certificate the station got for it
    assert res.get("op") == "simplereenroll" and res["auth"] == "certificate", res


def test_station_refused_by_the_est_server_leaves_the_device_untouched(devices, server, ta, tmp_path):
    dev = devices("dev-ra-2")
    ledger = tmp_path / "l.db"
    rc = provision.main(_base(dev, server, ta, "--station-enroll", "--station-user", "station1",
                              "--station-password", "wrong", "--ledger", ledger, "-q"))
    assert rc == exits.EXIT_EST
    row = ledger_rows(ledger)[0]
    assert (row["result"], row["device_state"], row["exit_code"]) == ("failed", "untouched", exits.EXIT_EST)
    assert dev.store().generation == 0


def test_station_mode_needs_the_agent(devices, server, ta, tmp_path):
    dev = devices("dev-ra-3", kind="repl")
    rc = provision.main(_base(dev, server, ta, "--station-enroll", "--station-user", "station1",
                              "--station-password", "station-secret", "-q"))
    assert rc == exits.EXIT_DEVICE
    assert dev.store().generation == 0


@pytest.mark.parametrize("kind", ["agent", "repl"])
def test_already_provisioned_is_refused_unless_forced(devices, server, ta, tmp_path, capsys, kind):
    dev = devices("dev-force-" + kind, kind=kind)
    assert provision.main(_base(dev, server, ta, "--user", "a", "--password", "first", "-q")) == 0
    ledger = tmp_path / "l.db"
    rc = provision.main(_base(dev, server, ta, "--user", "b", "--password", "second", "--ledger", ledger))
    _, err = capsys.readouterr()
    assert rc == exits.EXIT_DEVICE and "--force" in err
    assert dev.store().boot_password == "first"
    assert ledger_rows(ledger)[0]["device_state"] == "untouched"
    assert provision.main(_base(dev, server, ta, "--user", "b", "--password", "second", "--force", "-q")) == 0
    assert dev.store().boot_password == "second"
    # Neither slot file still holds the replaced password.
    for name in ("cred.a", "cred.b"):
        p = os.path.join(dev.root, name)
        assert not os.path.exists(p) or b"first" not in open(p, "rb").read()


def test_identify_and_wipe(devices, server, ta, capsys):
    dev = devices("dev-wipe")
    assert provision.main(_base(dev, server, ta, "--user", "a", "--password", "p", "-q")) == 0
    capsys.readouterr()
    assert provision.main(["--port", dev.path, "--identify", "--store", dev.root]) == 0
    assert "store bootstrap (generation 1)" in capsys.readouterr().out
    assert provision.main(["--port", dev.path, "--wipe", "--store", dev.root]) == 0
    assert "store wiped" in capsys.readouterr().out
    assert dev.store().generation == 0


@pytest.mark.parametrize("kind", ["agent", "repl"])
def test_no_secret_comes_back_from_the_device(devices, server, ta, capsys, kind):
    """Neither the password nor a plain digest of it travels back on the console:
    not while provisioning (read-back), not for --identify."""
    dev = devices("dev-quiet-" + kind, kind=kind)
    pw = "Wq7-not-on-the-console-Zp2"
    assert provision.main(_base(dev, server, ta, "--user", "u", "--password", pw, "-q")) == 0
    assert provision.main(["--port", dev.path, "--identify", "--store", dev.root]) == 0
    assert "CN %s" % dev.id in capsys.readouterr().out
    assert dev.store().boot_password == pw
    back = _from_device(dev)
    h = hashlib.sha256(pw.encode()).digest()
    for leak in (pw.encode(), h, h.hex().encode()):
        assert leak not in back


def test_identity_from_a_template_reaches_the_device(devices, server, ta, tmp_path, capsys):
    """--cn with {device_id} lands in the store's config (cn, dns), --identify shows it,
    and the device's own state machine enrolls with it."""
    dev = devices("dev-cn-1")
    server.add_user("boot-cn", "cn-pass")
    rc = provision.main(_base(dev, server, ta, "--user", "boot-cn", "--password", "cn-pass",
                              "--cn", "node-{device_id}", "--dns", "{device_id}.example.net"))
    out, err = capsys.readouterr()
    assert rc == 0, err
    c = dev.store()
    assert c.config["cn"] == "node-dev-cn-1" and c.config["dns"] == "dev-cn-1.example.net"
    assert "identity CN node-dev-cn-1" in out
    assert provision.main(["--port", dev.path, "--identify", "--store", dev.root]) == 0
    assert "CN node-dev-cn-1, DNS dev-cn-1.example.net" in capsys.readouterr().out
    res = device_enroll(dev)
    assert res.get("op") == "simpleenroll" and res["cn"] == "node-dev-cn-1", res


def test_main_py_keeps_the_provisioned_identity(devices, server, ta, tmp_path):
    """port_micropython/main.py on a provisioned device: the store's cn wins over a
    config.json copied to every board (here the example's "device-0042")."""
    sys.path.insert(0, str(ROOT / "port_micropython"))
    import shutil

    import sim

    dev = devices("dev-main-1")
    server.add_user("boot-main", "main-pass")
    assert provision.main(_base(dev, server, ta, "--user", "boot-main", "--password", "main-pass",
                                "--cn", "node-{device_id}", "-q")) == 0
    flash = sim.Flash(tmp_path / "flash").install(sim.build_lib(tmp_path / "mpy"))
    flash.configure({"est": {"cn": "device-0042", "dns": "device-0042.example.com", "timeout": 5}})
    shutil.copytree(dev.root, flash.path / "est")
    b = flash.boot(sim.SimClock(time.time()))
    assert b.rc == 0 and not b.events("fault"), b
    from tinyest import x509

    c = flash.store()
    assert c.enrolled, b
    assert "CN=node-dev-main-1" in x509.Certificate(c.chain[0]).subject

def test_batch_identity_from_a_column_or_the_template(devices, server, ta, tmp_path, capsys):
    devs = [devices("dev-bc-1"), devices("dev-bc-2")]
    station = tmp_path / "station.toml"
    station.write_text('server = "%s"\nta = "%s"\ncredential = "password"\nuser = "u"\npassword = "p"\n'
                       'cn = "line-{device_id}"\nledger = "ledger.db"\ntimeout = 4\nframe_timeout = 0.2\n'
                       'wait = 10\n' % (server.url, ta))
    (tmp_path / "devices.csv").write_text("port,device_id,cn\n%s,%s,pump-7\n%s,%s,\n"
                                          % (devs[0].path, devs[0].id, devs[1].path, devs[1].id))
    rc = provision.main(["--batch", str(station), "--devices", str(tmp_path / "devices.csv"), "-q"])
    _, err = capsys.readouterr()
    assert rc == 0, err
    assert devs[0].store().config["cn"] == "pump-7"
    assert devs[1].store().config["cn"] == "line-dev-bc-2"


def test_otp_export_is_private_even_when_it_exists(tmp_path):
    p = tmp_path / "otp.csv"
    p.write_text("")
    os.chmod(p, 0o644)
    e = OtpExport(str(p))
    e.add("d1", "u1", "secret-1")
    assert os.stat(p).st_mode & 0o777 == 0o600
    assert "secret-1" in p.read_text()
    target = tmp_path / "elsewhere.csv"
    target.write_text("x\n")
    os.chmod(target, 0o644)
    link = tmp_path / "link.csv"
    link.symlink_to(target)
    with pytest.raises(exits.Fail) as exc:
        OtpExport(str(link))
    assert exc.value.code == exits.EXIT_INPUT and "symbolic link" in exc.value.message
    assert target.read_text() == "x\n" and os.stat(target).st_mode & 0o777 == 0o644


def test_socket_url_reaches_the_agent(tmp_path, server, ta):
    dev = SimDevice(tmp_path / "sock", "dev-sock")
    bridge = TcpBridge(dev)
    try:
        rc = provision.main(["--port", bridge.url, "--server", server.url, "--ta", ta, "--store", dev.root,
                             "--user", "u", "--password", "p", "--mode", "agent", "-q"])
        assert rc == 0
        assert dev.store().boot_user == "u"
    finally:
        bridge.stop()
        dev.close()


def test_no_device_is_a_clean_link_failure(tmp_path, server, ta, capsys):
    rc = provision.main(["--port", str(tmp_path / "ttyUSB9"), "--server", server.url, "--ta", ta,
                         "--user", "u", "--password", "p", "--ledger", str(tmp_path / "l.db")])
    _, err = capsys.readouterr()
    assert rc == exits.EXIT_LINK
    assert err.startswith("tinyest-provision: cannot open") and "hint: check the USB cable" in err
    # A port with nothing behind it (a terminal nobody reads).
    m, s = os.openpty()
    try:
        rc = provision.main(["--port", os.ttyname(s), "--server", server.url, "--ta", ta, "--user", "u",
                             "--password", "p", "--timeout", "1", "--ledger", str(tmp_path / "l.db")])
        _, err = capsys.readouterr()
        assert rc == exits.EXIT_LINK and "no answer" in err
    finally:
        os.close(m)
        os.close(s)
    rows = ledger_rows(tmp_path / "l.db")
    assert [(r["result"], r["device_state"]) for r in rows] == [("failed", "untouched")] * 2


def _run_cli(*args):
    env = dict(os.environ)
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    return subprocess.run([sys.executable, "-m", "host_tools.provision"] + [str(a) for a in args],
                          capture_output=True, text=True, timeout=60, env=env, cwd=str(ROOT))


def test_station_cannot_reach_the_est_server_says_network(devices, server, ta, tmp_path):
    # Nothing listens on the port: a network failure (3), not an EST refusal (2).
    import socket

    from host_tools.exitcodes import EXIT_NETWORK

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        closed = s.getsockname()[1]
    dev = devices("dev-ra-3")
    args = _base(dev, server, ta, "--station-enroll", "--station-user", "station1",
                 "--station-password", "wrong", "-q")
    args[args.index("--server") + 1] = "https://127.0.0.1:%d" % closed
    rc = provision.main(args)
    assert rc == EXIT_NETWORK == 3 and dev.store().generation == 0


def test_command_line_usage_and_exit_codes(tmp_path, ta):
    r = _run_cli("--help")
    assert r.returncode == 0 and "Exit codes:" in r.stdout and "--station-enroll" in r.stdout
    codes = [ln.split()[0] for ln in r.stdout.splitlines() if ln[:1].isdigit()]
    assert codes == [str(c) for c in (exits.EXIT_OK, exits.EXIT_USAGE, exits.EXIT_EST, 3, exits.EXIT_INPUT,
                                      exits.EXIT_DEVICE, exits.EXIT_LINK, exits.EXIT_BATCH,
                                      exits.EXIT_UNKNOWN, exits.EXIT_INTERRUPTED)]
    cases = [
        ("no port", ["--server", "https://x", "--ta", ta, "--user", "u", "--password", "p"]),
        ("no trust anchor", ["--port", "/dev/null", "--server", "https://x", "--user", "u", "--password", "p"]),
        ("two credentials", ["--port", "/dev/null", "--server", "https://x", "--ta", ta, "--user", "u",
                             "--password", "p", "--otp", "auto", "--otp-export", "x.csv"]),
        ("otp without export", ["--port", "/dev/null", "--server", "https://x", "--ta", ta, "--otp", "auto"]),
        ("station without credentials", ["--port", "/dev/null", "--server", "https://x", "--ta", ta,
                                         "--station-enroll"]),
        ("not https", ["--port", "/dev/null", "--server", "http://x", "--ta", ta, "--user", "u", "--password", "p"]),
        ("unknown option", ["--port", "/dev/null", "--frobnicate"]),
        ("batch without devices", ["--batch", "x.toml"]),
    ]
    for name, args in cases:
        r = _run_cli(*args)
        assert r.returncode == exits.EXIT_USAGE, (name, r.stderr)
        assert r.stderr.startswith("tinyest-provision: "), name
        assert "Traceback" not in r.stderr, name
    r = _run_cli("--port", "/dev/null", "--server", "https://x", "--ta", tmp_path / "missing.pem",
                 "--user", "u", "--password", "p")
    assert r.returncode == exits.EXIT_INPUT and r.stderr.startswith("tinyest-provision: cannot read")


def test_station_files_toml_and_csv(tmp_path):
    text = '# line 4\nserver = "https://est.example:8443"\nlabel = \'iot\'\ncredential = "otp"\n' \
           'timeout = 2.5\nattempts = 4\nforce = true\notp_export = "otp.csv"  # for the CA\n'
    assert read_toml(text) == {"server": "https://est.example:8443", "label": "iot", "credential": "otp",
                               "timeout": 2.5, "attempts": 4, "force": True, "otp_export": "otp.csv"}
    for bad in ("x\n", 'x = "open\n', "x = 1\nx = 2\n", "x = 1 2\n"):
        with pytest.raises(ValueError):
            read_toml(bad)
    # TOML has tables, arrays and dates; a setting takes one text, number or true/false.
    for name, bad in [("table", "[station]\nserver = 'x'\n"), ("array", "ta = ['a.pem', 'b.pem']\n"),
                      ("date", "station = 2026-12-04\n"), ("not TOML", "server = https://x\n")]:
        (tmp_path / "bad.toml").write_text(bad)
        with pytest.raises(exits.UsageError):
            read_station(str(tmp_path / "bad.toml"))
    (tmp_path / "st.toml").write_text(text)
    (tmp_path / "st.csv").write_text("server,https://est.example:8443\nlabel,iot\ncredential,otp\ntimeout,2.5\n"
                                     "attempts,4\nforce,true\notp_export,otp.csv\n")
    a = read_station(str(tmp_path / "st.toml"))
    b = read_station(str(tmp_path / "st.csv"))
    assert a == b and a["otp_export"] == str(tmp_path / "otp.csv") and a["attempts"] == 4
    (tmp_path / "bad.csv").write_text("colour,blue\n")
    with pytest.raises(exits.UsageError):
        read_station(str(tmp_path / "bad.csv"))
    (tmp_path / "devs.csv").write_text("port,device_id\n# spare\n/dev/ttyUSB0\n/dev/ttyUSB1,abc\n")
    assert read_devices(str(tmp_path / "devs.csv")) == [
        ("/dev/ttyUSB0", None, None, None, None, None), ("/dev/ttyUSB1", "abc", None, None, None, None)]
    # Positional, with a cn after the (empty) IDevID cells; or named columns in any order.
    (tmp_path / "devs.csv").write_text("/dev/ttyUSB0,abc,,,pump-{device_id}\n")
    assert read_devices(str(tmp_path / "devs.csv")) == [
        ("/dev/ttyUSB0", "abc", None, None, "pump-{device_id}", None)]
    (tmp_path / "devs.csv").write_text("dns,cn,port\nx.example,valve,/dev/ttyUSB3\n,,/dev/ttyUSB4\n")
    assert read_devices(str(tmp_path / "devs.csv")) == [
        ("/dev/ttyUSB3", None, None, None, "valve", "x.example"), ("/dev/ttyUSB4", None, None, None, None, None)]
    for bad in ("port,colour\n/dev/x,blue\n", "port,cn\n/dev/x,{serial}\n", "/dev/x,a,cert.pem,,cn\n"):
        (tmp_path / "devs.csv").write_text(bad)
        with pytest.raises(exits.UsageError):
            read_devices(str(tmp_path / "devs.csv"))


class _ScriptedPort:
    """A pyserial stand-in: ``answer(written)`` returns the octets the board
    sends back for what was just written."""

    def __init__(self, answer):
        self.answer = answer
        self.inbox = bytearray()
        self.sent = bytearray()

    @property
    def in_waiting(self):
        return len(self.inbox)

    def read(self, n=1):
        out = bytes(self.inbox[:n])
        del self.inbox[:n]
        return out

    def write(self, data):
        self.sent += data
        self.inbox += self.answer(bytes(data))
        return len(data)


def test_raw_repl_falls_back_without_raw_paste():
    """Firmware older than raw-paste answers Ctrl-E with "R\\x00": the code then
    goes in the plain raw REPL (Ctrl-D, "OK", output, 0x04, errors, 0x04, ">")."""
    code = []

    def board(data):
        if data == b"\x03\x03":
            return b"\r\n>>> "
        if data == b"\r\x01":
            return b"raw REPL; CTRL-B to exit\r\n>"
        if data == b"\x05A\x01":
            return b"R\x00"
        if data == b"\x04":
            text = b"".join(code)
            code.clear()
            if b"raise" in text:
                return b"OK\x04Traceback (most recent call last):\r\nValueError: no\r\n\x04>"
            return b"OK" + text.split(b"(")[1].split(b")")[0] + b"\r\n\x04\x04>"
        code.append(data)
        return b""

    port = _ScriptedPort(board)
    repl = raw_repl.RawRepl(port, timeout=1)
    repl.enter()
    assert repl.exec("print(42)") == b"42\r\n"
    assert repl.use_paste is False
    with pytest.raises(raw_repl.ReplExecError) as e:
        repl.exec("raise ValueError('no')")
    assert "ValueError: no" in str(e.value)
    assert port.sent.count(b"\x05A\x01") == 1  # asked once, then plain raw REPL only


def test_raw_paste_follows_the_window():
    """Raw paste: never more than the granted window in flight; each 0x01 from
    the board grants one more window."""
    state = {"window": 8, "outstanding": 0, "code": bytearray(), "max": 0}

    def board(data):
        if data == b"\x03\x03":
            return b""
        if data == b"\r\x01":
            return b"raw REPL; CTRL-B to exit\r\n>"
        if data == b"\x05A\x01":
            state["outstanding"] = 0
            return b"R\x01" + struct.pack("<H", state["window"])
        if data == b"\x04":
            return b"\x04" + b"done\x04\x04>"
        state["code"] += data
        state["outstanding"] += len(data)
        state["max"] = max(state["max"], state["outstanding"])
        if state["outstanding"] >= state["window"]:
            state["outstanding"] -= state["window"]
            return b"\x01"
        return b""

    port = _ScriptedPort(board)
    repl = raw_repl.RawRepl(port, timeout=1)
    repl.enter()
    text = "x = '%s'" % ("a" * 50)
    assert repl.exec(text) == b"done"
    assert bytes(state["code"]) == text.encode() and state["max"] <= state["window"]


def test_progress_goes_to_a_terminal_only():
    class Stream(io.StringIO):
        def __init__(self, tty):
            io.StringIO.__init__(self)
            self.tty = tty

        def isatty(self):
            return self.tty

    for tty in (False, True):
        out, err = Stream(False), Stream(tty)
        rep = Reporter(out=out, err=err)
        rep.progress("writing trust", 5, 10)
        rep.say("wrote it")
        rep.error("broken")
        assert out.getvalue() == "wrote it\n"
        assert err.getvalue().endswith("tinyest-provision: broken\n")
        assert ("[############............]  50%" in err.getvalue()) == tty


def test_identity_templates_are_checked():
    assert identity("node-{device_id}", "ab", "cn") == "node-ab"
    assert identity("{id}.example.net", "ab", "dns") == "ab.example.net"
    for template, what in (("x" * 65, "cn"), ("a\nb", "cn"), ("bad_name.example", "dns"), ("-a.example", "dns"),
                           ("a..b", "dns"), ("é.example", "dns")):
        with pytest.raises(exits.Fail) as e:
            identity(template, "ab", what)
        assert e.value.code == exits.EXIT_USAGE and e.value.state == "untouched"
    with pytest.raises(exits.UsageError):
        check_template("{serial}", "--cn")
