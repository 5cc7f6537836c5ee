"""Crash safety and storage faults of enrollment.

A certificate is answered only after the transaction that records it (the
certificate, its spent token and its audit entry) has committed: a client
holding a certificate can count on the store knowing it, whenever the
daemon dies. These tests kill anchord with SIGKILL in the middle of a
stream of EST enrollments and check, after each restart, that every
certificate a client received is in the store and that the store holds no
half of an enrollment. A certificate whose response was lost with the
daemon is in the store and its token is spent: the client asks again with
a new token (the administrator may revoke the orphan), which is the
documented behaviour (README, "Running it"; anchord(8)).

The storage faults run anchord with its state directory on a small tmpfs
in a private mount namespace (we are root in the test environment): a full
file system and a read-only one must give the client a 503 that says why,
leave nothing half-written, keep DNS answering, and heal once the space is
back.

The random kill points come from a seeded generator; the seed is printed
(and taken from ANCHORD_CRASH_SEED when set) so a failure replays."""
import base64
import hashlib
import http.client
import os
import random
import re
import shutil
import signal
import sqlite3
import ssl
import subprocess
import threading
import time

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import pkcs7
from cryptography.x509.oid import NameOID

from harness import (ANCHORCTL, ANCHORD, LOCALHOST, WRAPPER, query,
                     upstream, wait_until)

ANCHOR_ENROLL = os.path.join(os.path.dirname(ANCHORD), "anchor-enroll")
ENROLL_PATH = "/.well-known/est/simpleenroll"
ADN = "dns.anchord.test"
EST_CONFIG = "est:\n  allowed-domains: [devices.anchord.test]\n"
CLIENTS = 4
ROUNDS = 5


def seed():
    value = int(os.environ.get("ANCHORD_CRASH_SEED") or
                random.SystemRandom().randrange(1 << 32))
    print(f"crash seed {value} (replay: ANCHORD_CRASH_SEED={value})")
    return value


# ------------------------------------------------------------------ clients

def csr_body(cn):
    """A fresh P-256 key's PKCS#10 request, base64 as EST sends it."""
    key = ec.generate_private_key(ec.SECP256R1())
    csr = x509.CertificateSigningRequestBuilder().subject_name(
        x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])).sign(
        key, hashes.SHA256())
    return base64.encodebytes(csr.public_bytes(serialization.Encoding.DER))


def post_enroll(a, token, body, timeout=15):
    """(status, body) of one simpleenroll; raises when the connection
    breaks before a whole response arrived."""
    ctx = ssl.create_default_context(cafile=a.ca)
    ctx.check_hostname = False
    conn = http.client.HTTPSConnection(LOCALHOST, a.https_port, context=ctx,
                                       timeout=timeout)
    try:
        conn.request("POST", ENROLL_PATH, body=body, headers={
            "Content-Type": "application/pkcs10",
            "Authorization": "Bearer " + token})
        r = conn.getresponse()
        return r.status, r.read()
    finally:
        conn.close()


def serial_of(body):
    """The hex serial (as the store writes it) of a certs-only reply."""
    der = base64.b64decode(b"".join(body.split()))
    certs = pkcs7.load_der_pkcs7_certificates(der)
    assert len(certs) == 1
    return format(certs[0].serial_number, "032x")


def token_hash(token):
    return hashlib.sha256(token.encode()).digest()


def anchorctl(a, *args, check=True, ns=None):
    cmd = [ANCHORCTL, "-c", a.conf] + list(args)
    if ns:      # inside the daemon's mount namespace
        cmd = ["nsenter", "-t", str(ns), "-m", "--"] + cmd
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
    if check:
        assert out.returncode == 0, out.stderr
    return out


def new_tokens(a, n, ns=None):
    return anchorctl(a, "token", "new", "--count", str(n), ns=ns).stdout.split()


def listed_serials(a, ns=None):
    return {line.split()[0] for line in
            anchorctl(a, "cert", "list", ns=ns).stdout.splitlines()
            if line.strip()}


# ------------------------------------------------------------------ the daemon

def kill9(a):
    """SIGKILL, by pid: no cleanup of any kind runs."""
    os.kill(a.proc.pid, signal.SIGKILL)
    a.proc.wait(30)
    a.proc = None
    a.log_fd.close()


def start(a, prefix=()):
    """Like Anchord.start, with an optional command in front (the mount
    namespace); the checker wrapper, if any, still runs the daemon."""
    a.log_fd = open(a.logfile, "ab")
    a.proc = subprocess.Popen(list(prefix) + WRAPPER + [ANCHORD, "-c", a.conf],
                              stdout=a.log_fd, stderr=subprocess.STDOUT)
    ok = wait_until(lambda: query("local.anchord.test", port=a.port,
                                  timeout=0.3).answer, timeout=30)
    assert ok, "anchord did not start:\n" + a.log()
    return a


def resolves(a):
    return query("local.anchord.test", port=a.port, timeout=2).answer


# ------------------------------------------------------------------ the store

def open_store(a, ns=None):
    """A read-only connection to the store. Inside a mount namespace, to
    a copy taken while no enrollment runs: SQLite resolves the magic
    /proc/PID/root link to our own "/" and would miss the tmpfs."""
    path = os.path.join(a.state, "store.sqlite")
    if ns:
        copy = os.path.join(a.dir, "store-copy")
        shutil.rmtree(copy, ignore_errors=True)
        os.makedirs(copy)
        for suffix in ("", "-wal"):
            src = f"/proc/{ns}/root{path}{suffix}"
            if os.path.exists(src):
                shutil.copyfile(src, os.path.join(copy, "store.sqlite" +
                                                  suffix))
        path = os.path.join(copy, "store.sqlite")
        return sqlite3.connect(path, timeout=10)
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=10)
    db.execute("PRAGMA busy_timeout = 10000")
    return db


def check_consistent(a, ns=None):
    """Nothing half-written: the file is sound; every spent EST token has
    exactly one certificate and every certificate its spent token and its
    audit entry (one transaction, est.c record); a device's token names
    its device, which exists, and a used code has its device (one
    transaction, enroll/service.c cpace_grant). A token without a device
    names its certificate's identity after the first 8 bytes of its hash
    (est.c auth_token). Returns the serials the store holds."""
    db = open_store(a, ns)
    try:
        assert db.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        assert db.execute("PRAGMA foreign_key_check").fetchall() == []
        spent = sorted("token:" + (device or h.hex()[:16])
                       for h, device in db.execute(
                           "SELECT hash, device FROM tokens WHERE "
                           "purpose = 'est' AND used_at != 0"))
        certs = dict(db.execute("SELECT serial, identity FROM certificates"))
        assert spent == sorted(certs.values()), (
            "spent tokens and certificates differ: "
            f"{set(spent) ^ set(certs.values())}")
        audited = {m.group(1) for (d,) in db.execute(
            "SELECT detail FROM audit WHERE action = 'issued'")
            for m in [re.match(r"serial ([0-9a-f]+) ", d)] if m}
        assert set(certs) <= audited, set(certs) - audited
        devices = dict(db.execute("SELECT name, owner FROM devices"))
        for (device,) in db.execute("SELECT device FROM tokens WHERE "
                                    "purpose = 'est' AND device != ''"):
            assert device in devices, f"a token for a missing {device}"
        used_codes = {"code:" + c for (c,) in db.execute(
            "SELECT id FROM codes WHERE used_at != 0")}
        assert used_codes == {o for o in devices.values()
                              if o.startswith("code:")}
        return set(certs)
    finally:
        db.close()


def token_used(a, token, ns=None):
    db = open_store(a, ns)
    try:
        row = db.execute("SELECT used_at FROM tokens WHERE hash = ?",
                         (token_hash(token),)).fetchone()
        return row is not None and row[0] != 0
    finally:
        db.close()


# ------------------------------------------------------------------ crash safety

class Stream:
    """CLIENTS threads enrolling one fresh token and key after another
    until told to stop or the daemon is gone."""

    def __init__(self, a, tokens, tag):
        self.a, self.tokens, self.tag = a, tokens, tag
        self.lock = threading.Lock()
        self.stop = threading.Event()
        self.issued = {}        # token -> serial: a certificate arrived
        self.refused = {}       # token -> (status, body)
        self.lost = []          # tokens whose answer never came
        self.threads = [threading.Thread(target=self.client, args=(i,))
                        for i in range(CLIENTS)]

    def take(self):
        with self.lock:
            return self.tokens.pop() if self.tokens else None

    def client(self, i):
        n = 0
        while not self.stop.is_set():
            token = self.take()
            if token is None:
                return
            n += 1
            body = csr_body(f"crash-{self.tag}-{i}-{n}")
            try:
                status, reply = post_enroll(self.a, token, body)
            except (OSError, http.client.HTTPException):
                with self.lock:
                    self.lost.append(token)
                return
            with self.lock:
                if status == 200:
                    self.issued[token] = serial_of(reply)
                else:
                    self.refused[token] = (status, reply)

    def __enter__(self):
        for t in self.threads:
            t.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        for t in self.threads:
            t.join(60)
            assert not t.is_alive()


def test_sigkill_during_est_enrollments_loses_no_issued_certificate(
        nsd, make_anchord):
    rng = random.Random(seed())
    a = make_anchord([upstream(nsd.port)], https=True, config_extra=EST_CONFIG)
    tokens = new_tokens(a, 600)
    received, lost = {}, []
    # 50-800 ms, longer where one enrollment takes longer (valgrind), so
    # that certificates are issued before the kill
    began = time.monotonic()
    status, reply = post_enroll(a, tokens.pop(), csr_body("crash-first"))
    assert status == 200, reply
    received[None] = serial_of(reply)
    scale = max(1.0, (time.monotonic() - began) / 0.2)
    for rnd in range(ROUNDS):
        delay = rng.uniform(0.05, 0.8) * scale
        with Stream(a, tokens, rnd) as s:
            time.sleep(delay)
            kill9(a)
        print(f"round {rnd}: killed after {delay * 1000:.0f} ms: "
              f"{len(s.issued)} issued, {len(s.lost)} lost, "
              f"{len(s.refused)} refused")
        # every answer that came whole was a certificate
        assert not s.refused, s.refused
        received.update(s.issued)
        lost += s.lost
        start(a)                # the same state directory, every time
        stored = check_consistent(a)
        assert set(received.values()) <= stored, \
            set(received.values()) - stored
        assert set(received.values()) <= listed_serials(a)
        for token in s.issued:
            assert token_used(a, token)
    assert len(received) > 1, "no certificate was issued under the kills"
    # A lost answer either spent its token together with a certificate
    # the store keeps, or spent nothing: that token still enrolls.
    unspent = [t for t in lost if not token_used(a, t)]
    print(f"{len(lost)} answers lost: {len(lost) - len(unspent)} with their "
          "certificate recorded, the other tokens still good")
    for token in unspent[:4]:
        status, reply = post_enroll(a, token, csr_body("crash-retry"))
        assert status == 200, reply
        assert serial_of(reply) in listed_serials(a)
    check_consistent(a)
    assert resolves(a)


def test_sigkill_during_code_enrollments(nsd, make_anchord, tmp_path):
    """The same with anchor-enroll: the PAKE records the device and its
    token, EST then issues; kill -9 lands anywhere in that."""
    rng = random.Random(seed())
    a = make_anchord([upstream(nsd.port)], https=True, dot=True)

    def enroll(name):
        out = anchorctl(a, "code", "new", "--device", name).stdout
        uri = re.search(r"^uri: (\S+)$", out, re.M).group(1)
        return subprocess.Popen(
            [ANCHOR_ENROLL, "enroll", uri, "--state", str(tmp_path / name),
             "--out", str(tmp_path / (name + "-out")),
             "--resolve", f"{ADN}:{a.https_port}:{LOCALHOST}"],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)

    # how long one enrollment takes here (a sanitizer build is slower),
    # so that the kills land inside enrollments
    began = time.monotonic()
    first = enroll("crash-first")
    assert first.wait(120) == 0, first.communicate()[0]
    took = time.monotonic() - began
    for rnd in range(2):
        runs = [enroll(f"crash-{rnd}-{i}") for i in range(4)]
        delay = rng.uniform(0.1, 1.5) * took
        time.sleep(delay)
        kill9(a)
        outputs = [r.communicate(timeout=120)[0] for r in runs]
        got = [m.group(1) for o in outputs
               for m in [re.search(r"certificate ([0-9a-f]+)", o)] if m]
        print(f"round {rnd}: killed after {delay * 1000:.0f} ms: {len(got)} "
              f"of {len(runs)} clients got a certificate")
        start(a)
        stored = check_consistent(a)
        assert set(got) <= stored, "\n".join(outputs)
        assert set(got) <= listed_serials(a)


# ------------------------------------------------------------------ storage faults

def in_tmpfs(a, size):
    """The command that gives anchord a private mount namespace with a
    tmpfs of size bytes on its state directory."""
    os.makedirs(a.state, exist_ok=True)
    script = ('mount -t tmpfs -o size=%d,mode=0700 tmpfs "$0" && exec "$@"'
              % size)
    return ["unshare", "--mount", "--propagation", "private", "sh", "-c",
            script, a.state]


def ns_sh(a, script):
    """A shell command inside the daemon's mount namespace."""
    return subprocess.run(["nsenter", "-t", str(a.proc.pid), "-m", "--",
                           "sh", "-c", script], capture_output=True,
                          text=True, timeout=60)


def enroll_until_refused(a, tokens, tries):
    """Enroll with one token after another until one is refused: the
    tokens that got certificates, and the refused (token, status, body)."""
    issued = {}
    for n in range(tries):
        token = tokens.pop()
        status, body = post_enroll(a, token, csr_body(f"fault-{n}"))
        if status != 200:
            return issued, (token, status, body)
        issued[token] = serial_of(body)
    return issued, None


def test_full_disk_refuses_enrollment_clearly_and_heals(nsd, make_anchord):
    a = make_anchord([upstream(nsd.port)], https=True, config_extra=EST_CONFIG,
                     start=False)
    start(a, in_tmpfs(a, 4 << 20))
    ns = a.proc.pid
    a.trust_anchor = f"/proc/{ns}/root{a.state}/ca.pem"
    tokens = new_tokens(a, 300, ns=ns)
    issued, refused = enroll_until_refused(a, tokens, 2)
    assert refused is None and len(issued) == 2

    filled = ns_sh(a, f"cat /dev/zero > {a.state}/filler")
    assert "No space left" in filled.stderr, filled.stderr
    more, refused = enroll_until_refused(a, tokens, 250)
    issued.update(more)
    assert refused, "the full file system never refused a certificate"
    token, status, body = refused
    print(f"refused after {len(more)} more: {status} {body!r}")
    assert status == 503 and b"could not be recorded" in body, body
    assert wait_until(lambda: re.search(
        r"est: recording [0-9a-f]+: .*database or disk is full", a.log()))
    # several at once: each gets its certificate, or a 503 and keeps its
    # token (a batch that SQLite rolls back must not half commit)
    with Stream(a, tokens[-8:], "full") as s:
        pass
    del tokens[-8:]
    assert not s.lost
    assert all(st == 503 for st, _ in s.refused.values()), s.refused
    issued.update(s.issued)
    assert a.alive() and resolves(a)
    stored = check_consistent(a, ns)
    assert set(issued.values()) <= stored
    for t in [token] + list(s.refused):
        assert not token_used(a, t, ns), "a refused request spent its token"

    ns_sh(a, f"rm {a.state}/filler")
    status, body = post_enroll(a, token, csr_body("fault-again"))
    assert status == 200, body          # the refused token is still good
    assert serial_of(body) in listed_serials(a, ns=ns)
    check_consistent(a, ns)



def on_ext4(a, image):
    """A private mount namespace with the ext4 file system in image on the
    state directory, made read-only on errors as /var/lib usually is."""
    os.makedirs(a.state, exist_ok=True)
    script = 'mount -o loop,errors=remount-ro "$1" "$0" && shift && exec "$@"'
    return ["unshare", "--mount", "--propagation", "private", "sh", "-c",
            script, a.state, image]


def test_state_turning_read_only_refuses_enrollment_clearly(
        nsd, make_anchord, tmp_path):
    """A disk error makes the state file system read-only under the
    daemon (ext4 errors=remount-ro; a plain mount -o remount,ro is refused
    while the store is open for writing). Enrollment must fail with a 503
    that says why, DNS go on, nothing be half-written; once the file
    system is repaired and anchord restarted, the refused token works."""
    image = str(tmp_path / "state.ext4")
    with open(image, "wb") as f:
        f.truncate(16 << 20)
    subprocess.run(["mkfs.ext4", "-q", "-F", image], check=True, timeout=60)
    a = make_anchord([upstream(nsd.port)], https=True, config_extra=EST_CONFIG,
                     start=False)
    start(a, on_ext4(a, image))
    ns = a.proc.pid
    a.trust_anchor = f"/proc/{ns}/root{a.state}/ca.pem"
    tokens = new_tokens(a, 40, ns=ns)
    issued, refused = enroll_until_refused(a, tokens, 2)
    assert refused is None

    # written back first, so that SQLite's shared-memory index must fault
    # its pages writable again on the read-only file system
    broke = ns_sh(a, "sync; dev=$(findmnt -n -o SOURCE " + a.state + ") && "
                  "echo 1 > /sys/fs/ext4/${dev##*/}/trigger_fs_error && "
                  "findmnt -n -o OPTIONS " + a.state)
    assert broke.returncode == 0 and re.match(
        r"ro,|.*emergency_ro", broke.stdout), broke
    more, refused = enroll_until_refused(a, tokens, 3)
    assert not more and refused
    token, status, body = refused
    print(f"read-only: {status} {body!r}")
    assert status == 503 and b"could not be recorded" in body, body
    assert wait_until(lambda: re.search(
        r"est: recording [0-9a-f]+: .*(readonly|read-only|I/O error)",
        a.log())), a.log()
    with Stream(a, tokens[-8:], "ro") as s:
        pass
    assert not s.lost and not s.issued
    assert all(st == 503 for st, _ in s.refused.values()), s.refused
    assert a.alive() and resolves(a)
    stored = check_consistent(a, ns)
    assert set(issued.values()) <= stored
    assert not token_used(a, token, ns)
    a.stop()                            # cleanly, on a read-only store

    # repaired, remounted, restarted: what was issued is there, the
    # refused token is still good
    fsck = subprocess.run(["e2fsck", "-f", "-y", image], capture_output=True,
                          text=True, timeout=60)
    assert fsck.returncode in (0, 1), fsck.stdout + fsck.stderr
    start(a, on_ext4(a, image))
    ns = a.proc.pid
    a.trust_anchor = f"/proc/{ns}/root{a.state}/ca.pem"
    assert set(issued.values()) <= check_consistent(a, ns)
    status, body = post_enroll(a, token, csr_body("ro-again"))
    assert status == 200, body
    assert serial_of(body) in listed_serials(a, ns=ns)


def test_read_only_state_at_start_is_refused_clearly(nsd, make_anchord):
    """SQLite would open a store it cannot write read-only without a word,
    and fail at the first change; anchord refuses to start instead and
    says why (the store also holds the audit log, devices and MUD
    bindings: running on without them is not an option)."""
    a = make_anchord([upstream(nsd.port)], https=True, config_extra=EST_CONFIG)
    a.stop()
    script = ('mount --bind "$0" "$0" && mount -o remount,bind,ro "$0" && '
              'exec "$@"')
    a.log_fd = open(a.logfile, "ab")
    a.proc = subprocess.Popen(
        ["unshare", "--mount", "--propagation", "private", "sh", "-c", script,
         a.state] + WRAPPER + [ANCHORD, "-c", a.conf],
        stdout=a.log_fd, stderr=subprocess.STDOUT)
    code = a.proc.wait(60)
    a.proc = None
    a.log_fd.close()
    assert code != 0
    assert re.search(r"store\.sqlite: cannot write it \(Read-only file system\)",
                     a.log()), a.log()
    a.check_log()
    start(a)                    # writable again: it starts, the store intact
    check_consistent(a)
