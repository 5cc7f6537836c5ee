"""Privileges and confinement: started as root with server.user, anchord
binds a port below 1024, then runs as that user with no capability and
still answers DNS, DoT and EST (writing its store); its keys and store are
0600 in a 0700 state directory (looser modes are tightened at start); no
code, password, token or private key reaches its logs; and with
server.sandbox: auto, Landlock refuses it writes outside its directories."""
import base64
import binascii
import email.parser
import email.policy
import grp
import os
import pwd
import re
import shutil
import signal
import socket
import stat
import subprocess
import sys
import tempfile

import dns.message
import pytest

from harness import (WRAPPER, Anchord, query, stream_exchange, tls_connect,
                     tls_context, upstream, wait_until)
from test_enroll import (add_user, code_row, devices, enroll, mistyped,
                         new_code)
from test_est import (anchorctl, bearer, est, first_pem, make_csr, new_key,
                      new_token, p7_certs, save)

USER = "nobody"
# valgrind (3.19) does not know the Landlock system calls: it answers
# ENOSYS, and anchord runs as on a kernel without Landlock.
LANDLOCK = not WRAPPER
SECRET_FILES = ["ca.key", "server.key", "tickets.key", "opaque.key",
                "codes.key", "store.sqlite", "store.sqlite-wal",
                "store.sqlite-shm"]
EST_CONFIG = """tls:
  client-certificates: request
est:
  allowed-domains: [devices.anchord.test]
"""


def free_low_port():
    """A port below 1024 free for UDP and TCP on loopback: only root may
    bind it, so answering there proves anchord bound before the drop."""
    for port in range(900, 1000):
        socks = []
        try:
            for kind in (socket.SOCK_DGRAM, socket.SOCK_STREAM):
                s = socket.socket(socket.AF_INET, kind)
                socks.append(s)
                s.bind(("127.0.0.1", port))
            return port
        except OSError:
            continue
        finally:
            for s in socks:
                s.close()
    pytest.skip("no free port between 900 and 999")


@pytest.fixture
def workdir():
    """A directory server.user may enter (pytest's tmp_path is root's
    alone): the daemon rereads its configuration there on reload."""
    d = tempfile.mkdtemp(prefix="anchord-priv-")
    os.chmod(d, 0o755)
    yield d
    shutil.rmtree(d, ignore_errors=True)


@pytest.fixture
def started():
    daemons = []
    yield daemons
    for a in daemons:
        a.stop()


def status_of(pid):
    with open(f"/proc/{pid}/status") as f:
        return dict(line.rstrip("\n").split(":\t", 1) for line in f
                    if ":\t" in line)


def mode(path):
    return stat.S_IMODE(os.lstat(path).st_mode)


def dot_answer(a, name):
    with tls_connect(a.dot_port, tls_context(a.ca)) as s:
        wire = stream_exchange(s, dns.message.make_query(name, "A").to_wire())
    return dns.message.from_wire(wire)


# ------------------------------------------------------------------ server.user

def test_binds_as_root_then_serves_as_the_user(nsd, workdir, started,
                                               tmp_path):
    pw = pwd.getpwnam(USER)
    a = Anchord(workdir, [upstream(nsd.port)], port=free_low_port(),
                dot=True, https=True, server_extra=f"  user: {USER}",
                config_extra="  queries: true\n" + EST_CONFIG)
    started.append(a)
    a.start()
    assert a.port < 1024
    assert f"running as user {USER} (uid {pw.pw_uid}" in a.log()

    st = status_of(a.proc.pid)
    assert st["Uid"].split() == [str(pw.pw_uid)] * 4, st["Uid"]
    assert st["Gid"].split() == [str(pw.pw_gid)] * 4, st["Gid"]
    groups = {int(g) for g in st["Groups"].split()}
    assert groups <= set(os.getgrouplist(USER, pw.pw_gid)) and 0 not in groups
    assert int(st["CapEff"], 16) == 0 and int(st["CapPrm"], 16) == 0, st
    assert st["NoNewPrivs"].strip() == "1"      # no exec regains them
    assert LANDLOCK == bool(re.search(r"info sandbox: on \(Landlock", a.log()))

    # what the daemon writes belongs to the user
    for name in os.listdir(a.state) + ["."]:
        assert os.lstat(os.path.join(a.state, name)).st_uid == pw.pw_uid, name

    # plain DNS on the privileged port, DoT, and EST writing to the store
    assert query("local.anchord.test", port=a.port).answer
    assert query("local.anchord.test", port=a.port, tcp=True).answer
    assert dot_answer(a, "local.anchord.test").answer
    t = str(tmp_path)
    key = new_key(t, "dev")
    r = est(a, "simpleenroll", t, make_csr(t, key, cn="after-the-drop"),
            auth=bearer(new_token(a)))
    assert r.code == 200, r.body + a.log().encode()
    assert "CN = after-the-drop" in subprocess.run(
        ["openssl", "x509", "-noout", "-subject", "-nameopt", "oneline"],
        input=first_pem(p7_certs(r.body, t)).encode(),
        capture_output=True).stdout.decode()
    assert "after-the-drop" in anchorctl(a, "cert", "list").stdout

    # a reload rereads the configuration and the keys as the user
    a.signal(signal.SIGHUP)
    assert wait_until(lambda: "info config: reloaded" in a.log()), a.log()
    assert query("local.anchord.test", port=a.port).answer
    # the query log, reopened by that SIGHUP, still takes lines
    ql = os.path.join(a.state, "queries.log")
    before = os.path.getsize(ql)
    assert query("local.anchord.test", port=a.port).answer
    assert wait_until(lambda: os.path.getsize(ql) > before, timeout=10)
    assert "cannot open" not in a.log()
    # anchorctl (as root) did not leave files the user cannot write
    for name in os.listdir(a.state):
        assert os.lstat(os.path.join(a.state, name)).st_uid == pw.pw_uid, name


def test_an_unknown_user_is_refused(nsd, workdir, started):
    a = Anchord(workdir, [upstream(nsd.port)],
                server_extra="  user: no-such-anchord-user")
    a.start(wait=False)
    assert a.proc.wait(timeout=30) != 0
    a.log_fd.close()
    assert 'server.user: no user "no-such-anchord-user"' in a.log()


def test_nftables_keeps_only_cap_net_admin(workdir):
    """mud.nftables writes the firewall's sets over netlink after the
    drop: CAP_NET_ADMIN alone stays (in a namespace of the test's own, as
    test_pep.py does, so the host's ruleset is never touched)."""
    here = os.path.dirname(os.path.abspath(__file__))
    out = subprocess.run(["unshare", "--net", "--", sys.executable,
                          os.path.join(here, "pep_netns.py"), workdir, USER],
                         capture_output=True, text=True, timeout=180,
                         cwd=os.getcwd(), env=dict(os.environ,
                                                   PYTHONPATH=here))
    assert out.returncode == 0, out.stdout + out.stderr
    assert '"127.0.0.21"' in out.stdout      # the set was written
    uid = re.search(r"^Uid:\s+(\d+)", out.stdout, re.M).group(1)
    cap = re.search(r"^CapEff:\s+([0-9a-f]+)", out.stdout, re.M).group(1)
    assert int(uid) == pwd.getpwnam(USER).pw_uid
    assert int(cap, 16) == 1 << 12, cap      # CAP_NET_ADMIN, nothing else


# ------------------------------------------------------------------ file modes

def test_keys_are_private_and_loose_modes_are_tightened(nsd, workdir,
                                                        started):
    a = Anchord(workdir, [upstream(nsd.port)], dot=True, https=True)
    started.append(a)
    a.start()
    assert mode(a.state) == 0o700
    for name in SECRET_FILES:
        assert mode(os.path.join(a.state, name)) == 0o600, name
    assert mode(os.path.join(a.state, "ca.pem")) == 0o644
    pin = a.pin()
    a.stop()

    os.chmod(a.state, 0o755)
    loose = {"ca.key": 0o644, "server.key": 0o640, "tickets.key": 0o604,
             "store.sqlite": 0o666}
    for name, m in loose.items():
        os.chmod(os.path.join(a.state, name), m)
    a.start()
    log = a.log()
    assert re.search(rf"warning daemon: {re.escape(a.state)} was mode 0755"
                     r", open to others: now 0700", log), log
    for name, m in loose.items():
        path = os.path.join(a.state, name)
        assert f"{path} was mode {m:04o}, open to others: now 0600" in log
        assert mode(path) == 0o600, name
    assert mode(a.state) == 0o700
    # the same keys serve on: tightened, not replaced
    assert a.pin() == pin
    assert dot_answer(a, "local.anchord.test").answer


def test_a_shared_state_dir_is_refused(nsd, workdir):
    a = Anchord(workdir, [upstream(nsd.port)])
    os.mkdir(a.state)
    os.chmod(a.state, 0o1777)       # like /tmp
    a.start(wait=False)
    assert a.proc.wait(timeout=30) != 0
    a.log_fd.close()
    assert f"server.state-dir {a.state} is shared" in a.log()
    assert mode(a.state) == 0o1777 and os.listdir(a.state) == []


# ------------------------------------------------------------------ secrets

def pem_body(path):
    """The base64 lines of a PEM private key."""
    with open(path) as f:
        return [l.strip() for l in f if l.strip() and "-----" not in l]


def binary_forms(path):
    with open(path, "rb") as f:
        raw = f.read()
    return [raw.hex(), base64.b64encode(raw).decode().rstrip("="),
            base64.urlsafe_b64encode(raw).decode().rstrip("=")]


def test_no_secret_in_any_log(nsd, workdir, started, tmp_path):
    a = Anchord(workdir, [upstream(nsd.port)], dot=True, https=True,
                config_extra="  queries: true\n" + EST_CONFIG)
    started.append(a)
    a.start()
    t = str(tmp_path)
    secrets = []

    # PAKE enrollment with a one-time code (CPace) and a password (OPAQUE)
    code, uri = new_code(a, "--device", "laptop-1")
    wrong = mistyped(code)
    secrets += [code, code[5:], code[5:].replace("-", ""), wrong[5:]]
    server = f"https://dns.anchord.test:{a.https_port}"
    r = enroll(a, tmp_path, "--server", server, "--code", wrong, check=False,
               name="mistyped")
    assert r.returncode != 0
    assert code_row(a, code[:4])[5] == "failures=1"
    enroll(a, tmp_path, uri, "--write", "json", name="by-code")
    assert code_row(a, code[:4])[1] == "used"
    password = "Tr0ub4dor&3-anchord-secret"
    pwfile = add_user(a, tmp_path, "alice", password)
    wrong_pw = save(t, "wrong.pw", "not Tr0ub4dor&3 at all\n")
    secrets.append("not Tr0ub4dor&3 at all")
    add_user(a, tmp_path, "bob", "bob's own password")   # backs off after
    r = enroll(a, tmp_path, "--server", server, "--user", "bob",
               "--password-file", wrong_pw, check=False, name="wrong-pw")
    assert r.returncode != 0 and "wrong user name or password" in r.stderr
    enroll(a, tmp_path, "--server", server, "--user", "alice",
           "--password-file", pwfile, "--device", "phone", "--write", "json",
           name="by-password")
    assert {d[0] for d in devices(a)} == {"laptop-1", "alice-phone"}

    # EST with a token, a wrong token, HTTP Basic, a wrong password
    key = new_key(t, "est")
    csr = make_csr(t, key, cn="est-device")
    token = new_token(a)
    wrong_token = token[:-4] + ("AAAA" if not token.endswith("AAAA")
                                else "BBBB")
    secrets += [token, wrong_token]
    assert est(a, "simpleenroll", t, csr, auth=bearer(wrong_token)).code == 401
    assert est(a, "simpleenroll", t, csr, auth=bearer(token)).code == 200
    basic_pw = "correct horse battery staple 42"
    anchorctl(a, "est", "user", "add", "legacy-1", "--password-file",
              save(t, "pw", basic_pw + "\n"))
    secrets += [basic_pw, "wrong horse battery staple 43"]
    assert est(a, "simpleenroll", t, csr,
               auth=["-u", "legacy-1:wrong horse battery staple 43"]).code \
        == 401
    assert est(a, "simpleenroll", t, csr,
               auth=["-u", f"legacy-1:{basic_pw}"]).code == 200
    for user_pw in (f"legacy-1:{basic_pw}",
                    "legacy-1:wrong horse battery staple 43"):
        secrets.append(base64.b64encode(user_pw.encode()).decode())

    # serverkeygen: the private key the daemon made goes to the client only
    r = est(a, "serverkeygen", t, csr, auth=bearer(new_token(a)))
    assert r.code == 200, r.body
    msg = email.parser.BytesParser(policy=email.policy.default).parsebytes(
        b"Content-Type: " + r.header("content-type").encode() + b"\r\n\r\n"
        + r.body)
    made_key = list(msg.iter_parts())[0].get_payload(decode=True)
    secrets += [base64.b64encode(made_key).decode()[:64], made_key.hex()[:64]]

    # the daemon's own keys
    for name in ("ca.key", "server.key"):
        secrets += pem_body(os.path.join(a.state, name))
    for name in ("tickets.key", "opaque.key", "codes.key"):
        secrets += binary_forms(os.path.join(a.state, name))

    assert query("local.anchord.test", port=a.port).answer   # query log
    a.stop()
    with open(os.path.join(a.state, "queries.log")) as f:
        querylog = f.read()
    audit = anchorctl(a, "audit").stdout
    assert "token-new" in audit and "est-user-set" in audit   # not empty
    assert "local.anchord.test" in querylog
    daemon_log = a.log()
    # the log did see each of them
    for seen in ("enrolled with code", "enrolled by user alice",
                 "wrong password for EST user legacy-1", "to user:legacy-1",
                 "debug tls: server handshake complete"):
        assert seen in daemon_log, seen
    for where, text in (("daemon log", daemon_log), ("query log", querylog),
                        ("audit log", audit)):
        assert "PRIVATE KEY" not in text, where
        for s in secrets:
            assert s not in text, f"{where} holds a secret: {s!r}"


# ------------------------------------------------------------------ Landlock

@pytest.mark.parametrize("sandbox", ["auto", "off"])
def test_sandbox_refuses_writes_outside_its_directories(nsd, workdir,
                                                         started, sandbox):
    """The query log's directory is allowed as it was at start: a new
    directory put in its place is outside, so reopening the log there on
    SIGHUP fails under Landlock, even as root, and anchord serves on."""
    if sandbox == "auto" and not LANDLOCK:
        pytest.skip("Landlock is invisible under valgrind")
    qdir = os.path.join(workdir, "qlog")
    os.mkdir(qdir)
    qfile = os.path.join(qdir, "queries.log")
    a = Anchord(workdir, [upstream(nsd.port)],
                server_extra=f"  sandbox: {sandbox}",
                config_extra=f"  queries: true\n  queries-file: {qfile}")
    started.append(a)
    a.start()
    st = status_of(a.proc.pid)
    if sandbox == "auto":
        assert re.search(r"info sandbox: on \(Landlock ABI \d+\)", a.log())
        assert st["NoNewPrivs"].strip() == "1"
    else:
        assert "info sandbox: off (server.sandbox: off)" in a.log()
        assert st["NoNewPrivs"].strip() == "0"
    assert query("local.anchord.test", port=a.port).answer
    assert wait_until(lambda: os.path.getsize(qfile) > 0)

    os.rename(qdir, qdir + "-old")
    os.mkdir(qdir)
    a.signal(signal.SIGHUP)
    assert wait_until(lambda: "info config: reloaded" in a.log()), a.log()
    assert query("local.anchord.test", port=a.port).answer
    refused = f"cannot open {qfile}: Permission denied"
    if sandbox == "auto":
        assert wait_until(lambda: refused in a.log()), a.log()
        assert not os.path.exists(qfile)
        assert a.alive()
    else:
        assert wait_until(lambda: os.path.exists(qfile))
        assert refused not in a.log()
