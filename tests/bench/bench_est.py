#!/usr/bin/python3
"""EST enrollments per second: simpleenroll of an ECDSA P-256 request,
each with its own one-time bearer token, over HTTP/2 on kept-alive TLS
connections.

anchord runs pinned to core 0 with one worker; the clients (processes of
python3-h2, each multiplexing streams over its connections) run on the
other cores. Every enrollment is the whole path: base64 and CSR checks,
token lookup, issuing, and the one store transaction that uses up the
token and records the certificate and its audit entry (SQLite, WAL).

The figure is enrollments completed per wall-clock second; the server's
CPU time per enrollment is printed too, so a client-bound run shows as
such.

    make bench-est [EST_BENCH_ARGS="--enrollments 20000 --all-cores"]
"""
import argparse
import base64
import multiprocessing
import os
import re
import selectors
import resource
import shutil
import socket
import ssl
import subprocess
import sys
import tempfile
import time

import h2.config
import h2.connection
import h2.events

HERE = os.path.dirname(os.path.abspath(__file__))
BUILD = os.environ.get("BUILD", os.path.join(HERE, "..", "..", "build"))
ANCHORD = os.path.join(BUILD, "anchord")
ANCHORCTL = os.path.join(BUILD, "anchorctl")
PATH = "/.well-known/est/simpleenroll"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def make_csr(workdir):
    key = os.path.join(workdir, "bench.key")
    der = subprocess.run(
        ["openssl", "req", "-new", "-newkey", "ec", "-pkeyopt",
         "ec_paramgen_curve:P-256", "-nodes", "-keyout", key, "-subj",
         "/CN=bench-device", "-outform", "DER"],
        capture_output=True, check=True).stdout
    return base64.encodebytes(der)


def client(port, ca, csr, tokens, streams, out):
    """One connection; up to `streams` enrollments in flight."""
    ctx = ssl.create_default_context(cafile=ca)
    ctx.check_hostname = False
    ctx.set_alpn_protocols(["h2"])
    sock = ctx.wrap_socket(socket.create_connection(("127.0.0.1", port)))
    conn = h2.connection.H2Connection(h2.config.H2Configuration(
        client_side=True, header_encoding="utf-8"))
    conn.initiate_connection()
    sock.sendall(conn.data_to_send())
    pending = list(tokens)
    inflight, codes = {}, {}

    def submit():
        while pending and len(inflight) < streams:
            token = pending.pop()
            sid = conn.get_next_available_stream_id()
            conn.send_headers(sid, [
                (":method", "POST"), (":scheme", "https"),
                (":authority", "127.0.0.1"), (":path", PATH),
                ("content-type", "application/pkcs10"),
                ("authorization", "Bearer " + token),
                ("content-length", str(len(csr)))])
            conn.send_data(sid, csr, end_stream=True)
            inflight[sid] = None
        sock.sendall(conn.data_to_send())

    submit()
    while inflight:
        data = sock.recv(1 << 16)
        if not data:
            break
        for ev in conn.receive_data(data):
            if isinstance(ev, h2.events.ResponseReceived):
                inflight[ev.stream_id] = dict(ev.headers)[":status"]
            elif isinstance(ev, h2.events.DataReceived):
                conn.acknowledge_received_data(ev.flow_controlled_length,
                                               ev.stream_id)
            elif isinstance(ev, h2.events.StreamEnded):
                code = inflight.pop(ev.stream_id)
                codes[code] = codes.get(code, 0) + 1
        submit()
    sock.close()
    out.put(codes)


def http1_client(port, ca, csr, tokens, connections, out):
    """HTTP/1.1 as EST clients speak it: one request at a time on each of
    `connections` kept-alive connections, driven from one selector so the
    client spends little CPU per request."""
    ctx = ssl.create_default_context(cafile=ca)
    ctx.check_hostname = False
    ctx.set_alpn_protocols(["http/1.1"])
    sel = selectors.DefaultSelector()
    share = [tokens[i::connections] for i in range(connections)]
    codes = {}
    for mine in share:
        sock = ctx.wrap_socket(socket.create_connection(("127.0.0.1", port)))
        sock.setblocking(False)
        reqs = [(f"POST {PATH} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                 "Content-Type: application/pkcs10\r\n"
                 f"Authorization: Bearer {t}\r\n"
                 f"Content-Length: {len(csr)}\r\n\r\n").encode() + csr
                for t in mine]
        state = {"sock": sock, "reqs": reqs, "buf": b""}
        if reqs:
            sock.sendall(reqs.pop())    # small: fits the socket buffer
            sel.register(sock, selectors.EVENT_READ, state)
    while sel.get_map():
        for key, _ in sel.select():
            st = key.data
            try:
                st["buf"] += st["sock"].recv(1 << 16)
            except ssl.SSLWantReadError:
                continue
            buf = st["buf"]
            end = buf.find(b"\r\n\r\n")
            if end < 0:
                continue
            head = buf[:end].decode()
            length = int(re.search(r"(?i)content-length: *(\d+)",
                                   head).group(1))
            if len(buf) < end + 4 + length:
                continue
            st["buf"] = buf[end + 4 + length:]
            code = head.split()[1]
            codes[code] = codes.get(code, 0) + 1
            if st["reqs"]:
                st["sock"].setblocking(True)
                st["sock"].sendall(st["reqs"].pop())
                st["sock"].setblocking(False)
            else:
                sel.unregister(st["sock"])
                st["sock"].close()
    out.put(codes)


def run_clients(port, ca, csr, tokens, connections, streams, http2):
    if not http2:
        out = multiprocessing.Queue()
        start = time.monotonic()
        p = multiprocessing.Process(target=http1_client, args=(
            port, ca, csr, tokens, connections * streams, out))
        p.start()
        codes = out.get()
        elapsed = time.monotonic() - start
        p.join()
        return codes, elapsed
    out = multiprocessing.Queue()
    share = [tokens[i::connections] for i in range(connections)]
    procs = [multiprocessing.Process(target=client, args=(
        port, ca, csr, share[i], streams, out)) for i in range(connections)]
    start = time.monotonic()
    for p in procs:
        p.start()
    codes = {}
    for _ in procs:
        for k, v in out.get().items():
            codes[k] = codes.get(k, 0) + v
    elapsed = time.monotonic() - start
    for p in procs:
        p.join()
    return codes, elapsed


def start_anchord(workdir, port, pin):
    conf = os.path.join(workdir, "anchord.conf")
    with open(conf, "w") as f:
        f.write(f"""server: {{ name: dns.bench.test, state-dir: {workdir}/state }}
listen: [ {{ address: 127.0.0.1, port: {port}, kind: https }} ]
upstream: [ {{ address: 127.0.0.1, port: 9 }} ]
log: {{ level: info }}
""")
    log = open(os.path.join(workdir, "anchord.log"), "wb")
    cmd = (["taskset", "-c", "0"] if pin else []) + [ANCHORD, "-c", conf]
    proc = subprocess.Popen(cmd,
                            stdout=log, stderr=subprocess.STDOUT)
    for _ in range(100):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return proc, conf
        except OSError:
            time.sleep(0.05)
    proc.kill()
    sys.exit("anchord did not start")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--enrollments", type=int, default=20000)
    ap.add_argument("--connections", type=int, default=4)
    ap.add_argument("--streams", type=int, default=32)
    ap.add_argument("--http2", action="store_true",
                    help="HTTP/2 streams (python3-h2, a costlier client) "
                    "instead of HTTP/1.1 connections")
    ap.add_argument("--all-cores", action="store_true",
                    help="let anchord (its loop and the thread pool that "
                    "checks and signs) use every core, the clients too")
    ap.add_argument("--keep", action="store_true",
                    help="keep the state directory and anchord's log")
    args = ap.parse_args()
    if not args.all_cores:
        # the clients run on every core but anchord's
        os.sched_setaffinity(0, set(range(1, os.cpu_count() or 2)) or {0})
    workdir = tempfile.mkdtemp(prefix="anchord-bench-est-")
    port = free_port()
    proc, conf = start_anchord(workdir, port, not args.all_cores)
    try:
        tokens = subprocess.run(
            [ANCHORCTL, "-c", conf, "token", "new", "--ttl", "1h",
             "--count", str(args.enrollments)], capture_output=True,
            text=True, check=True).stdout.split()
        csr = make_csr(workdir)
        ca = os.path.join(workdir, "state", "ca.pem")
        cpu0 = cpu_seconds(proc.pid)
        ru0 = resource.getrusage(resource.RUSAGE_CHILDREN)
        codes, elapsed = run_clients(port, ca, csr, tokens,
                                     args.connections, args.streams,
                                     args.http2)
        cpu = cpu_seconds(proc.pid) - cpu0
        ru1 = resource.getrusage(resource.RUSAGE_CHILDREN)
        client_cpu = (ru1.ru_utime + ru1.ru_stime) - (ru0.ru_utime +
                                                      ru0.ru_stime)
        ok = codes.get("200", 0)
        listed = subprocess.run([ANCHORCTL, "-c", conf, "cert", "list"],
                                capture_output=True, text=True,
                                check=True).stdout.count("\n")
        where = ("every core, shared with the clients" if args.all_cores
                 else "one core")
        how = (f"HTTP/2, {args.connections} connections x {args.streams} "
               "streams" if args.http2 else
               f"HTTP/1.1, {args.connections * args.streams} connections")
        print(f"simpleenroll, ECDSA P-256, {how}, one worker, {where}")
        print(f"  answers: {codes}; certificates in the store: {listed}")
        print(f"  {ok} enrollments in {elapsed:.2f} s: "
              f"{ok / elapsed:.0f} enrollments/s")
        print(f"  anchord CPU: {cpu:.2f} s, {1e6 * cpu / max(ok, 1):.0f} us "
              f"per enrollment ({ok / max(cpu, 1e-9):.0f}/s of CPU)")
        print(f"  clients' CPU: {client_cpu:.2f} s, "
              f"{1e6 * client_cpu / max(ok, 1):.0f} us per enrollment")
        if ok != args.enrollments or listed != ok:
            sys.exit("not every enrollment succeeded and was recorded")
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        if args.keep:
            print("  kept", workdir)
        else:
            shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
