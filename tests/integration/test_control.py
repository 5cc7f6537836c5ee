"""The control socket: anchorctl status, reload, cache flush and stats
against a running daemon, and the socket's own hygiene."""
import json
import os
import signal
import socket
import stat
import subprocess

import dns.rcode

from harness import ANCHORCTL, query, stop_process, upstream, wait_until


def anchorctl(a, *args, check=True):
    out = subprocess.run([ANCHORCTL, "-c", a.conf] + list(args),
                         capture_output=True, text=True, timeout=60)
    if check:
        assert out.returncode == 0, out.stdout + out.stderr
    return out


def control(a, line):
    s = socket.socket(socket.AF_UNIX)
    s.settimeout(5)
    s.connect(os.path.join(a.state, "control.sock"))
    s.sendall(line.encode() + b"\n")
    data = b""
    while True:
        chunk = s.recv(4096)
        if not chunk:
            break
        data += chunk
    s.close()
    return json.loads(data)


def stats(a):
    return json.loads(anchorctl(a, "stats").stdout)


def test_status_reports_listeners_cache_and_upstream_health(nsd,
                                                            make_anchord):
    a = make_anchord([upstream(nsd.port)], dot=True)
    assert query("www.up.test", port=a.port).answer
    out = anchorctl(a, "status").stdout
    assert "daemon: running" in out
    assert f"listener: 127.0.0.1#{a.port} dns" in out
    assert f"listener: 127.0.0.1#{a.dot_port} dot" in out
    assert f"upstream: 127.0.0.1#{nsd.port} udp up" in out
    st = json.loads(anchorctl(a, "status", "--json").stdout)
    assert st["ok"] and st["cache"]["entries"] >= 1
    assert st["upstreams"][0]["state"] == "up"
    # the socket is the owner's only
    mode = os.stat(os.path.join(a.state, "control.sock")).st_mode
    assert stat.S_ISSOCK(mode) and stat.S_IMODE(mode) == 0o600


def test_status_shows_a_dead_upstream(make_anchord):
    a = make_anchord([upstream(9)])     # nobody answers on port 9
    for _ in range(4):
        query("dead.up.test", port=a.port, timeout=3)
    assert wait_until(lambda: "udp down" in anchorctl(a, "status").stdout)


def test_cache_flush_all_and_one_name(nsd, make_anchord):
    a = make_anchord([upstream(nsd.port)])
    for name in ("www.up.test", "mail.up.test"):
        query(name, port=a.port)
    before = stats(a)["upstream"]["queries"]
    query("www.up.test", port=a.port)
    assert stats(a)["upstream"]["queries"] == before      # cached
    anchorctl(a, "cache", "flush", "WWW.up.test")
    query("www.up.test", port=a.port)
    query("mail.up.test", "MX", port=a.port)
    after = stats(a)["upstream"]["queries"]
    assert after == before + 1 + 1     # www again; MX was never cached
    anchorctl(a, "cache", "flush")
    assert stats(a)["cache"]["entries"] == 0
    bad = anchorctl(a, "cache", "flush", "bad..name", check=False)
    assert bad.returncode != 0 and "domain name" in bad.stderr


def test_reload_applies_and_refuses_a_bad_file(nsd, make_anchord):
    a = make_anchord([upstream(nsd.port)])
    assert not query("extra.anchord.test", port=a.port).answer
    a.write_config(a.text.replace(
        "local-data:\n", 'local-data:\n  - "extra.anchord.test. 60 IN A '
        '127.0.0.99"\n'))
    assert "reloaded" in anchorctl(a, "reload").stdout
    assert query("extra.anchord.test", port=a.port).answer
    a.write_config(a.text + "\nnonsense-key: 1\n")
    # anchorctl reads the file too, and says what is wrong with it
    r = anchorctl(a, "reload", check=False)
    assert r.returncode == 1 and "nonsense-key" in r.stderr
    # the daemon, asked anyway, refuses it
    r = control(a, "reload")
    assert r["ok"] is False and "refused" in r["error"]
    assert "reload refused" in a.log()
    # the running configuration stayed in force
    assert query("local.anchord.test", port=a.port).answer
    assert a.alive()


def test_stats_count_queries_by_transport(nsd, make_anchord):
    a = make_anchord([upstream(nsd.port)])
    query("www.up.test", port=a.port)
    query("www.up.test", port=a.port, tcp=True)
    s = stats(a)
    assert s["queries"]["udp"] >= 1 and s["queries"]["tcp"] >= 1


def test_unknown_commands_and_long_lines_are_refused(make_anchord, nsd):
    a = make_anchord([upstream(nsd.port)])
    r = control(a, "launch-missiles")
    assert r["ok"] is False and "unknown command" in r["error"]
    r = control(a, "x" * 5000)
    assert r["ok"] is False and "too long" in r["error"]
    assert control(a, "status")["ok"] is True


def test_stale_socket_is_replaced_and_a_live_one_is_not(nsd, make_anchord):
    a = make_anchord([upstream(nsd.port)])
    # a second daemon on the same state directory must not steal it
    b = make_anchord([upstream(nsd.port)], start=False)
    b.write_config(b.text.replace(f"state-dir: {b.state}",
                                  f"state-dir: {a.state}"))
    b.start(wait=False)
    assert b.proc.wait(timeout=60) != 0
    assert b.stop(check=False) != 0
    assert "another anchord answers there" in b.log()
    assert control(a, "status")["ok"]
    # a daemon killed hard leaves its socket file; the next start replaces it
    a.proc.send_signal(signal.SIGKILL)
    a.proc.wait(timeout=10)
    assert os.path.exists(os.path.join(a.state, "control.sock"))
    a.start()
    assert control(a, "status")["ok"]
    assert query("local.anchord.test", port=a.port).rcode() == \
        dns.rcode.NOERROR


def test_anchorctl_without_a_daemon_says_so(make_anchord, nsd):
    a = make_anchord([upstream(nsd.port)])
    a.stop()
    r = anchorctl(a, "reload", check=False)
    assert r.returncode == 1 and "control.sock" in r.stderr
    out = anchorctl(a, "status", check=False).stdout
    assert "daemon: not reachable" in out
