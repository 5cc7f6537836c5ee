"""A minimal MASA (RFC 8995 §5.5) for the BRSKI integration tests.

    masa = Masa(pki).start()        # HTTPS on 127.0.0.1, ephemeral port
    masa.url                        # "https://127.0.0.1:PORT"
    masa.misbehave = "wrong-masa"   # or "other-domain", "refuse", None
    masa.delay = 2.0                # seconds before answering
    masa.requests                   # every request received, in order
    masa.stop()

POST /.well-known/brski/requestvoucher with application/voucher-cms+json:

1. The registrar's CMS must verify (openssl cms -verify) with the chain it
   carries up to the self-signed root in its certificate set, and the
   signer must have the EKU id-kp-cmcRA. Any such registrar is accepted:
   this MASA has no sales-channel integration to know the owner, which is
   what RFC 8995 §5.5.4 allows; what protects the pledge is that the
   voucher pins the registrar's own domain CA.
2. Its JSON must be an "ietf-voucher-request:voucher" whose
   prior-signed-voucher-request verifies against the manufacturer CA (the
   pledge's IDevID signed it), and both requests must name the IDevID's
   subject serialNumber as serial-number.
3. The answer is 200 with a voucher {created-on, expires-on (when the
   request has no nonce), assertion "logged", serial-number,
   idevid-issuer (the IDevID's AKI), nonce (the pledge's), pinned-domain-
   cert (the root of the registrar's chain)}, signed by the MASA key with
   eContentType id-ct-animaJSONVoucher.

Bad input gets 400 with a text reason; "refuse" gets 403 with a reason.
Only the openssl command and the Python standard library are used.
"""
import base64
import datetime
import http.server
import json
import os
import re
import ssl
import subprocess
import tempfile
import threading
import time

VOUCHER_OID = "1.2.840.113549.1.9.16.1.40"
MEDIA_TYPE = "application/voucher-cms+json"
PATH = "/.well-known/brski/requestvoucher"
REQUEST_KEY = "ietf-voucher-request:voucher"
VOUCHER_KEY = "ietf-voucher:voucher"


class Refused(Exception):
    def __init__(self, status, reason):
        super().__init__(reason)
        self.status = status
        self.reason = reason


def openssl(*args, data=None):
    """Runs openssl; returns stdout, raises Refused(400) on failure."""
    r = subprocess.run(("openssl",) + args, input=data,
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    if r.returncode != 0:
        err = r.stderr.decode(errors="replace").strip().splitlines()
        raise Refused(400, "openssl %s: %s" % (args[0], err[:1]))
    return r.stdout


def now_rfc3339(offset=0):
    t = datetime.datetime.now(datetime.timezone.utc) + \
        datetime.timedelta(seconds=offset)
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


def cms_sign(json_bytes, cert, key, certfile=None):
    """A voucher CMS (DER) the way a MASA or a pledge signs one."""
    extra = ["-certfile", certfile] if certfile else []
    return openssl("cms", "-sign", "-nodetach", "-binary", "-econtent_type",
                   VOUCHER_OID, "-md", "sha256", "-outform", "DER",
                   "-signer", cert, "-inkey", key, *extra, data=json_bytes)


def cms_verify(der, cafile, workdir):
    """Verifies a CMS against cafile; returns (content, signer PEM path,
    certificate-set PEM path)."""
    src = os.path.join(workdir, "in.cms")
    signer = os.path.join(workdir, "signer.pem")
    certs = os.path.join(workdir, "certs.pem")
    with open(src, "wb") as f:
        f.write(der)
    content = openssl("cms", "-verify", "-inform", "DER", "-in", src,
                      "-CAfile", cafile, "-purpose", "any", "-signer",
                      signer, "-certsout", certs)
    return content, signer, certs


def pem_certs(path):
    with open(path) as f:
        text = f.read()
    return re.findall(r"-----BEGIN CERTIFICATE-----.+?-----END CERTIFICATE-----",
                      text, re.S)


def cert_text(pem):
    return openssl("x509", "-noout", "-text", "-nameopt", "RFC2253",
                   data=pem.encode()).decode()


def cert_der(pem):
    return openssl("x509", "-outform", "DER", data=pem.encode())


def self_signed_root(certs_path):
    """The self-signed certificate of a certificate set, as PEM."""
    for pem in pem_certs(certs_path):
        subj = openssl("x509", "-noout", "-subject", "-issuer", "-nameopt",
                       "RFC2253", data=pem.encode()).decode().splitlines()
        if subj[0].split("=", 1)[1] == subj[1].split("=", 1)[1]:
            return pem
    raise Refused(400, "the registrar's CMS carries no root certificate")


def serial_number_of(pem):
    m = re.search(r"Subject: .*?serialNumber=([^,+\n]+)", cert_text(pem))
    if not m:
        raise Refused(400, "the IDevID has no serialNumber")
    return m.group(1)


def authority_key_id_of(pem):
    m = re.search(r"Authority Key Identifier:\s*\n\s*(?:keyid:)?([0-9A-F:]+)",
                  cert_text(pem))
    return bytes.fromhex(m.group(1).replace(":", "")) if m else None


def request_leaves(content, what):
    try:
        doc = json.loads(content)
    except ValueError as e:
        raise Refused(400, "%s is not JSON: %s" % (what, e))
    leaves = doc.get(REQUEST_KEY) if isinstance(doc, dict) else None
    if not isinstance(leaves, dict) or len(doc) != 1:
        raise Refused(400, "%s is not an %s" % (what, REQUEST_KEY))
    return leaves


class Masa:
    def __init__(self, pki):
        self.pki = pki
        self.misbehave = None
        self.delay = 0.0
        self.refuse_reason = "this MASA refuses the registrar"
        self.requests = []
        self.lock = threading.Lock()
        self.httpd = None
        self.thread = None
        self.url = None

    # ------------------------------------------------------------ server
    def start(self):
        masa = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                masa._handle(self)

            def do_GET(self):
                masa._answer(self, 405, "text/plain", b"POST only\n", None)

            def log_message(self, *args):
                pass

        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(self.pki.masa_tls.cert, self.pki.masa_tls.key)
        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.socket = ctx.wrap_socket(self.httpd.socket,
                                            server_side=True)
        self.url = "https://127.0.0.1:%d" % self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever,
                                       daemon=True)
        self.thread.start()
        return self

    def stop(self):
        if self.httpd:
            self.httpd.shutdown()
            self.httpd.server_close()
            self.thread.join()
            self.httpd = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    def _answer(self, handler, status, ctype, body, record):
        if record is not None:
            record.update(status=status, response=body)
        handler.send_response(status)
        handler.send_header("Content-Type", ctype)
        handler.send_header("Content-Length", str(len(body)))
        handler.end_headers()
        handler.wfile.write(body)

    def _handle(self, handler):
        length = int(handler.headers.get("Content-Length") or 0)
        body = handler.rfile.read(length) if length > 0 else b""
        record = {"path": handler.path,
                  "content_type": handler.headers.get("Content-Type"),
                  "body": body, "time": time.time()}
        with self.lock:
            self.requests.append(record)
        if self.delay:
            time.sleep(self.delay)
        try:
            voucher = self._voucher_for(handler.path, record, body)
        except Refused as e:
            self._answer(handler, e.status, "text/plain",
                         (e.reason + "\n").encode(), record)
            return
        self._answer(handler, 200, MEDIA_TYPE, voucher, record)

    # ------------------------------------------------------------- logic
    def _voucher_for(self, path, record, body):
        if path != PATH:
            raise Refused(404, "no such resource")
        ctype = (record["content_type"] or "").split(";")[0].strip().lower()
        if ctype != MEDIA_TYPE:
            raise Refused(400, "Content-Type must be " + MEDIA_TYPE)
        if not body:
            raise Refused(400, "empty body")
        if self.misbehave == "refuse":
            raise Refused(403, self.refuse_reason)
        with tempfile.TemporaryDirectory() as work:
            leaves, domain_root = self._check_registrar(body, work)
            pledge_leaves, idevid = self._check_pledge(leaves, work)
        record["registrar_request"] = leaves
        record["pledge_request"] = pledge_leaves
        voucher = self._make_voucher(pledge_leaves, idevid, domain_root)
        record["voucher"] = voucher
        return self._sign(voucher)

    def _check_registrar(self, body, work):
        """Step 1: the registrar's CMS, verified up to its own root."""
        rdir = os.path.join(work, "registrar")
        os.mkdir(rdir)
        src = os.path.join(rdir, "in.cms")
        certs = os.path.join(rdir, "all.pem")
        with open(src, "wb") as f:
            f.write(body)
        openssl("cms", "-verify", "-inform", "DER", "-in", src, "-noverify",
                "-certsout", certs, "-out", os.devnull)
        root = self_signed_root(certs)
        rootfile = os.path.join(rdir, "root.pem")
        with open(rootfile, "w") as f:
            f.write(root + "\n")
        content, signer, _ = cms_verify(body, rootfile, rdir)
        with open(signer) as f:
            text = cert_text(f.read())
        if "CMC Registration Authority" not in text and \
                "1.3.6.1.5.5.7.3.28" not in text:
            raise Refused(400, "the registrar's certificate lacks id-kp-cmcRA")
        return request_leaves(content, "the registrar's request"), root

    def _check_pledge(self, leaves, work):
        """Step 2: the pledge's request inside, and the serial numbers."""
        prior = leaves.get("prior-signed-voucher-request")
        if not isinstance(prior, str):
            raise Refused(400, "no prior-signed-voucher-request")
        try:
            der = base64.b64decode(prior, validate=True)
        except ValueError:
            raise Refused(400, "prior-signed-voucher-request is not base64")
        pdir = os.path.join(work, "pledge")
        os.mkdir(pdir)
        content, signer, _ = cms_verify(der, self.pki.mfg_ca.cert, pdir)
        with open(signer) as f:
            idevid = f.read()
        pledge_leaves = request_leaves(content, "the pledge's request")
        serial = serial_number_of(idevid)
        for who, l in (("pledge", pledge_leaves), ("registrar", leaves)):
            if l.get("serial-number") != serial:
                raise Refused(400, "the %s's serial-number is not the "
                              "IDevID's %s" % (who, serial))
        return pledge_leaves, idevid

    def _make_voucher(self, pledge_leaves, idevid, domain_root):
        pinned = domain_root
        if self.misbehave == "other-domain":
            with open(self.pki.other_domain_ca.cert) as f:
                pinned = f.read()
        v = {"created-on": now_rfc3339(), "assertion": "logged",
             "serial-number": pledge_leaves["serial-number"],
             "pinned-domain-cert":
                 base64.b64encode(cert_der(pinned)).decode()}
        aki = authority_key_id_of(idevid)
        if aki:
            v["idevid-issuer"] = base64.b64encode(aki).decode()
        if "nonce" in pledge_leaves:
            v["nonce"] = pledge_leaves["nonce"]
        else:
            v["expires-on"] = now_rfc3339(3600)
        return {VOUCHER_KEY: v}

    def _sign(self, voucher):
        signer = self.pki.wrong_masa if self.misbehave == "wrong-masa" \
            else self.pki.masa
        return cms_sign(json.dumps(voucher).encode(), signer.cert, signer.key)
