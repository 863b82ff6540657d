"""Provisioning over a bad line: a relay between ``tinyest-provision`` and the
agent (under the micropython interpreter on a pseudo-terminal) corrupts or drops
octets, or resets the device part way; the device may also die for good. Every
run must end with a correctly provisioned device or a clean failure (nothing
committed, or wiped), and the ledger must say which. Then a 20-device batch."""

import csv
import pathlib
import sys

import pytest

from host_tools import provision
from host_tools.devserver import DevServer
from host_tools import provision_exits as exits
from tinyest import serialwire as wire

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
from provision_fixtures import devices, ledger_rows, relay, ta  # noqa: E402,F401
from provision_sim import Faults  # noqa: E402


@pytest.fixture(scope="module")
def server():
    srv = DevServer()
    srv.start()
    yield srv
    srv.stop()


def _want(server, user="u", password="p"):
    """The set digest of what a password run writes to a device (given its id),
    computed from the inputs; the device's id is its cn."""
    def want(dev_id):
        config = {"cn": dev_id, "host": "127.0.0.1", "port": server.port}
        files = {"config": wire.render_config(config), "trust": server.ca_der,
                 "boot_user": user.encode(), "boot_password": password.encode()}
        return wire.set_digest(files, wire.ITEMS)

    return want


def _provision(dev, server, ta, ledger, *extra):
    return provision.main(["--port", dev.path, "--server", server.url, "--ta", ta, "--store", dev.root,
                           "--user", "u", "--password", "p", "--ledger", str(ledger), "--timeout", "3",
                           "--frame-timeout", "0.2", "-q"] + [str(x) for x in extra])


def _consistent(dev, row, want, rc):
    """The ledger row and exit code tell the truth about the device's store."""
    c = dev.store()  # never damaged: StoreError would fail the test here
    want = want(dev.id)
    got = wire.set_digest(dict(wire.render(c)), wire.ITEMS) if c.generation else None
    assert row["exit_code"] == rc
    if row["result"] == "ok":
        assert rc == 0 and row["device_state"] == "provisioned"
        assert got == want and row["written_sha256"] == want.hex()
    else:
        assert rc != 0 and row["result"] == "failed" and row["detail"]
        if row["device_state"] in ("untouched", "wiped"):
            assert c.generation == 0, row
        else:
            assert row["device_state"] == "unknown" and rc == exits.EXIT_UNKNOWN
            assert got in (None, want)
    return row["result"]


@pytest.mark.parametrize("kind,rate", [("corrupt", 0.01), ("drop", 0.01)])
def test_damaged_octets_are_retransmitted(devices, server, ta, tmp_path, kind, rate):
    ledger = tmp_path / "l.db"
    want = _want(server)
    for seed in (1, 2, 3):
        f = Faults(seed=seed, **{kind: rate})
        dev = devices("dev-%s-%d" % (kind, seed), faults=f)
        rc = _provision(dev, server, ta, ledger)
        row = ledger_rows(ledger)[-1]
        assert _consistent(dev, row, want, rc) == "ok", row
        assert f.corrupted + f.dropped > 0
        assert "retransmitted 0," not in row["detail"], row["detail"]


def _clean_run_octets(devices, server, ta, tmp_path, kind="agent"):
    dev = devices("dev-measure-" + kind, kind=kind)
    assert _provision(dev, server, ta, tmp_path / "measure.db") == 0
    return dev.h2d


def test_device_reset_part_way(devices, server, ta, tmp_path):
    total = _clean_run_octets(devices, server, ta, tmp_path)
    ledger = tmp_path / "l.db"
    want = _want(server)
    results = []
    for i, frac in enumerate((0.1, 0.3, 0.5, 0.7, 0.85, 0.95, 0.99)):
        dev = devices("dev-reset-%d" % i, faults=Faults(reset_at=max(1, int(total * frac))))
        rc = _provision(dev, server, ta, ledger)
        row = ledger_rows(ledger)[-1]
        results.append(_consistent(dev, row, want, rc))
        # (near the end a run with fewer retransmissions than the measured one may finish first)
        assert dev.faults.resets == 1 or frac > 0.9
    # The device comes back at once: the run starts again and succeeds.
    assert results == ["ok"] * len(results)


def test_device_reset_while_committing(devices, server, ta, tmp_path):
    """Reset just as COMMIT arrives, a little later, and after it: the store holds
    the old or the new set, and the run starts again and finishes."""
    ledger = tmp_path / "l.db"
    want = _want(server)
    for i, delay in enumerate((0.0, 0.003, 0.05)):
        dev = devices("dev-commit-%d" % i, faults=Faults(reset_on=wire.COMMIT, reset_delay=delay))
        rc = _provision(dev, server, ta, ledger)
        assert dev.faults.resets == 1
        assert _consistent(dev, ledger_rows(ledger)[-1], want, rc) == "ok"


def test_device_dies_part_way(devices, server, ta, tmp_path):
    """A device that never comes back: before the commit nothing was committed;
    after COMMIT went out the state is unknown (old or new set), and says so."""
    total = _clean_run_octets(devices, server, ta, tmp_path)
    ledger = tmp_path / "l.db"
    want = _want(server)
    dev = devices("dev-dies-early", faults=Faults(reset_at=int(total * 0.4), reset_down=None))
    rc = _provision(dev, server, ta, ledger, "--timeout", "1", "--attempts", "2")
    row = ledger_rows(ledger)[-1]
    assert _consistent(dev, row, want, rc) == "failed"
    assert (rc, row["device_state"]) == (exits.EXIT_LINK, "untouched")
    states = set()
    for i, delay in enumerate((0.0, 0.05)):
        dev = devices("dev-dies-commit-%d" % i, faults=Faults(reset_on=wire.COMMIT, reset_delay=delay,
                                                               reset_down=None))
        rc = _provision(dev, server, ta, ledger, "--timeout", "1", "--attempts", "2")
        row = ledger_rows(ledger)[-1]
        assert _consistent(dev, row, want, rc) == "failed"
        assert (rc, row["device_state"]) == (exits.EXIT_UNKNOWN, "unknown")
        states.add(dev.store().generation)
    assert states <= {0, 1}


def test_corruption_and_a_reset_together(devices, server, ta, tmp_path):
    total = _clean_run_octets(devices, server, ta, tmp_path)
    ledger = tmp_path / "l.db"
    want = _want(server)
    for seed in (4, 5):
        dev = devices("dev-mix-%d" % seed, faults=Faults(corrupt=0.01, drop=0.005, seed=seed,
                                                          reset_at=int(total * 0.6)))
        rc = _provision(dev, server, ta, ledger)
        assert _consistent(dev, ledger_rows(ledger)[-1], want, rc) == "ok"


def test_raw_repl_device_reset_part_way(devices, server, ta, tmp_path):
    total = _clean_run_octets(devices, server, ta, tmp_path, kind="repl")
    ledger = tmp_path / "l.db"
    want = _want(server)
    for i, frac in enumerate((0.5, 0.9)):
        dev = devices("dev-repl-reset-%d" % i, kind="repl", faults=Faults(reset_at=int(total * frac)))
        rc = _provision(dev, server, ta, ledger)
        _consistent(dev, ledger_rows(ledger)[-1], want, rc)
    dev = devices("dev-repl-dies", kind="repl", faults=Faults(reset_at=int(total * 0.5), reset_down=None))
    rc = _provision(dev, server, ta, ledger, "--timeout", "1", "--attempts", "2")
    row = ledger_rows(ledger)[-1]
    assert _consistent(dev, row, want, rc) == "failed"


def test_batch_of_twenty(devices, server, ta, tmp_path, capsys):
    devs = []
    for i in range(20):
        faults = Faults(corrupt=0.005, seed=i) if i % 5 == 0 else None
        devs.append(devices("dev-b%02d" % i, faults=faults))
    station = tmp_path / "station.toml"
    station.write_text('station = "line-7"\nserver = "%s"\nta = "%s"\ncredential = "otp"\n'
                       'otp_export = "otp.csv"\nledger = "ledger.db"\ntimeout = 4\nframe_timeout = 0.2\n'
                       'wait = 10\n' % (server.url, ta))
    (tmp_path / "devices.csv").write_text("port,device_id\n" + "".join("%s,%s\n" % (d.path, d.id) for d in devs))
    # Every device keeps its store in its own folder: the agent was started with it.
    rc = provision.main(["--batch", str(station), "--devices", str(tmp_path / "devices.csv")])
    out, err = capsys.readouterr()
    assert rc == 0, err
    assert "batch: 20 provisioned, 0 failed" in out
    rows = ledger_rows(tmp_path / "ledger.db")
    assert sorted(r["device_id"] for r in rows) == [d.id for d in devs]
    assert all(r["result"] == "ok" and r["station"] == "line-7" and r["method"] == "otp" for r in rows)
    export = list(csv.DictReader((tmp_path / "otp.csv").open()))
    assert sorted(e["device_id"] for e in export) == [d.id for d in devs]
    raw = (tmp_path / "ledger.db").read_bytes()
    for e, d in zip(sorted(export, key=lambda e: e["device_id"]), devs):
        assert e["password"] not in out and e["password"].encode() not in raw
        c = d.store()
        assert (c.boot_user, c.boot_password) == (e["user"], e["password"])
    # Run again: every device is provisioned already, so each row fails and nothing changes.
    rc = provision.main(["--batch", str(station), "--devices", str(tmp_path / "devices.csv"), "--wait", "0",
                         "--jobs", "4", "-q"])
    assert rc == exits.EXIT_BATCH
    again = ledger_rows(tmp_path / "ledger.db")[20:]
    assert len(again) == 20 and all(r["result"] == "failed" and r["device_state"] == "untouched" for r in again)
    assert all(d.store().generation == 1 for d in devs)
