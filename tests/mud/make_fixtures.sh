#!/bin/sh
# make_fixtures.sh - the certificates and signatures of the MUD unit tests.
#
#   tests/mud/make_fixtures.sh OUTDIR [MUDFILE]
#
# MUDFILE (default tests/vectors/mud-example.json) is signed the way RFC 8520
# section 13 and manufacturers do it, with openssl cms, by several signers:
#
#   ca.pem             the trusted MUD signer root ("mud.signers" in tests)
#   inter.pem          an intermediate under it, sent in each signature
#   signer.pem         the good signer: keyUsage digitalSignature
#   nods-signer.pem    under the same root, but keyUsage keyEncipherment only
#   expired-signer.pem a good signer that was valid in 2020 only
#   other-ca.pem       a root that the tests do not trust
#   other-signer.pem   a good-looking signer under other-ca
#
#   good.p7s           signer, with the intermediate (the normal case)
#   good-sha256.p7s    the same with -md sha256 -nosmimecap
#   good-keyid.p7s     the signer named by subject key identifier (-keyid)
#   nocerts.p7s        without the signer's certificate (-nocerts): only a
#                      verifier that trusts signer.pem itself can check it
#   nods.p7s           nods-signer
#   expired.p7s        expired-signer
#   untrusted.p7s      other-signer
#
# The certificates are valid from 2024 to 2054 so that the checked-in
# copies in tests/mud/fixtures keep the tests hermetic. The private keys are
# deleted at the end: nothing needs them once the signatures exist, and test
# keys in a repository only invite misuse. Regenerate everything (from the
# repository root) with:
#
#   sh tests/mud/make_fixtures.sh tests/mud/fixtures
set -eu

out=${1:?usage: make_fixtures.sh OUTDIR [MUDFILE]}
here=$(cd "$(dirname "$0")" && pwd)
mud=${2:-$here/../vectors/mud-example.json}
mkdir -p "$out"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# Fixed dates, well before any machine that runs the tests, rather than
# "now": a clock set a little behind the one that made the files must not
# see certificates that are not valid yet. openssl ca is the openssl 3.0
# command that takes both dates.
cat >"$tmp/ca.cnf" <<EOF
[ca]
default_ca = fixtures
[fixtures]
database = $tmp/index.txt
new_certs_dir = $tmp
serial = $tmp/serial
default_md = sha256
policy = any_subject
unique_subject = no
default_startdate = 20240101000000Z
default_enddate = 20540101000000Z
[any_subject]
organizationName = supplied
commonName = supplied
EOF
: >"$tmp/index.txt"
openssl rand -hex 8 >"$tmp/serial"

key() {
	openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 \
		-out "$tmp/$1.key" 2>/dev/null
}

# request NAME SUBJECT BASIC KEYUSAGE: a key, a CSR and the extensions
# its certificate gets.
request() {
	key "$1"
	openssl req -new -key "$tmp/$1.key" -subj "$2" -config /dev/null \
		-out "$tmp/$1.csr"
	cat >"$tmp/$1.ext" <<EOF
basicConstraints = critical, $3
keyUsage = critical, $4
subjectKeyIdentifier = hash
EOF
}

# root NAME SUBJECT: a self-signed CA.
root() {
	request "$1" "$2" "CA:TRUE" "keyCertSign, cRLSign"
	openssl ca -batch -notext -config "$tmp/ca.cnf" -selfsign \
		-keyfile "$tmp/$1.key" -in "$tmp/$1.csr" \
		-extfile "$tmp/$1.ext" -out "$out/$1.pem" 2>/dev/null
}

# issue NAME SUBJECT ISSUER BASIC KEYUSAGE [CA-OPTIONS]: a certificate
# signed by ISSUER.
issue() {
	name=$1 subject=$2 issuer=$3 basic=$4 usage=$5
	shift 5
	request "$name" "$subject" "$basic" "$usage"
	echo "authorityKeyIdentifier = keyid" >>"$tmp/$name.ext"
	openssl ca -batch -notext -config "$tmp/ca.cnf" \
		-cert "$out/$issuer.pem" -keyfile "$tmp/$issuer.key" \
		-in "$tmp/$name.csr" -extfile "$tmp/$name.ext" \
		-out "$out/$name.pem" "$@" 2>/dev/null
}

# sign NAME SIGNER [OPTIONS]: a detached DER CMS SignedData over MUDFILE.
sign() {
	p7s=$1 who=$2
	shift 2
	openssl cms -sign -binary -outform DER -in "$mud" \
		-signer "$out/$who.pem" -inkey "$tmp/$who.key" \
		-certfile "$out/inter.pem" "$@" -out "$out/$p7s.p7s"
}

root ca "/O=anchord tests/CN=anchord test MUD signer root"
issue inter "/O=anchord tests/CN=anchord test MUD signer intermediate" \
	ca "CA:TRUE, pathlen:0" "keyCertSign, cRLSign"
issue signer "/O=Example Sensors/CN=Example Sensors MUD signer" \
	inter "CA:FALSE" "digitalSignature"
issue nods-signer "/O=Example Sensors/CN=Example Sensors key transport" \
	inter "CA:FALSE" "keyEncipherment"
issue expired-signer "/O=Example Sensors/CN=Example Sensors old signer" \
	inter "CA:FALSE" "digitalSignature" \
	-startdate 20200101000000Z -enddate 20210101000000Z
root other-ca "/O=Somebody Else/CN=untrusted MUD root"
issue other-signer "/O=Somebody Else/CN=untrusted MUD signer" \
	other-ca "CA:FALSE" "digitalSignature"

sign good signer
sign good-sha256 signer -md sha256 -nosmimecap
sign good-keyid signer -keyid
sign nocerts signer -nocerts
sign nods nods-signer
sign expired expired-signer
sign untrusted other-signer

# The tests check that what was signed is exactly the file they read.
cp "$mud" "$out/signed.json"
echo "make_fixtures: wrote $(ls "$out" | wc -l) files to $out"
