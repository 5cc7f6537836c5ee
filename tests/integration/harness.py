"""Processes the integration tests start: NSD, anchord, and a relay.

Everything listens on 127.0.0.1 on ports chosen at run time, and every
process is stopped by its pid. Nothing here ever talks to another address.
"""
import os
import random
import signal
import socket
import struct
import subprocess
import tempfile
import threading
import time

import dns.edns
import dns.flags
import dns.message
import dns.query
import dns.rcode
import dns.rdatatype

ANCHORD = os.environ.get("ANCHORD", os.path.abspath("build/anchord"))
ANCHORCTL = os.path.join(os.path.dirname(ANCHORD), "anchorctl")
SANITIZE = bool(os.environ.get("ANCHORD_SANITIZE"))
# ANCHORD_WRAPPER="valgrind --error-exitcode=99 --leak-check=full" runs the
# daemon under a checker.
WRAPPER = os.environ.get("ANCHORD_WRAPPER", "").split()
LOCALHOST = "127.0.0.1"
ZONE = "up.test."


# Ports for servers come from below the kernel's ephemeral range
# (net.ipv4.ip_local_port_range, 32768-60999 here): a port picked there
# could be taken by any outgoing connection (a test's client, anchord's
# upstream or MUD fetch) before the server binds it.
SERVER_PORTS = (20000, 32000)
_rng = random.Random()


def free_port():
    """A port free for both UDP and TCP on 127.0.0.1 right now, outside
    the range outgoing connections take theirs from."""
    for _ in range(1000):
        port = _rng.randrange(*SERVER_PORTS)
        t = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            t.bind((LOCALHOST, port))
            u.bind((LOCALHOST, port))
        except OSError:
            continue
        finally:
            u.close()
            t.close()
        return port
    raise RuntimeError("no free port")


def upstream(port, transport="udp"):
    """An upstream entry of anchord.conf for 127.0.0.1:port."""
    return f"{{ address: {LOCALHOST}, port: {port}, transport: {transport} }}"


# A first query that needs an upstream TLS handshake between two daemons
# under valgrind can take longer than 3 s on a loaded machine.
QUERY_TIMEOUT = 9.0 if WRAPPER else 3.0


def query(name, rdtype="A", port=53, tcp=False, timeout=None, **kw):
    """One query to 127.0.0.1:port; returns the dnspython message."""
    timeout = QUERY_TIMEOUT if timeout is None else timeout
    q = dns.message.make_query(name, rdtype, **kw)
    if tcp:
        return dns.query.tcp(q, LOCALHOST, port=port, timeout=timeout)
    return dns.query.udp(q, LOCALHOST, port=port, timeout=timeout,
                         ignore_trailing=True)


def ede_of(msg):
    """(info-code, text) of the first Extended DNS Error option, or None."""
    for opt in msg.options:
        if opt.otype == dns.edns.EDE:
            return (int(opt.code), opt.text)
    return None


def wait_until(fn, timeout=10.0, interval=0.05):
    end = time.monotonic() + timeout
    while True:
        try:
            if fn():
                return True
        except Exception:
            pass
        if time.monotonic() > end:
            return False
        time.sleep(interval)


def stop_process(proc, sig=signal.SIGTERM, timeout=10.0):
    """Stop a process we started, by its pid; returns its exit code."""
    if proc.poll() is None:
        os.kill(proc.pid, sig)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait()
    return proc.returncode


def zone_text(extra=""):
    """The upstream zone: names the tests ask for, all pointing at 127.x."""
    big = "\n".join(
        'big IN TXT "%s"' % ("record %03d " % i + "x" * 180) for i in range(12))
    return f"""$ORIGIN {ZONE}
$TTL 300
@       IN SOA ns.{ZONE} hostmaster.{ZONE} 1 3600 600 604800 30
@       IN NS  ns.{ZONE}
ns      IN A   127.0.0.53
www     IN A   127.0.0.10
www     IN AAAA ::1
alias   IN CNAME www
short 1 IN A   127.0.0.11
shortnx 1 IN TXT "exists"
mail    IN MX  10 www
*.wild  IN A   127.0.0.12
{big}
{extra}
"""


class Nsd:
    """A real authoritative server for up.test. on an ephemeral port, and
    for extra zones: (name, zone file path) pairs."""

    def __init__(self, workdir, port=None, extra_zone="", zones=()):
        self.dir = workdir
        self.port = port or free_port()
        self.proc = None
        os.makedirs(self.dir, exist_ok=True)
        with open(os.path.join(self.dir, "up.test.zone"), "w") as f:
            f.write(zone_text(extra_zone))
        extra = "".join(f"""zone:
  name: "{name}"
  zonefile: "{path}"
""" for name, path in zones)
        self.conf = os.path.join(self.dir, "nsd.conf")
        with open(self.conf, "w") as f:
            f.write(f"""server:
  ip-address: {LOCALHOST}@{self.port}
  port: {self.port}
  database: ""
  zonesdir: "{self.dir}"
  zonelistfile: "{self.dir}/zone.list"
  xfrdfile: "{self.dir}/xfrd.state"
  pidfile: "{self.dir}/nsd.pid"
  logfile: "{self.dir}/nsd.log"
  username: ""
  chroot: ""
  server-count: 1
  verbosity: 1
  hide-version: yes
remote-control:
  control-enable: no
zone:
  name: "{ZONE}"
  zonefile: "up.test.zone"
{extra}""")

    def start(self):
        self.proc = subprocess.Popen(["nsd", "-d", "-c", self.conf],
                                     stdout=subprocess.DEVNULL,
                                     stderr=subprocess.STDOUT)
        ok = wait_until(lambda: query("ns." + ZONE, port=self.port,
                                      timeout=0.3).answer)
        if not ok:
            self.stop()
            raise RuntimeError("nsd did not start: " + self.log())
        return self

    def stop(self):
        if self.proc:
            stop_process(self.proc)
            self.proc = None

    def log(self):
        try:
            with open(os.path.join(self.dir, "nsd.log")) as f:
                return f.read()
        except OSError:
            return ""


class Anchord:
    """The daemon under test, started with a generated configuration."""

    def __init__(self, workdir, upstreams, config_extra="", port=None,
                 listen=None, server_extra="", dot=False, dot_port=None,
                 https=False):
        self.dir = workdir
        os.makedirs(self.dir, exist_ok=True)
        self.port = port or free_port()
        self.dot_port = None
        self.conf = os.path.join(self.dir, "anchord.conf")
        self.logfile = os.path.join(self.dir, "anchord.log")
        self.state = os.path.join(self.dir, "state")
        self.proc = None
        listen = listen or [f"{{ address: {LOCALHOST}, port: {self.port}, kind: dns }}"]
        if dot or dot_port:
            self.dot_port = dot_port or free_port()
            listen = listen + [f"{{ address: {LOCALHOST}, port: {self.dot_port}, kind: dot }}"]
        self.https_port = None
        if https:
            self.https_port = free_port()
            listen = listen + [f"{{ address: {LOCALHOST}, port: {self.https_port}, kind: https }}"]
        ups = "\n".join(f"  - {u}" for u in upstreams)
        self.text = f"""server:
  name: dns.anchord.test
  state-dir: {self.state}
{server_extra}
listen:
{chr(10).join('  - ' + l for l in listen)}
upstream:
{ups}
local-data:
  - "local.anchord.test. 300 IN A 127.0.0.77"
  - "local.anchord.test. 300 IN TXT \\"here\\""
log:
  level: debug
{config_extra}
"""
        self.write_config(self.text)

    def write_config(self, text):
        with open(self.conf, "w") as f:
            f.write(text)

    def start(self, wait=True):
        self.log_fd = open(self.logfile, "ab")
        self.proc = subprocess.Popen(WRAPPER + [ANCHORD, "-c", self.conf],
                                     stdout=self.log_fd,
                                     stderr=subprocess.STDOUT)
        if wait and not wait_until(
                lambda: query("local.anchord.test", port=self.port,
                              timeout=0.3).answer, timeout=30):
            self.stop(check=False)
            raise RuntimeError("anchord did not start:\n" + self.log())
        return self

    @property
    def ca(self):
        """What clients trust: the built-in CA, or the root of an imported
        one (set trust_anchor)."""
        return getattr(self, "trust_anchor", None) or \
            os.path.join(self.state, "ca.pem")

    def pin(self):
        """The SPKI pin, as anchorctl prints it."""
        out = subprocess.run([ANCHORCTL, "-c", self.conf, "pin"],
                             capture_output=True, text=True, timeout=30)
        assert out.returncode == 0, out.stderr
        return out.stdout.split()[1]

    def signal(self, sig):
        os.kill(self.proc.pid, sig)

    def stop(self, check=True):
        if not self.proc:
            return 0
        code = stop_process(self.proc, timeout=30)
        self.proc = None
        self.log_fd.close()
        if check:
            assert code == 0, f"anchord exited {code}:\n{self.log()}"
            self.check_log()
        return code

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def log(self):
        with open(self.logfile, errors="replace") as f:
            return f.read()

    def check_log(self):
        text = self.log()
        for bad in ("AddressSanitizer", "runtime error:", "LeakSanitizer",
                    "Invalid read", "Invalid write", "definitely lost"):
            assert bad not in text, text


class Relay:
    """A UDP and TCP relay in front of an upstream, for fault tests.

    mode: "forward" (optionally after delay seconds), "drop" (never
    answers), "garbage" (answers random bytes), "truncate" (answers with TC
    and no records), "truncate-only" (the same, and never answers over
    TCP), "servfail", "strip-rrsig" (forwards, then removes
    every RRSIG from the answer, as a DNSSEC-oblivious middlebox would),
    "strip-nsec" (the same for NSEC and NSEC3 records).
    It records what it was asked: the source port and ID of every UDP
    query, and every question. mode and delay may change while it runs.
    """

    def __init__(self, upstream_port, mode="forward", delay=0.0):
        self.upstream = upstream_port
        self.mode = mode
        self.delay = delay
        self.port = free_port()
        self.udp_queries = []   # (source port, id, qname, qtype)
        self.tcp_queries = []
        self.lock = threading.Lock()
        self.stopping = False
        self.udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.udp.bind((LOCALHOST, self.port))
        self.udp.settimeout(0.2)
        self.tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.tcp.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.tcp.bind((LOCALHOST, self.port))
        self.tcp.listen(64)
        self.tcp.settimeout(0.2)
        self.threads = [threading.Thread(target=self._udp_loop, daemon=True),
                        threading.Thread(target=self._tcp_loop, daemon=True)]
        for t in self.threads:
            t.start()

    def _answer(self, wire, over_tcp):
        try:
            q = dns.message.from_wire(wire)
        except Exception:
            return None
        rec = (q.id, str(q.question[0].name), q.question[0].rdtype)
        if self.delay:
            time.sleep(self.delay)
        if self.mode == "drop":
            return None
        if self.mode == "garbage":
            return wire[:2] + bytes(random.getrandbits(8) for _ in range(40))
        if self.mode == "servfail":
            r = dns.message.make_response(q)
            r.set_rcode(dns.rcode.SERVFAIL)
            return r.to_wire()
        if self.mode == "truncate-only" and over_tcp:
            return None
        if self.mode in ("truncate", "truncate-only") and not over_tcp:
            r = dns.message.make_response(q)
            r.flags |= dns.flags.TC
            return r.to_wire()
        fwd = dns.query.tcp if over_tcp else dns.query.udp
        try:
            r = fwd(q, LOCALHOST, port=self.upstream, timeout=2)
        except Exception:
            return None
        strip = {"strip-rrsig": (dns.rdatatype.RRSIG,),
                 "strip-nsec": (dns.rdatatype.NSEC, dns.rdatatype.NSEC3)}
        for section in (r.answer, r.authority, r.additional):
            section[:] = [rrset for rrset in section
                          if rrset.rdtype not in strip.get(self.mode, ())]
        return r.to_wire()

    def _udp_loop(self):
        while not self.stopping:
            try:
                wire, addr = self.udp.recvfrom(65535)
            except (socket.timeout, OSError):
                continue
            try:
                q = dns.message.from_wire(wire)
                with self.lock:
                    self.udp_queries.append(
                        (addr[1], q.id, str(q.question[0].name),
                         q.question[0].rdtype))
            except Exception:
                pass
            threading.Thread(target=self._udp_reply, args=(wire, addr),
                             daemon=True).start()

    def _udp_reply(self, wire, addr):
        answer = self._answer(wire, False)
        if answer is not None and not self.stopping:
            self.udp.sendto(answer, addr)

    def _tcp_loop(self):
        while not self.stopping:
            try:
                conn, _ = self.tcp.accept()
            except (socket.timeout, OSError):
                continue
            threading.Thread(target=self._tcp_conn, args=(conn,),
                             daemon=True).start()

    def _tcp_conn(self, conn):
        conn.settimeout(5)
        try:
            while not self.stopping:
                hdr = conn.recv(2)
                if len(hdr) < 2:
                    break
                (n,) = struct.unpack("!H", hdr)
                wire = b""
                while len(wire) < n:
                    chunk = conn.recv(n - len(wire))
                    if not chunk:
                        return
                    wire += chunk
                try:
                    q = dns.message.from_wire(wire)
                    with self.lock:
                        self.tcp_queries.append(
                            (q.id, str(q.question[0].name),
                             q.question[0].rdtype))
                except Exception:
                    pass
                answer = self._answer(wire, True)
                if answer is not None:
                    conn.sendall(struct.pack("!H", len(answer)) + answer)
        except OSError:
            pass
        finally:
            conn.close()

    def close(self):
        self.stopping = True
        for t in self.threads:
            t.join(2)
        self.udp.close()
        self.tcp.close()


def tcp_exchange(port, wires, timeout=5.0):
    """Send several queries on one TCP connection at once; read as many
    answers, in the order they come."""
    s = socket.create_connection((LOCALHOST, port), timeout=timeout)
    s.sendall(b"".join(struct.pack("!H", len(w)) + w for w in wires))
    answers = []
    buf = b""
    while len(answers) < len(wires):
        chunk = s.recv(65535)
        if not chunk:
            break
        buf += chunk
        while len(buf) >= 2:
            (n,) = struct.unpack("!H", buf[:2])
            if len(buf) < 2 + n:
                break
            answers.append(buf[2:2 + n])
            buf = buf[2 + n:]
    s.close()
    return answers


def tls_context(ca=None, check_hostname=False):
    """A TLS client context for DoT tests (TLS 1.2+, ALPN dot)."""
    import ssl
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = check_hostname
    if ca:
        ctx.load_verify_locations(ca)
    else:
        ctx.verify_mode = ssl.CERT_NONE
    ctx.set_alpn_protocols(["dot"])
    return ctx


def tls_connect(port, ctx=None, session=None, server_hostname="dns.anchord.test"):
    ctx = ctx or tls_context()
    raw = socket.create_connection((LOCALHOST, port), timeout=5)
    return ctx.wrap_socket(raw, server_hostname=server_hostname,
                           session=session)


def stream_exchange(sock, wire):
    """One DNS message over an established stream (TCP or TLS)."""
    sock.sendall(struct.pack("!H", len(wire)) + wire)
    hdr = b""
    while len(hdr) < 2:
        chunk = sock.recv(2 - len(hdr))
        if not chunk:
            raise EOFError("closed")
        hdr += chunk
    (n,) = struct.unpack("!H", hdr)
    data = b""
    while len(data) < n:
        chunk = sock.recv(n - len(data))
        if not chunk:
            raise EOFError("closed")
        data += chunk
    return data


def tmpdir(prefix="anchord-test-"):
    return tempfile.mkdtemp(prefix=prefix)
