#!/usr/bin/python3
"""bench.py - anchord against Unbound, Knot Resolver and dnsdist, in one run.

    unshare --net /usr/bin/python3 tests/bench/bench.py      (as root;
    `make bench` installs the peers and does this)

Everything runs on the loopback of the private network namespace unshare
makes; nothing leaves it. NSD serves a generated zone (bench.test: 10,000
names wwwN with A and AAAA, 1,000 CNAMEs aliasN, a wildcard under
wild.bench.test for names no cache holds). Each resolver in turn forwards to
it with the same settings (cache 256 MiB or the closest it has, DNSSEC
validation off, quiet logs, one self-signed ECDSA P-256 certificate for
dns.bench.test on its DoT and DoH ports), first with 1 worker, then 2, and
is measured:

  cached     dnsperf -m udp|tcp|dot|doh -c 100 -q 1000 -l DURATION on the
             10,000 A names, after one warming pass; BENCH_RUNS runs each,
             the best is tabled. With it the server's CPU time (user and
             system, all its processes and threads) per answer, the
             lowest of the runs: with 2 workers the client shares a core
             with the server, so qps cannot show scaling here, but CPU
             per answer shows what a second worker costs (locks, shared
             cache lines, smaller batches per wake-up). A 1-worker
             server busy under 90% of the run gets a note: the client,
             not the server, set that rate.
  latency    the same at a fixed 10,000 qps (-Q 10000) with -v, which prints
             every answer's latency: p50 and p99 are computed from those
             (dnsperf 2.10 has no histogram option); lost queries are
             counted, not folded into the percentiles. The first second's
             answers (10,000, in the order they came) are left out of
             p50 and p99: they queue behind the opening of dnsperf's 100
             connections, 100 TLS handshakes for DoT and DoH, which put
             every resolver's DoH p99 at 20-35 ms whatever its steady
             state; handshakes have their own part. The CSV keeps the
             p99 over every answer too (latency-p99-all). BENCH_RUNS runs
             each, the lowest p50 and p99 are tabled: on a shared or
             virtual machine interference only ever adds latency, and
             one run's p99 swings several-fold for every resolver.
  uncached   dnsperf over UDP on names never asked before (the wildcard),
             one pass: forwarding throughput.
  handshakes tls_handshakes (tests/bench/tls_handshakes.c): 4 threads
             connect to the DoT port, complete a TLS handshake and close;
             full, then resumed from a TLS 1.3 ticket (the fraction the
             server really resumed is printed).
  idle       BENCH_IDLE_CONNS TLS connections to the DoT port, handshake
             done, idle, 100 per source address (127.1.x.y); the server's
             VmRSS (summed over its processes) before and with them open,
             in KiB per connection; then one query on each tells how many
             the server kept open. Connection limits and idle timeouts of
             every resolver are raised for this (printed).

A transport on which most queries go unanswered is n/a in the table (the
figure goes to the CSV as *-failed): dnsdist 1.7.3's DoH (h2o) answers
one query in flight per HTTP/2 connection (dnsperf -c 1 -q 1: 1.6k qps)
but stalls with several (-c 1 -q 10: 3 of 13 answered), as with -q 1000
over -c 100 here.

Pinning: the server on CPU 0 (1 worker) or CPUs 0-1 (2 workers), dnsperf
and the other clients on CPU 1, this script included (with 2 workers the
client shares a core, so the client may be the limit), NSD on CPU 1.
NSD's own UDP rate (dnsperf on CPU 0 straight at NSD) is the reference
row. Kernel threads that may run on any CPU (kdamond.0, rcu_preempt,
kswapd0, ...) are kept on CPU 1 for the run and put back after: kdamond.0
alone took the server's CPU for 1 ms every 0.5 s.

Knobs (environment):
  BENCH_DURATION    seconds per measurement (default 20)
  BENCH_RUNS        runs of each cached and latency measurement (default 2)
  BENCH_TRANSPORTS  default "udp tcp dot doh"
  BENCH_WORKERS     default "1 2"
  BENCH_PEERS       default "anchord unbound kresd dnsdist"
  BENCH_PARTS       default "cached latency uncached handshakes idle"
  BENCH_IDLE_CONNS  default 10000
  BENCH_KTHREADS    default "move" (above); "stay" leaves kernel threads be
  BENCH_PROFILE     1: before anchord's cached runs, one extra run of each
                    transport (not tabled) under `perf record -g` on the
                    server's pids; perf report by DSO and by symbol,
                    and the write system calls per answer, go to
                    BENCH_RESULTS/<UTC time>-perf-<N>w-<transport>.txt
  BUILD             where anchord and tls_handshakes are (default build)
  BENCH_RESULTS     where the CSV goes (default bench/results)

Prints one table (rows: measurements, columns: the resolvers and the ratio
anchord / best peer; with both worker settings, closing rows of 2w/1w for
cached qps and CPU per answer) and writes one CSV row per (peer, workers, part,
transport, run, value, unit) to BENCH_RESULTS/<UTC time>.csv. Every process
it starts it stops by pid, also on Ctrl-C.
"""
import csv
import datetime
import os
import resource
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
BUILD = os.path.abspath(os.environ.get("BUILD", os.path.join(ROOT, "build")))
RESULTS = os.path.abspath(os.environ.get(
    "BENCH_RESULTS", os.path.join(ROOT, "bench", "results")))
DURATION = float(os.environ.get("BENCH_DURATION", "20"))
RUNS = int(os.environ.get("BENCH_RUNS", "2"))
TRANSPORTS = os.environ.get("BENCH_TRANSPORTS", "udp tcp dot doh").split()
WORKERS = [int(w) for w in os.environ.get("BENCH_WORKERS", "1 2").split()]
PEERS = os.environ.get("BENCH_PEERS",
                       "anchord unbound kresd dnsdist").split()
PARTS = os.environ.get(
    "BENCH_PARTS", "cached latency uncached handshakes idle").split()
IDLE_CONNS = int(os.environ.get("BENCH_IDLE_CONNS", "10000"))
PROFILE = os.environ.get("BENCH_PROFILE", "") == "1"
STAMP = datetime.datetime.now(datetime.timezone.utc).strftime(
    "%Y%m%dT%H%M%SZ")             # names the run's CSV and profiles

ZONE = "bench.test"
NAMES = 10000
ADDRESS = "127.0.0.1"
NSD_PORT = 5300
PORTS = {"udp": 5301, "tcp": 5301, "dot": 5302, "doh": 5303}
BACKEND_PORT = 5310          # dnsdist's Unbound backend
CACHE_MIB = 256
DNSDIST_CACHE_ENTRIES = 1000000
LATENCY_QPS = 10000
HANDSHAKE_THREADS = 4
CONNS_PER_SOURCE = 100
CLIENT_CPU = "1"
DOH_URI = "https://dns.bench.test/dns-query"
KDIG_TRANSPORT = {"udp": [], "tcp": ["+tcp"], "dot": ["+tls"],
                  "doh": ["+https=/dns-query"]}


def log(*args):
    print(*args, file=sys.stderr, flush=True)


# ------------------------------------------------------------ processes
class Processes:
    """Every process started, so that each is stopped by its pid."""

    def __init__(self):
        self.running = []

    def start(self, argv, cpus, logfile):
        out = open(logfile, "ab")
        proc = subprocess.Popen(["taskset", "-c", cpus] + argv, stdout=out,
                                stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL)
        out.close()
        self.running.append(proc)
        return proc

    def stop(self, proc):
        if proc.poll() is None:
            proc.terminate()    # SIGTERM to its pid
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        if proc in self.running:
            self.running.remove(proc)

    def stop_all(self):
        for proc in reversed(list(self.running)):
            self.stop(proc)


def run_client(argv, cpus=CLIENT_CPU, timeout=None):
    """A client to completion; its output. Stopped by pid on timeout.
    The output goes to a file, read once the client is done: reading a
    pipe while it runs (dnsperf -v writes a line per answer) kept this
    script busy for over 10% of a core, and wherever the scheduler put
    it, it delayed the server or the client."""
    with tempfile.TemporaryFile("w+") as out:
        proc = subprocess.Popen(["taskset", "-c", cpus] + argv, stdout=out,
                                stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL)
        try:
            proc.wait(timeout=timeout)
        except BaseException:
            if proc.poll() is None:
                proc.kill()     # by its pid, once it is certain to be ours
            proc.wait()
            raise
        out.seek(0)
        return out.read()


# ------------------------------------------------------------ set-up
def write(path, text):
    with open(path, "w") as f:
        f.write(text)


def a_address(i):
    return f"127.{16 + i // 62500}.{i // 250 % 250}.{i % 250 + 1}"


def make_zone(work):
    lines = [f"$ORIGIN {ZONE}.", "$TTL 3600",
             "@ IN SOA ns hostmaster 1 3600 600 604800 3600",
             "@ IN NS ns", "ns IN A 127.0.0.53",
             "*.wild IN A 127.9.9.9", "*.wild IN AAAA fd00:ab8::9"]
    for i in range(NAMES):
        lines.append(f"www{i} IN A {a_address(i)}")
        lines.append(f"www{i} IN AAAA fd00:ab8::{i:x}")
    for i in range(NAMES // 10):
        lines.append(f"alias{i} IN CNAME www{i}")
    write(os.path.join(work, "zone"), "\n".join(lines) + "\n")
    write(os.path.join(work, "queries.txt"),
          "".join(f"www{i}.{ZONE} A\n" for i in range(NAMES)))


def uncached_queries(work, tag):
    """Names no cache has seen: enough for DURATION at 100k qps."""
    path = os.path.join(work, "uncached.txt")
    count = int(max(DURATION, 1) * 100000)
    write(path, "".join(f"u{i}.{tag}.wild.{ZONE} A\n" for i in range(count)))
    return path


def make_certificate(work):
    key = os.path.join(work, "key.pem")
    cert = os.path.join(work, "cert.pem")
    template = os.path.join(work, "cert.tmpl")
    write(template, "cn = dns.bench.test\ndns_name = dns.bench.test\n"
          "ip_address = 127.0.0.1\nexpiration_days = 30\n"
          "tls_www_server\nsigning_key\n")
    subprocess.run(["certtool", "--generate-privkey", "--key-type=ecdsa",
                    "--curve=secp256r1", "--no-text", "--outfile", key],
                   check=True, capture_output=True)
    subprocess.run(["certtool", "--generate-self-signed", "--load-privkey",
                    key, "--template", template, "--outfile", cert],
                   check=True, capture_output=True)
    return cert, key


def start_nsd(procs, work):
    write(os.path.join(work, "nsd.conf"), f"""server:
  ip-address: {ADDRESS}@{NSD_PORT}
  port: {NSD_PORT}
  database: ""
  zonesdir: "{work}"
  zonelistfile: "{work}/zone.list"
  xfrdfile: "{work}/xfrd.state"
  pidfile: "{work}/nsd.pid"
  logfile: "{work}/nsd.log"
  username: ""
  chroot: ""
  server-count: 1
  verbosity: 0
  # response rate limiting would cap the wildcard (uncached) answers
  rrl-ratelimit: 0
  rrl-whitelist-ratelimit: 0
remote-control:
  control-enable: no
zone:
  name: "{ZONE}."
  zonefile: "zone"
""")
    proc = procs.start(["nsd", "-d", "-c", f"{work}/nsd.conf"], CLIENT_CPU,
                       f"{work}/nsd.out")
    if not wait_answer(NSD_PORT, "udp", 20):
        raise RuntimeError("NSD did not answer; see " + work + "/nsd.log")
    return proc


def answers(port, transport, timeout=2):
    cmd = (["kdig", f"@{ADDRESS}", "-p", str(port), f"www1.{ZONE}", "A",
            "+short", f"+time={timeout}", "+retry=0"]
           + KDIG_TRANSPORT[transport])
    try:
        out = subprocess.run(cmd, capture_output=True, text=True,
                             timeout=timeout + 3).stdout
    except subprocess.TimeoutExpired:
        return False
    return a_address(1) in out


def wait_answer(port, transport, seconds):
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        if answers(port, transport):
            return True
        time.sleep(0.3)
    return False


# ------------------------------------------------------------ resolvers
def tcp_slots(workers):
    """Connections each worker may hold: the idle test's, with room."""
    return 2 * IDLE_CONNS + 1000


UNBOUND_OUTGOING = 4096


def unbound_tcp_slots(threads, interfaces):
    """Unbound refuses to start unless threads * (outgoing-range +
    interfaces * incoming-num-tcp) fits the open files limit, which it
    cannot raise past the hard limit: as many as fit, at most the rest's."""
    nofile = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
    fit = (nofile // threads - UNBOUND_OUTGOING - 100) // interfaces
    return max(100, min(tcp_slots(threads), fit))


def anchord_start(procs, work, workers, cert, key, cpus):
    state = os.path.join(work, f"state-anchord-{workers}")
    slots = tcp_slots(workers)
    conf = os.path.join(work, f"anchord-{workers}.conf")
    write(conf, f"""server:
  name: dns.bench.test
  state-dir: {state}
  workers: {workers}
  tcp-idle-timeout: 600s
listen:
  - {{ address: {ADDRESS}, port: {PORTS['udp']}, kind: dns, max-connections: {slots} }}
  - {{ address: {ADDRESS}, port: {PORTS['dot']}, kind: dot, max-connections: {slots} }}
  - {{ address: {ADDRESS}, port: {PORTS['doh']}, kind: https, max-connections: {slots} }}
tls: {{ certificate: {cert}, key: {key}, client-certificates: none }}
upstream: [ {{ address: {ADDRESS}, port: {NSD_PORT} }} ]
cache: {{ size: {CACHE_MIB}M }}
dnssec: {{ validation: false }}
est: {{ enabled: false }}
enroll: {{ enabled: false }}
log: {{ level: warning }}
""")
    return [procs.start([os.path.join(BUILD, "anchord"), "-c", conf], cpus,
                        f"{work}/anchord-{workers}.log")]


def unbound_conf(work, name, threads, cert, key, ports, upstream_port):
    tls_lines = ""
    if "dot" in ports:
        tickets = os.path.join(work, "unbound-tickets.key")
        if not os.path.exists(tickets):
            with open(tickets, "wb") as f:     # 80 random bytes
                f.write(os.urandom(80))
        tls_lines = f"""  interface: {ADDRESS}@{ports['dot']}
  interface: {ADDRESS}@{ports['doh']}
  tls-port: {ports['dot']}
  https-port: {ports['doh']}
  tls-service-key: "{key}"
  tls-service-pem: "{cert}"
  tls-session-ticket-keys: "{tickets}"
  http-endpoint: "/dns-query"
"""
    conf = os.path.join(work, f"{name}.conf")
    write(conf, f"""server:
  num-threads: {threads}
  so-reuseport: yes
  port: {ports['udp']}
  interface: {ADDRESS}@{ports['udp']}
{tls_lines}  do-ip6: no
  access-control: 127.0.0.0/8 allow
  username: ""
  chroot: ""
  directory: "{work}"
  pidfile: "{work}/{name}.pid"
  use-syslog: no
  logfile: "{work}/{name}.log"
  verbosity: 0
  do-not-query-localhost: no
  module-config: "iterator"
  # test. is one of Unbound's default local zones (RFC 6761)
  local-zone: "test." nodefault
  msg-cache-size: {CACHE_MIB // 2}m
  rrset-cache-size: {CACHE_MIB // 2}m
  incoming-num-tcp: {unbound_tcp_slots(threads, 3 if 'dot' in ports else 1)}
  tcp-idle-timeout: 600000
  num-queries-per-thread: 2048
  outgoing-range: {UNBOUND_OUTGOING}
remote-control:
  control-enable: no
forward-zone:
  name: "."
  forward-addr: {ADDRESS}@{upstream_port}
""")
    return conf


def unbound_start(procs, work, workers, cert, key, cpus):
    conf = unbound_conf(work, f"unbound-{workers}", workers, cert, key,
                        PORTS, NSD_PORT)
    return [procs.start(["unbound", "-d", "-c", conf], cpus,
                        f"{work}/unbound-{workers}.out")]


def kresd_start(procs, work, workers, cert, key, cpus):
    """kresd scales by processes sharing one cache directory."""
    rundir = os.path.join(work, f"kresd-{workers}")
    os.makedirs(rundir, exist_ok=True)
    conf = os.path.join(work, f"kresd-{workers}.conf")
    secret = os.urandom(32).hex()
    write(conf, f"""-- Knot Resolver 5.6, as Unbound and anchord are set up
log_level('warning')
net.ipv6 = false
net.listen('{ADDRESS}', {PORTS['udp']}, {{ kind = 'dns' }})
net.listen('{ADDRESS}', {PORTS['dot']}, {{ kind = 'tls' }})
net.listen('{ADDRESS}', {PORTS['doh']}, {{ kind = 'doh2' }})
net.tls('{cert}', '{key}')
net.tls_sticket_secret('{secret}')
net.tcp_in_idle(600000)
trust_anchors.remove('.')
cache.size = {CACHE_MIB} * MB
policy.add(policy.all(policy.FORWARD('{ADDRESS}@{NSD_PORT}')))
""")
    started = []
    for i in range(workers):
        started.append(procs.start(
            ["kresd", "-n", "-c", conf, rundir], cpus,
            f"{work}/kresd-{workers}-{i}.log"))
    return started


def dnsdist_start(procs, work, workers, cert, key, cpus):
    """dnsdist with its packet cache, in front of an Unbound backend."""
    backend_conf = unbound_conf(work, f"backend-{workers}", 1, cert, key,
                                {"udp": BACKEND_PORT}, NSD_PORT)
    backend = procs.start(["unbound", "-d", "-c", backend_conf], cpus,
                          f"{work}/backend-{workers}.out")
    if not wait_answer(BACKEND_PORT, "udp", 20):
        raise RuntimeError("dnsdist's Unbound backend did not start")
    local = f"{ADDRESS}:{PORTS['udp']}"
    lines = ["setSecurityPollSuffix('')",
             "setACL({'127.0.0.0/8'})",
             f"setLocal('{local}', {{ reusePort = true }})"]
    lines += [f"addLocal('{local}', {{ reusePort = true }})"] * (workers - 1)
    # One DoT front-end: its connections are served by the N TCP worker
    # threads, and one front-end has one set of ticket keys, so every
    # worker resumes every ticket. DoH (h2o) runs in its front-end's
    # thread: N of them.
    lines.append(f"addTLSLocal('{ADDRESS}:{PORTS['dot']}', '{cert}', "
                 f"'{key}')")
    for _ in range(workers):
        lines.append(f"addDOHLocal('{ADDRESS}:{PORTS['doh']}', '{cert}', "
                     f"'{key}', '/dns-query', {{ reusePort = true }})")
    lines += [
        f"newServer({{ address = '{ADDRESS}:{BACKEND_PORT}', "
        f"checkName = 'www1.{ZONE}.' }})",
        f"pc = newPacketCache({DNSDIST_CACHE_ENTRIES}, "
        "{ maxTTL = 86400 })",
        "getPool(''):setCache(pc)",
        f"setMaxTCPClientThreads({workers})",
        "setMaxTCPConnectionsPerClient(0)",
        "setMaxTCPQueuedConnections(100000)",
        "setTCPRecvTimeout(600)",
        "setTCPSendTimeout(600)",
    ]
    conf = os.path.join(work, f"dnsdist-{workers}.conf")
    write(conf, "\n".join(lines) + "\n")
    front = procs.start(["dnsdist", "--supervised", "--disable-syslog",
                         "-C", conf], cpus, f"{work}/dnsdist-{workers}.log")
    # the front first: its RSS is what the idle test reads
    return [front, backend]


STARTERS = {"anchord": anchord_start, "unbound": unbound_start,
            "kresd": kresd_start, "dnsdist": dnsdist_start}
SETTINGS = {
    "anchord": "workers: N, cache 256M, tcp-idle-timeout 600s, "
               "max-connections 2*IDLE+1000 per listener and worker",
    "unbound": "num-threads: N, msg+rrset cache 128m+128m, incoming-num-tcp "
               "2*IDLE+1000 or as many as the open files limit lets it "
               "have (see notes), tcp-idle-timeout 600 s, ticket key file",
    "kresd": "N kresd processes on one cache dir, cache.size 256 MB, "
             "tcp_in_idle 600 s, shared ticket secret",
    "dnsdist": f"N UDP and DoH listeners (reusePort), one DoT listener "
               "served by N TCP threads, "
               f"packet cache {DNSDIST_CACHE_ENTRIES} entries, TCP recv "
               "timeout 600 s, no per-client limit; backend Unbound "
               "(1 thread, 128m+128m)",
}


# ------------------------------------------------------------ measurements
def dnsperf_argv(transport, port, datafile, extra):
    argv = ["dnsperf", "-m", transport, "-s", ADDRESS, "-p", str(port),
            "-d", datafile] + extra
    if transport == "doh":
        argv += ["-O", f"doh-uri={DOH_URI}"]
    return argv


def dnsperf_stats(out):
    stats = {}
    for line in out.splitlines():
        line = line.strip()
        if line.startswith("Queries per second:"):
            stats["qps"] = float(line.split()[3])
        elif line.startswith("Queries sent:"):
            stats["sent"] = int(line.split()[2])
        elif line.startswith("Queries lost:"):
            stats["lost"] = int(line.split()[2])
    if "qps" not in stats:
        raise RuntimeError("dnsperf gave no figure:\n" + out[-2000:])
    return stats


def warm(work):
    run_client(dnsperf_argv("udp", PORTS["udp"], f"{work}/queries.txt",
                            ["-n", "1", "-c", "20", "-q", "200"]),
               timeout=120)


def proc_stat(pid):
    """/proc/PID/stat as (name, the fields after it, from state on); the
    name may hold spaces and parentheses, so it is cut at the last ')'."""
    with open(f"/proc/{pid}/stat") as f:
        head, rest = f.read().rsplit(")", 1)
    return head.split("(", 1)[1], rest.split()


def cpu_seconds(pids):
    """User and system CPU time so far, summed over pids and all their
    threads (utime and stime of /proc/PID/stat)."""
    ticks = 0
    for pid in pids:
        fields = proc_stat(pid)[1]
        ticks += int(fields[11]) + int(fields[12])
    return ticks / os.sysconf("SC_CLK_TCK")


def measure_cached(work, transport, pids):
    """dnsperf's figures, plus the server's CPU time per answer: that a
    2-worker server spends no more of it per answer than 1 worker is what
    this 2-core machine can show of scaling (its second core is the
    client's)."""
    warm(work)
    cpu_before = cpu_seconds(pids)
    out = run_client(dnsperf_argv(
        transport, PORTS[transport], f"{work}/queries.txt",
        ["-c", "100", "-q", "1000", "-l", f"{DURATION:g}"]),
        timeout=DURATION + 60)
    cpu = cpu_seconds(pids) - cpu_before
    stats = dnsperf_stats(out)
    answered = stats.get("sent", 0) - stats.get("lost", 0)
    stats["cpu_us"] = cpu * 1e6 / answered if answered > 0 else 0.0
    stats["busy"] = cpu / DURATION      # CPUs' worth the server used
    return stats


def proc_field_sum(pids, name, field):
    """A numeric field of /proc/PID/<name>, summed over pids."""
    total = 0
    for pid in pids:
        with open(f"/proc/{pid}/{name}") as f:
            for line in f:
                if line.startswith(field + ":"):
                    total += int(line.split()[1])
    return total


def syscalls_written(pids):
    """write/writev/sendmsg calls so far (syscw of /proc/PID/io)."""
    return proc_field_sum(pids, "io", "syscw")


def profile_cached(work, transport, pids, tag):
    """One cached run under perf (CPU time by function, with callers);
    the report's top goes next to the CSV. The run's rate is not tabled:
    sampling costs the server some of it."""
    data = f"{work}/perf-{tag}-{transport}.data"
    perf = subprocess.Popen(
        ["taskset", "-c", CLIENT_CPU, "perf", "record", "-q", "-g",
         "-o", data, "-p", ",".join(map(str, pids)), "--", "sleep",
         f"{max(DURATION - 2, 1):g}"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    writes = syscalls_written(pids)
    try:
        stats = measure_cached(work, transport)
    finally:
        perf.wait()
    writes = syscalls_written(pids) - writes
    answers = max(stats.get("sent", 0) - stats.get("lost", 0), 1)
    report = ""
    for sort, limit in (("dso", "0.5"), ("dso,symbol", "0.7")):
        report += subprocess.run(
            ["perf", "report", "-i", data, "--stdio", "--no-children",
             "--percent-limit", limit, "--sort", sort, "-g", "none"],
            capture_output=True, text=True).stdout
    os.makedirs(RESULTS, exist_ok=True)
    path = f"{RESULTS}/{STAMP}-perf-{tag}-{transport}.txt"
    write(path, f"# {tag} cached {transport} under perf: "
          f"{stats['qps']:.0f} qps, {writes / answers:.2f} write system "
          "calls per answer (warming included)\n" + report)
    log(f"  profile {tag} {transport}: {path}")


def percentile(sorted_values, fraction):
    index = min(len(sorted_values) - 1,
                max(0, int(round(fraction * len(sorted_values))) - 1))
    return sorted_values[index]


def measure_latency(work, transport):
    warm(work)
    out = run_client(dnsperf_argv(
        transport, PORTS[transport], f"{work}/queries.txt",
        ["-c", "100", "-q", "1000", "-Q", str(LATENCY_QPS), "-l",
         f"{DURATION:g}", "-v"]), timeout=DURATION + 60)
    latencies = []
    for line in out.splitlines():
        fields = line.split()
        if len(fields) == 5 and fields[0] == ">" and fields[1] != "T":
            latencies.append(float(fields[4]) * 1000)
    stats = dnsperf_stats(out)
    if not latencies:           # nothing answered: served() says n/a
        stats.update(p50=0.0, p99=0.0, p99_all=0.0,
                     lost=max(stats.get("sent", 0), 1))
        return stats
    # dnsperf prints answers as they come: the first second's are those
    # that waited for the connections to open (a short run keeps them)
    skip = LATENCY_QPS if len(latencies) > 2 * LATENCY_QPS else 0
    steady = sorted(latencies[skip:])
    latencies.sort()
    stats["p50"] = percentile(steady, 0.50)
    stats["p99"] = percentile(steady, 0.99)
    stats["p99_all"] = percentile(latencies, 0.99)
    return stats


def measure_uncached(work, tag):
    datafile = uncached_queries(work, tag)
    out = run_client(dnsperf_argv(
        "udp", PORTS["udp"], datafile,
        ["-n", "1", "-c", "100", "-q", "1000", "-l", f"{DURATION:g}"]),
        timeout=DURATION + 60)
    return dnsperf_stats(out)


def measure_handshakes(mode):
    out = run_client([os.path.join(BUILD, "tls_handshakes"), ADDRESS,
                      str(PORTS["dot"]), f"{DURATION:g}",
                      str(HANDSHAKE_THREADS), mode], timeout=DURATION + 60)
    fields = dict(item.split("=") for item in out.split()
                  if "=" in item and item.count("=") == 1)
    if "per_second" not in fields:
        raise RuntimeError("tls_handshakes: " + out[-500:])
    return {k: float(v) for k, v in fields.items()}


def rss_kib(pids):
    return proc_field_sum(pids, "status", "VmRSS")


DOT_QUERY = bytes.fromhex("0021" "1234" "0100" "0001" "0000" "0000" "0000"
                          "0477777731" "056265" "6e6368" "0474657374" "00"
                          "0001" "0001")


def idle_connection(context, i):
    k = i // CONNS_PER_SOURCE
    source = f"127.1.{k // 250}.{k % 250 + 1}"
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.settimeout(10)
    sock.bind((source, 0))
    sock.connect((ADDRESS, PORTS["dot"]))
    return context.wrap_socket(sock, server_hostname="dns.bench.test")


def still_open(conn):
    try:
        conn.sendall(DOT_QUERY)
        return len(conn.recv(4096)) > 2
    except OSError:
        return False


def measure_idle(pids):
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    time.sleep(1)
    before = rss_kib(pids)
    conns, failed = [], 0
    try:
        for i in range(IDLE_CONNS):
            try:
                conns.append(idle_connection(context, i))
            except OSError:
                failed += 1
        time.sleep(2)
        during = rss_kib(pids)
        alive = sum(1 for c in conns if still_open(c))
    finally:
        for c in conns:
            c.close()
    opened = len(conns)
    return {"before_kib": before, "during_kib": during, "opened": opened,
            "failed": failed, "alive": alive,
            "kib_per_conn": (during - before) / opened if opened else 0.0}


# ------------------------------------------------------------ the run
class Results:
    def __init__(self):
        self.rows = []

    def add(self, peer, workers, part, transport, run, value, unit):
        self.rows.append((peer, workers, part, transport, run,
                          round(value, 4), unit))
        log(f"  {peer} {workers}w {part} {transport} run {run}: "
            f"{value:.2f} {unit}")

    def write_csv(self):
        os.makedirs(RESULTS, exist_ok=True)
        path = os.path.join(RESULTS, STAMP + ".csv")
        with open(path, "w", newline="") as f:
            out = csv.writer(f)
            out.writerow(["peer", "workers", "part", "transport", "run",
                          "value", "unit"])
            out.writerows(self.rows)
        return path


def available_transports(peer, transports):
    """Transports the started resolver answers on; the others are n/a."""
    usable, missing = [], []
    for t in transports:
        if wait_answer(PORTS[t], t, 10):
            usable.append(t)
        else:
            missing.append(t)
    return usable, missing


KEEP_LOGS = " (see the logs)"


def bench_peer(procs, work, results, notes, peer, workers, cert, key):
    cpus = "0" if workers == 1 else "0-1"
    log(f"== {peer}, {workers} worker(s), CPUs {cpus}")
    started = STARTERS[peer](procs, work, workers, cert, key, cpus)
    if peer == "unbound" and unbound_tcp_slots(workers, 3) < \
            tcp_slots(workers):
        notes.append(f"unbound {workers}w: incoming-num-tcp "
                     f"{unbound_tcp_slots(workers, 3)} per interface and "
                     "thread, all the open files limit "
                     f"{resource.getrlimit(resource.RLIMIT_NOFILE)[0]} "
                     "allows; it shortens idle timeouts when over half "
                     "are in use")
    try:
        if not wait_answer(PORTS["udp"], "udp", 30):
            notes.append(f"{peer} {workers}w did not answer over UDP: "
                         f"skipped" + KEEP_LOGS)
            return
        wanted = list(TRANSPORTS)
        if "handshakes" in PARTS or "idle" in PARTS:
            wanted += [] if "dot" in wanted else ["dot"]
        usable, missing = available_transports(peer, wanted)
        for t in missing:
            notes.append(f"{peer} {workers}w: no answer over {t} (kdig "
                         f"{' '.join(KDIG_TRANSPORT[t])}): n/a")
        run_parts(work, results, notes, peer, workers, usable, started)
    finally:
        for proc in started:
            procs.stop(proc)


def served(notes, what, stats):
    """False when most queries went unanswered: the figure would measure
    the failure, so the table shows n/a. Up to 1,000 (dnsperf -q) may be
    in flight when the time limit ends the run and count as lost."""
    lost, sent = stats.get("lost", 0), stats.get("sent", 0)
    if lost > sent / 2:
        notes.append(f"{what}: {lost} of {sent} queries lost: did not "
                     "serve, n/a (the figure is in the CSV as *-failed)")
        return False
    if lost > 1000:
        notes.append(f"{what}: {lost} of {sent} queries lost")
    return True


def measure_latency_run(work, results, notes, peer, workers, transport,
                        run):
    s = measure_latency(work, transport)
    ok = served(notes, f"{peer} {workers}w latency {transport} run {run} "
                "(lost queries are not in the percentiles)", s)
    suffix = "" if ok else "-failed"
    for part, key, unit in (("latency-p50", "p50", "ms"),
                            ("latency-p99", "p99", "ms"),
                            ("latency-p99-all", "p99_all", "ms"),
                            ("latency-qps", "qps", "qps")):
        results.add(peer, workers, part + suffix, transport, run, s[key],
                    unit)


def run_parts(work, results, notes, peer, workers, usable, started):
    transports = [t for t in TRANSPORTS if t in usable]
    if "cached" in PARTS:
        for t in transports:
            if PROFILE and peer == "anchord":
                profile_cached(work, t, [p.pid for p in started],
                               f"{workers}w")
            for run in range(1, RUNS + 1):
                s = measure_cached(work, t, [p.pid for p in started])
                ok = served(notes, f"{peer} {workers}w cached {t} run {run}",
                            s)
                suffix = "" if ok else "-failed"
                results.add(peer, workers, "cached" + suffix, t, run,
                            s["qps"], "qps")
                results.add(peer, workers, "cached-cpu-us" + suffix, t, run,
                            s["cpu_us"], "us")
                if ok and workers == 1 and s["busy"] < 0.9:
                    notes.append(f"{peer} 1w cached {t} run {run}: the "
                                 f"server was {s['busy']:.0%} busy: the "
                                 "client set the rate")
    if "latency" in PARTS:
        for t in transports:
            for run in range(1, RUNS + 1):
                measure_latency_run(work, results, notes, peer, workers, t,
                                    run)
    if "uncached" in PARTS:
        s = measure_uncached(work, f"{peer}{workers}")
        ok = served(notes, f"{peer} {workers}w uncached", s)
        results.add(peer, workers, "uncached" if ok else "uncached-failed",
                    "udp", 1, s["qps"], "qps")
    if "dot" not in usable:
        return
    if "handshakes" in PARTS:
        for mode in ("full", "resumed"):
            s = measure_handshakes(mode)
            results.add(peer, workers, f"handshakes-{mode}", "dot", 1,
                        s["per_second"], "per_s")
            if mode == "resumed":
                results.add(peer, workers, "handshakes-resumed-fraction",
                            "dot", 1, s["resumed"], "fraction")
            if s.get("failures"):
                notes.append(f"{peer} {workers}w handshakes {mode}: "
                             f"{int(s['failures'])} failed")
    if "idle" in PARTS:
        s = measure_idle([p.pid for p in started[:1 if peer == "dnsdist"
                                                 else len(started)]])
        results.add(peer, workers, "idle-kib-per-conn", "dot", 1,
                    s["kib_per_conn"], "KiB")
        results.add(peer, workers, "idle-rss-before", "dot", 1,
                    s["before_kib"], "KiB")
        results.add(peer, workers, "idle-alive", "dot", 1, s["alive"],
                    "conns")
        if s["failed"] or s["alive"] < IDLE_CONNS:
            notes.append(f"{peer} {workers}w idle: {s['opened']} of "
                         f"{IDLE_CONNS} opened, {s['alive']} still "
                         "answering at the end")


# ------------------------------------------------------------ the table
LOWER_IS_BETTER = ("latency-p50", "latency-p99", "idle-kib-per-conn",
                   "cached-cpu-us")
ROW_PARTS = [("cached", "qps"), ("cached-cpu-us", "CPU us/answer"),
             ("latency-p50", "p50 ms"),
             ("latency-p99", "p99 ms"), ("uncached", "uncached qps"),
             ("handshakes-full", "full TLS hs/s"),
             ("handshakes-resumed", "resumed TLS hs/s"),
             ("handshakes-resumed-fraction", "resumed fraction"),
             ("idle-kib-per-conn", "KiB/idle conn")]


def best_value(rows, part):
    values = [r[5] for r in rows]
    if not values:
        return None
    return min(values) if part in LOWER_IS_BETTER else max(values)


def fmt(value):
    if value is None:
        return "n/a"
    if abs(value) >= 1000:
        return f"{value / 1000:.1f}k"
    return f"{value:.3g}" if abs(value) < 10 else f"{value:.1f}"


def tabled_value(results, peer, workers, part, transport):
    rows = [r for r in results.rows if r[0] == peer and r[1] == workers
            and r[2] == part and r[3] == transport]
    return best_value(rows, part)


def table_line(name, cells, part):
    """One row: the peers' values and anchord / the best of the others."""
    others = [v for p, v in cells.items() if p != "anchord" and v is not None]
    ratio = ""
    if cells.get("anchord") is not None and others and \
            part != "handshakes-resumed-fraction":
        best = min(others) if part in LOWER_IS_BETTER else max(others)
        ratio = f"{cells['anchord'] / best:.2f}" if best else ""
    return [name] + [fmt(cells[p]) for p in PEERS] + [ratio]


def scaling_lines(results):
    """2 workers / 1 worker, per resolver: cached qps, and CPU time per
    answer (1.0: the second worker costs nothing per answer)."""
    lines = []
    for part, label in (("cached", "qps"),
                        ("cached-cpu-us", "CPU us/answer")):
        for t in TRANSPORTS:
            cells = {}
            for p in PEERS:
                one = tabled_value(results, p, 1, part, t)
                two = tabled_value(results, p, 2, part, t)
                cells[p] = two / one if one and two is not None else None
            if any(v is not None for v in cells.values()):
                lines.append(table_line(f"{t.upper()} {label} 2w/1w",
                                        cells, part))
    return lines


def table(results, nsd_qps):
    header = ["measurement"] + PEERS + ["anchord/best peer"]
    lines = []
    if nsd_qps is not None:
        lines.append(["NSD UDP qps (reference)"] + [fmt(nsd_qps)] +
                     [""] * (len(PEERS)))
    for workers in WORKERS:
        for part, label in ROW_PARTS:
            transports = ["udp"] if part == "uncached" else (
                ["dot"] if part.startswith(("handshakes", "idle"))
                else TRANSPORTS)
            for t in transports:
                cells = {p: tabled_value(results, p, workers, part, t)
                         for p in PEERS}
                if any(v is not None for v in cells.values()):
                    lines.append(table_line(f"{t.upper()} {label} "
                                            f"{workers}w", cells, part))
    if 1 in WORKERS and 2 in WORKERS:
        lines += scaling_lines(results)
    widths = [max(len(str(row[i])) for row in [header] + lines)
              for i in range(len(header))]
    out = []
    for row in [header] + lines:
        out.append("  ".join(str(c).rjust(w) if i else str(c).ljust(w)
                             for i, (c, w) in enumerate(zip(row, widths))))
    return "\n".join(out)


def raise_file_limit():
    """As high as allowed; the resolvers inherit it."""
    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    for limit in (1048576, 262144, 65536, hard):
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (limit, limit))
            return limit
        except (ValueError, OSError):
            continue
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def check_setting():
    if os.geteuid() != 0:
        sys.exit("bench.py: run as root inside `unshare --net` (make bench)")
    subprocess.run(["ip", "link", "set", "lo", "up"], check=True)
    out = subprocess.run(["ip", "-o", "link"], capture_output=True,
                         text=True).stdout
    if any(not line.split(": ")[1].startswith("lo")
           for line in out.strip().splitlines()):
        sys.exit("bench.py: this namespace has more than loopback; "
                 "run it under `unshare --net`")
    for tool in ("nsd", "dnsperf", "kdig", "certtool", "taskset"):
        if not shutil.which(tool):
            sys.exit(f"bench.py: {tool} is missing")
    for program in ("anchord", "tls_handshakes"):
        if not os.access(os.path.join(BUILD, program), os.X_OK):
            sys.exit(f"bench.py: {BUILD}/{program} is missing (make bench)")


PF_KTHREAD = 0x00200000      # the flags field of /proc/PID/stat


def kernel_thread_name(pid):
    """The name of a kernel thread, or None for anything else."""
    try:
        name, fields = proc_stat(pid)
    except OSError:
        return None
    return name if int(fields[6]) & PF_KTHREAD else None


def confine_kernel_threads():
    """Kernel threads that may run on any CPU are kept on the client's
    for the run. A perf sched trace of a 10,000 qps latency run showed
    kdamond.0 (the kernel's memory-access monitor) taking the server's
    CPU for 1 ms every 0.5 s, whatever the resolver: each time, the
    server waited that long to run (p999 1.5-2.1 ms in 22 runs; with it
    moved, 1.3-1.5 in 7 of 8). Per-CPU threads (ksoftirqd/0, kworker/0:*)
    cannot move and are left. Returns what restore_kernel_threads puts
    back."""
    moved = {}
    if os.environ.get("BENCH_KTHREADS", "move") != "move":
        return moved
    for entry in os.listdir("/proc"):
        name = kernel_thread_name(entry) if entry.isdigit() else None
        if name is None or name == "kthreadd":
            continue            # kthreadd: new threads copy its CPUs
        pid = int(entry)
        try:
            mask = os.sched_getaffinity(pid)
            if len(mask) > 1 and 0 in mask:
                os.sched_setaffinity(pid, {int(CLIENT_CPU)})
                moved[pid] = (name, mask)
        except OSError:
            continue            # bound to its CPUs (workqueue threads)
    return moved


def restore_kernel_threads(moved):
    for pid, (name, mask) in moved.items():
        if kernel_thread_name(pid) != name:
            continue            # gone; the pid may be another's now
        try:
            os.sched_setaffinity(pid, mask)
        except OSError:
            pass


def stop_on_sigterm(signum, frame):
    raise KeyboardInterrupt


def main():
    check_setting()
    # This script is a client too (it waits on dnsperf, parses its -v
    # output, holds the idle connections): it stays off the server's CPU.
    os.sched_setaffinity(0, {int(CLIENT_CPU)})
    nofile = raise_file_limit()
    # Ctrl-C and kill stop the run and every process it started; SIGINT
    # explicitly, since a shell's background job inherits it ignored.
    signal.signal(signal.SIGTERM, stop_on_sigterm)
    signal.signal(signal.SIGINT, stop_on_sigterm)
    work = tempfile.mkdtemp(prefix="anchord-bench-")
    procs = Processes()
    results = Results()
    notes = [f"open files limit {nofile}; idle test: {IDLE_CONNS} DoT "
             f"connections, {CONNS_PER_SOURCE} per source address"]
    nsd_qps = None
    moved = confine_kernel_threads()
    if moved:
        notes.append(f"kernel threads kept on CPU {CLIENT_CPU} during "
                     "the run (BENCH_KTHREADS=stay leaves them): " +
                     " ".join(sorted({n for n, _ in moved.values()})))
    log(f"bench: work directory {work}; duration {DURATION:g} s, "
        f"{RUNS} run(s), transports {' '.join(TRANSPORTS)}, workers "
        f"{' '.join(map(str, WORKERS))}")
    try:
        make_zone(work)
        cert, key = make_certificate(work)
        start_nsd(procs, work)
        out = run_client(dnsperf_argv(
            "udp", NSD_PORT, f"{work}/queries.txt",
            ["-c", "100", "-q", "1000", "-l", f"{DURATION:g}"]), cpus="0",
            timeout=DURATION + 60)
        nsd_qps = dnsperf_stats(out)["qps"]
        results.add("nsd", 1, "cached", "udp", 1, nsd_qps, "qps")
        for workers in WORKERS:
            for peer in PEERS:
                try:
                    bench_peer(procs, work, results, notes, peer, workers,
                               cert, key)
                except (RuntimeError, subprocess.TimeoutExpired) as e:
                    notes.append(f"{peer} {workers}w failed: {e}" +
                                 KEEP_LOGS)
    except KeyboardInterrupt:
        notes.append("interrupted")
    finally:
        procs.stop_all()
        restore_kernel_threads(moved)
    path = results.write_csv()
    print(table(results, nsd_qps))
    print()
    print("ratios: anchord / the best peer; above 1 is better for qps and "
          "handshakes, below 1 for latency, CPU per answer and KiB per "
          "connection.")
    print("2 workers: the server has CPUs 0-1 and shares CPU 1 with the "
          "client, which may be the limit.")
    print("settings: " + "; ".join(f"{p}: {SETTINGS[p]}" for p in PEERS))
    for note in notes:
        print("note: " + note)
    print(f"CSV: {path}")
    if any(n.endswith(KEEP_LOGS) for n in notes) or "interrupted" in notes:
        print(f"logs kept in {work}")
    else:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
