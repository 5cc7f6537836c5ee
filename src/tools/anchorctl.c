/*  anchord - tools/anchorctl.c: the administrator's tool.
 *
 *  It reads anchord's configuration to find the state directory and works
 *  on the store there, which the daemon shares (SQLite in WAL mode: both
 *  may use it at once). Every change it makes goes to the audit log.
 */
#include "tools/anchorctl.h"
#include "daemon/daemon.h"
#include "enroll/enroll.h"
#include "pki/pki.h"
#include "store/store.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <gnutls/gnutls.h>
#include <getopt.h>
#include <jansson.h>
#include <png.h>
#include <qrencode.h>
#include <pwd.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <time.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#define TOKEN_BYTES 32

static void usage(FILE *out)
{
	fprintf(out,
		"usage: anchorctl [-c FILE] COMMAND [ARGS]\n"
		"\n"
		"  -c, --config FILE  anchord's configuration (default %s)\n"
		"\n"
		"commands:\n"
		"  pin                          SPKI pin and TLSA records of the\n"
		"                               TLS certificate\n"
		"  dnr [--lifetime S]           RFC 9463 DHCP and RA options\n"
		"  token new [--ttl D] [--profile P] [--device NAME] [--count N]\n"
		"                               one-time EST enrollment tokens\n"
		"  est user add NAME [--password-file F]\n"
		"  est user del NAME\n"
		"  est user list                users for EST HTTP Basic\n"
		"  cert list [--revoked]        certificates issued\n"
		"  cert pending                 requests waiting for approval\n"
		"  cert approve ID | cert deny ID\n"
		"  cert revoke SERIAL [--reason N]\n"
		"  cert show SERIAL             the certificate, PEM\n"
		"  audit [--after ID]           the audit log\n"
		"  user add NAME [--password-file F]\n"
		"                               register an OPAQUE user\n"
		"  user passwd NAME [--password-file F]\n"
		"  user del NAME | user list\n"
		"  code new [--profile P] [--ttl D] [--device NAME]\n"
		"           [--purpose enroll|register] [--user NAME]\n"
		"           [--qr] [--png FILE] [--host H] [--port N]\n"
		"                               a one-time enrollment code\n"
		"  code list | code revoke ID\n"
		"  device list | device revoke NAME\n"
		"  status [--json]              the store, and the running\n"
		"                               daemon: listeners, connections,\n"
		"                               cache, upstream health\n"
		"  reload                       reload the configuration\n"
		"  cache flush [NAME]           empty the cache, or one name\n"
		"  stats                        the daemon's counters, JSON\n"
		"  mud bind --ip ADDR --url URL [--source S]\n"
		"                               bind a device's MUD URL (DHCP\n"
		"                               option 161/112 hooks call this)\n"
		"  mud unbind --ip ADDR\n"
		"  mud show [--json]            bindings and MUD files\n"
		"  mud fetch [URL]              fetch MUD files now\n"
		"  events                       PEP events as JSON lines, until\n"
		"                               interrupted\n"
		"  iot allow [--issuer CA.pem|DN] [--pattern GLOB] [--profile P]\n"
		"            [SERIAL...]        let IDevIDs enroll (802.1AR)\n"
		"  iot list | iot remove ID\n",
		ANCHORD_CONFIG);
}

static int open_store(struct ctl *c)
{
	char path[PATH_MAX], err[512];
	if (util_mkdir_p(c->conf.state_dir, 0700) != 0 ||
	    util_path_join(path, sizeof(path), c->conf.state_dir,
			   STORE_FILE) != 0 ||
	    store_open(path, &c->store, err, sizeof(err)) != 0) {
		fprintf(stderr, "anchorctl: %s\n", err);
		return -1;
	}
	return 0;
}

int audit(struct ctl *c, const char *action, const char *detail)
{
	if (store_audit(c->store, c->actor, action, detail) != 0) {
		fprintf(stderr, "anchorctl: %s\n", store_error(c->store));
		return 1;
	}
	return 0;
}

/* --name VALUE among the command's arguments, or NULL. */
const char *option(struct ctl *c, const char *name)
{
	for (int i = 0; i + 1 < c->argc; i++)
		if (strcmp(c->argv[i], name) == 0)
			return c->argv[i + 1];
	return NULL;
}

bool flag(struct ctl *c, const char *name)
{
	for (int i = 0; i < c->argc; i++)
		if (strcmp(c->argv[i], name) == 0)
			return true;
	return false;
}

/* ------------------------------------------------------------------ pin */

/* One TLSA record per distinct TLS port (853 when none is configured). */
static void print_tlsa(const struct anchord_config *c, const char *hex)
{
	uint16_t printed[16];
	size_t n = config_tls_ports(c, printed, ARRAY_SIZE(printed));
	if (n == 0)
		printed[n++] = 853;
	for (size_t i = 0; i < n; i++)
		printf("_%u._tcp.%s%s IN TLSA 3 1 1 %s\n", printed[i], c->name,
		       c->name[strlen(c->name) - 1] == '.' ? "" : ".", hex);
}

static int cmd_pin(struct ctl *c)
{
	char path[PATH_MAX];
	config_server_cert(&c->conf, path, sizeof(path));
	uint8_t digest[PKI_DIGEST_LEN];
	char err[512], pin[PKI_PIN_LEN], hex[PKI_HEX_LEN];
	if (pki_pin_of_file(path, digest, err, sizeof(err)) != 0) {
		fprintf(stderr, "anchorctl: %s\n", err);
		if (!c->conf.tls.certificate)
			fprintf(stderr, "anchorctl: anchord creates it on its "
				"first start with a TLS listener\n");
		return 1;
	}
	pki_pin_to_base64(digest, pin);
	pki_pin_to_hex(digest, hex);
	printf("pin-sha256: %s\n", pin);
	print_tlsa(&c->conf, hex);
	return 0;
}

/* ------------------------------------------------------------------ tokens */

#define TOKEN_CHARS 43		/* base64url of TOKEN_BYTES, no padding */
#define MAX_TOKENS 100000

static int token_options(struct ctl *c, struct store_token *t,
			 uint64_t *count)
{
	uint64_t ttl_ms = 15 * 60 * 1000;
	const char *ttl = option(c, "--ttl"), *n = option(c, "--count");
	*count = 1;
	if (ttl && (util_parse_duration(ttl, &ttl_ms) != 0 || ttl_ms < 1000)) {
		fprintf(stderr, "anchorctl: --ttl: expected a duration\n");
		return 2;
	}
	if (n && util_parse_uint(n, 1, MAX_TOKENS, count) != 0) {
		fprintf(stderr, "anchorctl: --count: expected 1 to %d\n",
			MAX_TOKENS);
		return 2;
	}
	*t = (struct store_token){ .expires = time(NULL) +
					      (int64_t)(ttl_ms / 1000) };
	snprintf(t->purpose, sizeof(t->purpose), "est");
	snprintf(t->profile, sizeof(t->profile), "%s",
		 option(c, "--profile") ? option(c, "--profile") : "");
	snprintf(t->device, sizeof(t->device), "%s",
		 option(c, "--device") ? option(c, "--device") : "");
	return 0;
}

/* Tokens are printed only once they and their audit entry committed. */
static int cmd_token_new(struct ctl *c)
{
	struct store_token t;
	uint64_t count;
	int ret = token_options(c, &t, &count);
	if (ret != 0)
		return ret;
	char (*tokens)[TOKEN_CHARS + 1] = calloc(count, sizeof(*tokens));
	if (!tokens || store_begin(c->store) != 0) {
		fprintf(stderr, "anchorctl: %s\n", tokens ? store_error(c->store)
							   : "out of memory");
		free(tokens);
		return 1;
	}
	for (uint64_t i = 0; ret == 0 && i < count; i++) {
		uint8_t raw[TOKEN_BYTES], hash[32];
		randombytes_buf(raw, sizeof(raw));
		sodium_bin2base64(tokens[i], sizeof(tokens[i]), raw, sizeof(raw),
				  sodium_base64_VARIANT_URLSAFE_NO_PADDING);
		crypto_hash_sha256(hash, (const unsigned char *)tokens[i],
				   strlen(tokens[i]));
		ret = store_token_add(c->store, hash, &t);
	}
	char detail[256];
	snprintf(detail, sizeof(detail), "%llu EST token%s for %s, profile %s, "
		 "expires %lld", (unsigned long long)count, count > 1 ? "s" : "",
		 t.device[0] ? t.device : "(any device)",
		 t.profile[0] ? t.profile : "(default)", (long long)t.expires);
	if (ret == 0)
		ret = store_audit(c->store, c->actor, "token-new", detail);
	if (ret == 0)
		ret = store_commit(c->store);
	if (ret != 0) {
		fprintf(stderr, "anchorctl: %s\n", store_error(c->store));
		store_rollback(c->store);
	}
	for (uint64_t i = 0; ret == 0 && i < count; i++)
		printf("%s\n", tokens[i]);
	sodium_memzero(tokens, count * sizeof(*tokens));
	free(tokens);
	return ret == 0 ? 0 : 1;
}

/* ------------------------------------------------------------------ EST users */

/* From --password-file, else a prompt without echo (or stdin's first
 * line when it is not a terminal). */
static int read_password(struct ctl *c, char *out, size_t cap)
{
	const char *file = option(c, "--password-file");
	FILE *f = file ? fopen(file, "r") : stdin;
	if (!f) {
		fprintf(stderr, "anchorctl: %s: %s\n", file, strerror(errno));
		return -1;
	}
	struct termios old, quiet;
	bool tty = !file && isatty(fileno(stdin)) &&
		   tcgetattr(fileno(stdin), &old) == 0;
	if (tty) {
		fprintf(stderr, "password: ");
		quiet = old;
		quiet.c_lflag &= ~(tcflag_t)ECHO;
		tcsetattr(fileno(stdin), TCSAFLUSH, &quiet);
	}
	char *line = fgets(out, (int)cap, f);
	if (tty) {
		tcsetattr(fileno(stdin), TCSAFLUSH, &old);
		fprintf(stderr, "\n");
	}
	if (file)
		fclose(f);
	if (!line)
		return -1;
	out[strcspn(out, "\r\n")] = '\0';
	return out[0] ? 0 : -1;
}

static int cmd_est_user_add(struct ctl *c)
{
	if (c->argc < 1) {
		usage(stderr);
		return 2;
	}
	const char *name = c->argv[0];
	char password[256], hash[crypto_pwhash_STRBYTES];
	if (read_password(c, password, sizeof(password)) != 0) {
		fprintf(stderr, "anchorctl: no password given\n");
		return 1;
	}
	int ret = crypto_pwhash_str(hash, password, strlen(password),
				    crypto_pwhash_OPSLIMIT_INTERACTIVE,
				    crypto_pwhash_MEMLIMIT_INTERACTIVE);
	sodium_memzero(password, sizeof(password));
	if (ret != 0 || store_est_user_set(c->store, name, hash) != 0) {
		fprintf(stderr, "anchorctl: %s\n", ret ? "out of memory"
							: store_error(c->store));
		return 1;
	}
	return audit(c, "est-user-set", name);
}

static int cmd_est_user_del(struct ctl *c)
{
	if (c->argc < 1) {
		usage(stderr);
		return 2;
	}
	int ret = store_est_user_del(c->store, c->argv[0]);
	if (ret != 0) {
		fprintf(stderr, "anchorctl: %s\n", ret < 0 ? store_error(c->store)
							   : "no such user");
		return 1;
	}
	return audit(c, "est-user-del", c->argv[0]);
}

static int print_name(void *ctx, const char *name)
{
	printf("%s\n", name);
	return 0;
}

static int cmd_est_user_list(struct ctl *c)
{
	return store_est_user_each(c->store, print_name, NULL) == 0 ? 0 : 1;
}

/* ------------------------------------------------------------------ certificates */

static void print_time(int64_t t)
{
	char buf[32];
	time_t tt = (time_t)t;
	struct tm tm;
	strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", gmtime_r(&tt, &tm));
	printf("%s", buf);
}

static int print_cert(void *ctx, const struct store_cert *c)
{
	printf("%s  %s  %s  ", c->serial, c->identity, c->subject);
	if (c->profile[0])
		printf("profile %s  ", c->profile);
	printf("until ");
	print_time(c->not_after);
	if (c->revoked_at) {
		printf("  revoked ");
		print_time(c->revoked_at);
	}
	printf("\n");
	return 0;
}

static int cmd_cert_list(struct ctl *c)
{
	return store_cert_each(c->store, flag(c, "--revoked"), print_cert,
			       NULL) == 0 ? 0 : 1;
}

static int print_pending(void *ctx, const struct store_pending *p)
{
	printf("%lld  %s  %s  key %.16s...  ", (long long)p->id, p->identity,
	       p->subject, p->spki);
	print_time(p->requested_at);
	printf("  %s\n", p->approved_at ? "approved" :
			 p->denied_at ? "denied" : "waiting");
	return 0;
}

static int cmd_cert_pending(struct ctl *c)
{
	return store_pending_each(c->store, print_pending, NULL) == 0 ? 0 : 1;
}

static int decide(struct ctl *c, bool approve)
{
	uint64_t id;
	if (c->argc < 1 || util_parse_uint(c->argv[0], 1, INT64_MAX, &id)) {
		usage(stderr);
		return 2;
	}
	int ret = store_pending_decide(c->store, (int64_t)id, approve,
				       time(NULL));
	if (ret != 0) {
		fprintf(stderr, "anchorctl: %s\n", ret < 0 ? store_error(c->store)
			: "no such request waiting");
		return 1;
	}
	return audit(c, approve ? "approve" : "deny", c->argv[0]);
}

static int cmd_cert_approve(struct ctl *c)
{
	return decide(c, true);
}

static int cmd_cert_deny(struct ctl *c)
{
	return decide(c, false);
}

/* Serials as openssl prints them (upper case, maybe with colons) name
 * the same certificate as the store's lower-case hex. */
static int normal_serial(const char *in, char *out, size_t cap)
{
	size_t n = 0;
	for (; *in; in++) {
		if (*in == ':')
			continue;
		if (!isxdigit((unsigned char)*in) || n + 1 >= cap)
			return -1;
		out[n++] = (char)tolower((unsigned char)*in);
	}
	out[n] = '\0';
	return n ? 0 : -1;
}

static int cmd_cert_revoke(struct ctl *c)
{
	uint64_t reason = 0;
	char serial[64];
	const char *r = option(c, "--reason");
	if (c->argc < 1 || (r && util_parse_uint(r, 0, 10, &reason) != 0) ||
	    normal_serial(c->argv[0], serial, sizeof(serial)) != 0) {
		usage(stderr);
		return 2;
	}
	int ret = store_cert_revoke(c->store, serial, (int)reason, time(NULL));
	if (ret != 0) {
		fprintf(stderr, "anchorctl: %s\n", ret < 0 ? store_error(c->store)
			: "no such certificate, or revoked already");
		return 1;
	}
	printf("revoked %s; anchord refuses it within seconds\n", serial);
	ret = audit(c, "revoke", serial);
	tell_daemon(c);
	return ret;
}

static int cmd_cert_show(struct ctl *c)
{
	char serial[64];
	struct store_cert cert;
	uint8_t *der = NULL;
	size_t len = 0;
	if (c->argc < 1 || normal_serial(c->argv[0], serial, sizeof(serial))) {
		usage(stderr);
		return 2;
	}
	int ret = store_cert_get(c->store, serial, &cert, &der, &len);
	if (ret != 0) {
		fprintf(stderr, "anchorctl: %s\n", ret < 0 ? store_error(c->store)
			: "no such certificate");
		return 1;
	}
	gnutls_datum_t pem = { NULL, 0 };
	ret = gnutls_pem_base64_encode2("CERTIFICATE",
					&(gnutls_datum_t){ der, (unsigned)len },
					&pem);
	free(der);
	if (ret < 0) {
		fprintf(stderr, "anchorctl: %s\n", gnutls_strerror(ret));
		return 1;
	}
	fwrite(pem.data, 1, pem.size, stdout);
	gnutls_free(pem.data);
	return 0;
}

/* ------------------------------------------------------------------ audit */

static int print_audit(void *ctx, const struct store_audit_entry *e)
{
	printf("%lld  ", (long long)e->id);
	print_time(e->at);
	printf("  %s  %s  %s\n", e->actor, e->action, e->detail);
	return 0;
}

static int cmd_audit(struct ctl *c)
{
	uint64_t after = 0;
	const char *a = option(c, "--after");
	if (a && util_parse_uint(a, 0, INT64_MAX, &after) != 0) {
		usage(stderr);
		return 2;
	}
	return store_audit_each(c->store, (int64_t)after, print_audit, NULL)
		== 0 ? 0 : 1;
}


/* ------------------------------------------------------------------ OPAQUE users */

/* Registration run on both sides here: the password never leaves this
 * process and only the record is stored. */
static int make_record(struct ctl *c, const char *user,
		       uint8_t record[STORE_RECORD_BYTES])
{
	struct pake_opaque_server_keys keys;
	char password[256], err[512];
	if (enroll_server_keys_load(c->conf.state_dir, &keys, err,
				    sizeof(err)) != 0) {
		fprintf(stderr, "anchorctl: %s\n", err);
		return -1;
	}
	if (read_password(c, password, sizeof(password)) != 0) {
		fprintf(stderr, "anchorctl: no password given\n");
		sodium_memzero(&keys, sizeof(keys));
		return -1;
	}
	struct pake_opaque_client_registration st;
	struct pake_opaque_registration_request req;
	struct pake_opaque_registration_response resp;
	struct pake_opaque_registration_record rec;
	struct pake_opaque_params params = { .ksf = PAKE_KSF_ARGON2ID };
	uint8_t export_key[PAKE_OPAQUE_KEY_BYTES];
	int rc = pake_opaque_client_register_start(
		&st, PAKE_STR(password, strlen(password)), &req);
	sodium_memzero(password, sizeof(password));
	if (rc == PAKE_OK)
		rc = pake_opaque_server_register(&keys,
						 PAKE_STR(user, strlen(user)),
						 &req, &resp);
	if (rc == PAKE_OK)
		rc = pake_opaque_client_register_finish(&st, &params, &resp,
							&rec, export_key);
	if (rc == PAKE_OK)
		rc = pake_opaque_record_check(&rec);
	memcpy(record, rec.bytes, STORE_RECORD_BYTES);
	sodium_memzero(&keys, sizeof(keys));
	sodium_memzero(export_key, sizeof(export_key));
	if (rc != PAKE_OK)
		fprintf(stderr, "anchorctl: registration: %s\n",
			pake_strerror(rc));
	return rc == PAKE_OK ? 0 : -1;
}

static int user_set(struct ctl *c, bool replace)
{
	char user[ENROLL_MAX_USER + 1];
	uint8_t record[STORE_RECORD_BYTES];
	if (c->argc < 1) {
		usage(stderr);
		return 2;
	}
	if (enroll_user_fold(c->argv[0], user, sizeof(user)) != 0) {
		fprintf(stderr, "anchorctl: %s: not a usable user name\n",
			c->argv[0]);
		return 2;
	}
	if (replace && store_user_get(c->store, user, record) != 0) {
		fprintf(stderr, "anchorctl: no such user: %s\n", user);
		return 1;
	}
	if (make_record(c, user, record) != 0)
		return 1;
	int rc = store_user_set(c->store, user, record, replace);
	if (rc != 0) {
		fprintf(stderr, "anchorctl: %s\n", rc < 0 ? store_error(c->store)
			: "that user exists (anchorctl user passwd changes "
			  "the password)");
		return 1;
	}
	return audit(c, replace ? "user-passwd" : "user-add", user);
}

static int cmd_user_add(struct ctl *c)
{
	return user_set(c, false);
}

static int cmd_user_passwd(struct ctl *c)
{
	return user_set(c, true);
}

static int cmd_user_del(struct ctl *c)
{
	char user[ENROLL_MAX_USER + 1];
	if (c->argc < 1 || enroll_user_fold(c->argv[0], user, sizeof(user))) {
		usage(stderr);
		return 2;
	}
	int ret = store_user_del(c->store, user);
	if (ret != 0) {
		fprintf(stderr, "anchorctl: %s\n", ret < 0 ? store_error(c->store)
							   : "no such user");
		return 1;
	}
	return audit(c, "user-del", user);
}

static int print_user(void *ctx, const struct store_user *u)
{
	printf("%s\tsince ", u->name);
	print_time(u->created_at);
	printf("\tchanged ");
	print_time(u->updated_at);
	printf("\n");
	return 0;
}

static int cmd_user_list(struct ctl *c)
{
	return store_user_each(c->store, print_user, NULL) == 0 ? 0 : 1;
}

/* ------------------------------------------------------------------ codes */

/* A QR code in the terminal: two modules per character cell, with the
 * quiet zone of four modules the standard asks for. */
static void print_qr(const QRcode *qr)
{
	const int quiet = 4, w = qr->width;
	for (int y = -quiet; y < w + quiet; y += 2) {
		for (int x = -quiet; x < w + quiet; x++) {
			bool top = y >= 0 && y < w && x >= 0 && x < w &&
				   (qr->data[y * w + x] & 1);
			bool bottom = y + 1 >= 0 && y + 1 < w && x >= 0 &&
				      x < w && (qr->data[(y + 1) * w + x] & 1);
			/* dark modules are spaces on a light background */
			printf("%s", top && bottom ? " " : top ? "\u2584"
				     : bottom ? "\u2580" : "\u2588");
		}
		printf("\n");
	}
}

static int write_png(const QRcode *qr, const char *path)
{
	const int scale = 8, quiet = 4, side = (qr->width + 2 * quiet) * scale;
	FILE *f = fopen(path, "wb");
	png_structp png = f ? png_create_write_struct(PNG_LIBPNG_VER_STRING,
						      NULL, NULL, NULL) : NULL;
	png_infop info = png ? png_create_info_struct(png) : NULL;
	uint8_t *row = malloc((size_t)side);
	if (!f || !png || !info || !row || setjmp(png_jmpbuf(png))) {
		fprintf(stderr, "anchorctl: %s: cannot write the PNG\n", path);
		png_destroy_write_struct(&png, &info);
		free(row);
		if (f)
			fclose(f);
		return -1;
	}
	png_init_io(png, f);
	png_set_IHDR(png, info, (png_uint_32)side, (png_uint_32)side, 8,
		     PNG_COLOR_TYPE_GRAY, PNG_INTERLACE_NONE,
		     PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
	png_write_info(png, info);
	for (int y = 0; y < side; y++) {
		int my = y / scale - quiet;
		for (int x = 0; x < side; x++) {
			int mx = x / scale - quiet;
			bool dark = my >= 0 && my < qr->width && mx >= 0 &&
				    mx < qr->width &&
				    (qr->data[my * qr->width + mx] & 1);
			row[x] = dark ? 0 : 255;
		}
		png_write_row(png, row);
	}
	png_write_end(png, NULL);
	png_destroy_write_struct(&png, &info);
	free(row);
	return fclose(f) == 0 ? 0 : -1;
}

static int show_uri(struct ctl *c, const struct enroll_code *code)
{
	char uri[512], cert[PATH_MAX], err[256];
	uint8_t pin[PKI_DIGEST_LEN];
	const char *host = option(c, "--host") ? option(c, "--host")
					       : c->conf.name;
	uint64_t port = 443;
	for (size_t i = 0; i < c->conf.n_listen; i++)
		if (c->conf.listen[i].kind == LISTEN_HTTPS) {
			port = util_addr_port((const struct sockaddr *)
					      &c->conf.listen[i].addr.ss);
			break;
		}
	if (option(c, "--port") &&
	    util_parse_uint(option(c, "--port"), 1, 65535, &port) != 0) {
		fprintf(stderr, "anchorctl: --port: expected 1 to 65535\n");
		return -1;
	}
	config_server_cert(&c->conf, cert, sizeof(cert));
	bool pinned = pki_pin_of_file(cert, pin, err, sizeof(err)) == 0;
	if (enroll_uri_format(uri, sizeof(uri), host, (uint16_t)port, code,
			      pinned ? pin : NULL) < 0)
		return -1;
	printf("uri: %s\n", uri);
	QRcode *qr = NULL;
	if (flag(c, "--qr") || option(c, "--png"))
		qr = QRcode_encodeString(uri, 0, QR_ECLEVEL_M, QR_MODE_8, 1);
	int ret = 0;
	if ((flag(c, "--qr") || option(c, "--png")) && !qr)
		ret = -1;
	if (qr && flag(c, "--qr"))
		print_qr(qr);
	if (qr && option(c, "--png") && write_png(qr, option(c, "--png")) != 0)
		ret = -1;
	QRcode_free(qr);
	sodium_memzero(uri, sizeof(uri));
	return ret;
}

static int code_options(struct ctl *c, struct store_code *row)
{
	uint64_t ttl_ms = (uint64_t)c->conf.enroll.code_ttl * 1000;
	const char *ttl = option(c, "--ttl"), *purpose = option(c, "--purpose");
	const char *device = option(c, "--device"), *user = option(c, "--user");
	if (ttl && (util_parse_duration(ttl, &ttl_ms) != 0 || ttl_ms < 1000)) {
		fprintf(stderr, "anchorctl: --ttl: expected a duration\n");
		return 2;
	}
	if (purpose && strcmp(purpose, "enroll") && strcmp(purpose, "register")) {
		fprintf(stderr, "anchorctl: --purpose: enroll or register\n");
		return 2;
	}
	if (device && !enroll_device_name_valid(device)) {
		fprintf(stderr, "anchorctl: --device: letters, digits, '.', "
			"'_' and '-', at most %d\n", ENROLL_MAX_DEVICE);
		return 2;
	}
	*row = (struct store_code){ .created_at = time(NULL) };
	row->expires = row->created_at + (int64_t)(ttl_ms / 1000);
	snprintf(row->purpose, sizeof(row->purpose), "%s",
		 purpose ? purpose : "enroll");
	snprintf(row->profile, sizeof(row->profile), "%s",
		 option(c, "--profile") ? option(c, "--profile") : "");
	snprintf(row->device, sizeof(row->device), "%s", device ? device : "");
	if (user && (strcmp(row->purpose, "register") != 0 ||
		     enroll_user_fold(user, row->user, sizeof(row->user)))) {
		fprintf(stderr, "anchorctl: --user: a user name, with "
			"--purpose register\n");
		return 2;
	}
	return 0;
}

/* Printed only once the code and its audit entry are committed. */
static int cmd_code_new(struct ctl *c)
{
	struct store_code row;
	struct enroll_code code;
	uint8_t key[ENROLL_KEY_BYTES];
	char err[512], text[ENROLL_CODE_TEXT_LEN + 1], detail[256];
	int ret = code_options(c, &row);
	if (ret != 0)
		return ret;
	if (enroll_codes_key_load(c->conf.state_dir, key, err, sizeof(err))) {
		fprintf(stderr, "anchorctl: %s\n", err);
		return 1;
	}
	if (store_begin(c->store) != 0)
		goto failed;
	do {	/* ids are public and short: draw again on a collision */
		enroll_code_generate(&code);
		snprintf(row.id, sizeof(row.id), "%s", code.id);
		enroll_code_seal(row.secret, key, &code);
		row.secret_len = ENROLL_SEALED_SECRET_BYTES;
	} while ((ret = store_code_add(c->store, &row)) == 1);
	snprintf(detail, sizeof(detail), "code %s (%s) for %s, profile %s, "
		 "expires %lld", row.id, row.purpose,
		 row.device[0] ? row.device : "(any device)",
		 row.profile[0] ? row.profile : "(default)",
		 (long long)row.expires);
	if (ret != 0 || store_audit(c->store, c->actor, "code-new", detail) ||
	    store_commit(c->store) != 0) {
		store_rollback(c->store);
		goto failed;
	}
	sodium_memzero(key, sizeof(key));
	enroll_code_format(&code, text);
	printf("code: %s\n", text);
	ret = show_uri(c, &code);
	sodium_memzero(&code, sizeof(code));
	sodium_memzero(text, sizeof(text));
	return ret == 0 ? 0 : 1;
failed:
	sodium_memzero(key, sizeof(key));
	fprintf(stderr, "anchorctl: %s\n", store_error(c->store));
	return 1;
}

static const char *code_state(const struct store_code *row, unsigned max)
{
	if (row->used_at)
		return "used";
	if (row->revoked_at)
		return "revoked";
	if (row->failures >= (int)max)
		return "dead";
	return row->expires <= time(NULL) ? "expired" : "active";
}

static int print_code(void *ctx, const struct store_code *row)
{
	struct ctl *c = ctx;
	printf("%s\t%s\t%s\tprofile=%s\tdevice=%s\tfailures=%d\texpires=",
	       row->id, code_state(row, c->conf.enroll.max_failures),
	       row->purpose, row->profile[0] ? row->profile : "-",
	       row->device[0] ? row->device : "-", row->failures);
	print_time(row->expires);
	printf("\n");
	return 0;
}

static int cmd_code_list(struct ctl *c)
{
	return store_code_each(c->store, print_code, c) == 0 ? 0 : 1;
}

static int cmd_code_revoke(struct ctl *c)
{
	if (c->argc < 1) {
		usage(stderr);
		return 2;
	}
	char id[ENROLL_CODE_ID_LEN + 1];
	snprintf(id, sizeof(id), "%s", c->argv[0]);
	for (char *p = id; *p; p++)
		*p = (char)toupper((unsigned char)*p);
	int ret = store_code_revoke(c->store, id, time(NULL));
	if (ret != 0) {
		fprintf(stderr, "anchorctl: %s\n", ret < 0 ? store_error(c->store)
			: "no such code, or used or revoked already");
		return 1;
	}
	return audit(c, "code-revoke", id);
}

/* ------------------------------------------------------------------ devices */

static int print_device(void *ctx, const struct store_device *d)
{
	printf("%s\t%s\t%s\tprofile=%s\tenrolled=", d->name,
	       d->revoked_at ? "revoked" : "active", d->owner,
	       d->profile[0] ? d->profile : "-");
	print_time(d->enrolled_at);
	printf("\n");
	return 0;
}

static int cmd_device_list(struct ctl *c)
{
	return store_device_each(c->store, print_device, NULL) == 0 ? 0 : 1;
}

static int cmd_device_revoke(struct ctl *c)
{
	if (c->argc < 1) {
		usage(stderr);
		return 2;
	}
	int certs = 0, ret = store_begin(c->store);
	if (ret == 0)
		ret = store_device_revoke(c->store, c->argv[0], time(NULL),
					  &certs);
	char detail[160];
	snprintf(detail, sizeof(detail), "%s and %d certificate%s", c->argv[0],
		 certs, certs == 1 ? "" : "s");
	if (ret == 0)
		ret = store_audit(c->store, c->actor, "device-revoke", detail);
	if (ret == 0)
		ret = store_commit(c->store);
	if (ret != 0) {
		store_rollback(c->store);
		fprintf(stderr, "anchorctl: %s\n", ret < 0 ? store_error(c->store)
			: "no such device, or revoked already");
		return 1;
	}
	printf("revoked %s\n", detail);
	tell_daemon(c);
	return 0;
}

/* ------------------------------------------------------------------ the running daemon */

static int control_connect(const char *path, char *why, size_t whylen);
static json_t *control_call(struct ctl *c, const char *cmd, char *why,
			    size_t whylen);

#define CONTROL_TIMEOUT_S 10

static int control_connect(const char *path, char *why, size_t whylen)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	if (strlen(path) >= sizeof(sa.sun_path)) {
		snprintf(why, whylen, "%s: path too long", path);
		return -1;
	}
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct timeval tv = { .tv_sec = CONTROL_TIMEOUT_S };
	if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv,
				 sizeof(tv)) != 0 ||
	    connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
		snprintf(why, whylen, "%s: %s", path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	return fd;
}

/* One command to the daemon's control socket and its JSON reply, or NULL
 * with why (the daemon is not running, or it timed out). */
static json_t *control_call(struct ctl *c, const char *cmd, char *why,
			    size_t whylen)
{
	int fd = control_connect(c->conf.control, why, whylen);
	if (fd < 0)
		return NULL;
	char line[1100], reply[65536];
	size_t len = 0;
	snprintf(line, sizeof(line), "%s\n", cmd);
	ssize_t n = write(fd, line, strlen(line));
	while (n >= 0 && len < sizeof(reply) - 1 &&
	       (n = read(fd, reply + len, sizeof(reply) - 1 - len)) > 0)
		len += (size_t)n;
	close(fd);
	reply[len] = '\0';
	json_t *j = n >= 0 ? json_loads(reply, 0, NULL) : NULL;
	if (!json_is_object(j)) {
		snprintf(why, whylen, "%s: %s", c->conf.control, n < 0
			 ? strerror(errno) : "no answer from the daemon");
		json_decref(j);
		return NULL;
	}
	return j;
}

/* Run a command that only says whether it worked. */
static int control_simple(struct ctl *c, const char *cmd)
{
	char why[512];
	json_t *j = control_call(c, cmd, why, sizeof(why));
	if (!j) {
		fprintf(stderr, "anchorctl: %s\n", why);
		return 1;
	}
	bool ok = json_is_true(json_object_get(j, "ok"));
	if (!ok)
		fprintf(stderr, "anchorctl: %s\n", json_string_value(
			json_object_get(j, "error")));
	json_decref(j);
	return ok ? 0 : 1;
}

/* After a revocation: the daemon polls the store anyway, but need not
 * wait for it. Quiet when the daemon is not running. */
void tell_daemon(struct ctl *c)
{
	char why[512];
	json_decref(control_call(c, "refresh", why, sizeof(why)));
}

static int cmd_reload(struct ctl *c)
{
	int ret = control_simple(c, "reload");
	if (ret == 0)
		printf("reloaded\n");
	return ret;
}

static int cmd_cache_flush(struct ctl *c)
{
	char cmd[300];
	if (c->argc > 0 && strlen(c->argv[0]) > 255) {
		fprintf(stderr, "anchorctl: not a domain name\n");
		return 2;
	}
	snprintf(cmd, sizeof(cmd), "cache-flush%s%s", c->argc > 0 ? " " : "",
		 c->argc > 0 ? c->argv[0] : "");
	return control_simple(c, cmd);
}

static int print_json(struct ctl *c, const char *cmd)
{
	char why[512];
	json_t *j = control_call(c, cmd, why, sizeof(why));
	if (!j) {
		fprintf(stderr, "anchorctl: %s\n", why);
		return 1;
	}
	json_dumpf(j, stdout, JSON_INDENT(2));
	printf("\n");
	json_decref(j);
	return 0;
}

static int cmd_stats(struct ctl *c)
{
	return print_json(c, "stats");
}

static void print_upstreams(json_t *ups)
{
	size_t i;
	json_t *u;
	json_array_foreach(ups, i, u)
		printf("upstream: %s %s %s (srtt %lld ms, %lld failures)\n",
		       json_string_value(json_object_get(u, "address")),
		       json_string_value(json_object_get(u, "transport")),
		       json_string_value(json_object_get(u, "state")),
		       json_integer_value(json_object_get(u, "srtt_ms")),
		       json_integer_value(json_object_get(u, "failures")));
}

/* The daemon's side of status, in lines a person reads; --json prints
 * the reply as it came. */
static int daemon_status(struct ctl *c)
{
	char why[512];
	json_t *j = control_call(c, "status", why, sizeof(why));
	if (!j) {
		printf("daemon: not reachable (%s)\n", why);
		return 1;
	}
	json_t *conns = json_object_get(j, "connections"), *l;
	json_t *cache = json_object_get(j, "cache");
	size_t i;
	printf("daemon: running, pid %lld, up %lld s, %lld worker(s)\n",
	       json_integer_value(json_object_get(j, "pid")),
	       json_integer_value(json_object_get(j, "uptime_s")),
	       json_integer_value(json_object_get(j, "workers")));
	json_array_foreach(json_object_get(j, "listeners"), i, l)
		printf("listener: %s %s\n",
		       json_string_value(json_object_get(l, "address")),
		       json_string_value(json_object_get(l, "kind")));
	printf("connections: tcp %lld, dot %lld, https %lld\n",
	       json_integer_value(json_object_get(conns, "tcp")),
	       json_integer_value(json_object_get(conns, "dot")),
	       json_integer_value(json_object_get(conns, "https")));
	printf("cache: %lld entries, %lld of %lld bytes, %lld hits, %lld "
	       "misses\n", json_integer_value(json_object_get(cache, "entries")),
	       json_integer_value(json_object_get(cache, "bytes")),
	       json_integer_value(json_object_get(cache, "limit")),
	       json_integer_value(json_object_get(cache, "hits")),
	       json_integer_value(json_object_get(cache, "misses")));
	print_upstreams(json_object_get(j, "upstreams"));
	json_decref(j);
	return 0;
}

/* ------------------------------------------------------------------ status */

struct tally {
	unsigned n, active;
	unsigned max_failures;
};

static int count_user(void *ctx, const struct store_user *u)
{
	((struct tally *)ctx)->n++;
	return 0;
}

static int count_code(void *ctx, const struct store_code *row)
{
	struct tally *t = ctx;
	t->n++;
	t->active += strcmp(code_state(row, t->max_failures), "active") == 0;
	return 0;
}

static int count_device(void *ctx, const struct store_device *d)
{
	struct tally *t = ctx;
	t->n++;
	t->active += d->revoked_at == 0;
	return 0;
}

static int count_cert(void *ctx, const struct store_cert *cert)
{
	struct tally *t = ctx;
	t->n++;
	t->active += cert->revoked_at == 0 && cert->not_after > time(NULL);
	return 0;
}

static int cmd_status(struct ctl *c)
{
	if (flag(c, "--json"))
		return print_json(c, "status");
	struct tally users = { 0 }, devices = { 0 }, certs = { 0 };
	struct tally codes = { .max_failures = c->conf.enroll.max_failures };
	if (store_user_each(c->store, count_user, &users) != 0 ||
	    store_code_each(c->store, count_code, &codes) != 0 ||
	    store_device_each(c->store, count_device, &devices) != 0 ||
	    store_cert_each(c->store, false, count_cert, &certs) != 0) {
		fprintf(stderr, "anchorctl: %s\n", store_error(c->store));
		return 1;
	}
	printf("server: %s\nstate: %s (store schema %d)\n", c->conf.name,
	       c->conf.state_dir, store_schema_version());
	printf("enrollment: %s\n", c->conf.est.enabled && c->conf.enroll.enabled
	       ? "enabled" : "disabled");
	printf("users: %u\ncodes: %u active of %u\n", users.n, codes.active,
	       codes.n);
	printf("devices: %u active of %u\ncertificates: %u valid of %u\n",
	       devices.active, devices.n, certs.active, certs.n);
	cmd_pin(c);	/* none yet before the first start: not an error */
	return daemon_status(c);
}

/* ------------------------------------------------------------------ dnr */

#define DNR_OPTION_MAX 2048
#define DHCPV4_OPTION_MAX 255	/* longer ones need RFC 3396 splitting */

struct dnr_option {
	const char *what;		/* the line's label */
	uint8_t data[DNR_OPTION_MAX];
	int len;
};

static void print_hex(const uint8_t *p, int len, const char *sep)
{
	for (int i = 0; i < len; i++)
		printf("%s%02x", i && sep ? sep : "", p[i]);
}

/* The options of this resolver: DHCPv4 (all instances in one), then one
 * DHCPv6 and one RA option per instance with an IPv6 address. */
static size_t dnr_build(const struct anchord_config *c, uint32_t lifetime,
			struct dnr_option *opts, size_t max)
{
	struct dnr_instance d[DNR_MAX_INSTANCES];
	char dohpath[256];
	size_t n = dnr_instances(c, d, DNR_MAX_INSTANCES, dohpath,
				 sizeof(dohpath)), k = 0;
	opts[k] = (struct dnr_option){ .what = "dhcpv4-162" };
	opts[k].len = dnr_dhcpv4(d, n, opts[k].data, DNR_OPTION_MAX);
	k += opts[k].len != 0;
	for (size_t i = 0; i < n && k + 2 <= max; i++) {
		opts[k] = (struct dnr_option){ .what = "dhcpv6-144" };
		opts[k].len = dnr_dhcpv6(&d[i], opts[k].data, DNR_OPTION_MAX);
		k += opts[k].len != 0;
		opts[k] = (struct dnr_option){ .what = "ra-144" };
		opts[k].len = dnr_ra(&d[i], lifetime, opts[k].data,
				     DNR_OPTION_MAX);
		k += opts[k].len != 0;
	}
	return k;
}

static void print_kea(const struct dnr_option *opts, size_t n, bool v6)
{
	printf("\n# ISC Kea, %s \"option-data\":\n", v6 ? "Dhcp6" : "Dhcp4");
	for (size_t i = 0; i < n; i++) {
		if ((strcmp(opts[i].what, "dhcpv6-144") == 0) != v6 ||
		    strcmp(opts[i].what, "ra-144") == 0)
			continue;
		printf("{ \"code\": %d, \"space\": \"%s\", \"csv-format\": "
		       "false, \"data\": \"", v6 ? 144 : 162,
		       v6 ? "dhcp6" : "dhcp4");
		print_hex(opts[i].data, opts[i].len, NULL);
		printf("\" }\n");
	}
}

static void print_dnsmasq(const struct dnr_option *opts, size_t n)
{
	printf("\n# dnsmasq:\n");
	for (size_t i = 0; i < n; i++) {
		bool v6 = strcmp(opts[i].what, "dhcpv6-144") == 0;
		if (!v6 && strcmp(opts[i].what, "dhcpv4-162") != 0)
			continue;
		printf("dhcp-option=%s,", v6 ? "option6:144" : "162");
		print_hex(opts[i].data, opts[i].len, ":");
		printf("\n");
	}
}

/* anchorctl dnr [--lifetime S]: RFC 9463 options naming this resolver,
 * as hex, and the same in Kea's and dnsmasq's configuration syntax. */
static int cmd_dnr(struct ctl *c)
{
	const char *lt = option(c, "--lifetime");
	uint64_t lifetime = 1800;	/* 3 x the default MaxRtrAdvInterval */
	if (lt && util_parse_uint(lt, 0, UINT32_MAX, &lifetime) != 0) {
		fprintf(stderr, "anchorctl: --lifetime: seconds expected\n");
		return 2;
	}
	struct dnr_option *opts = calloc(1 + 2 * DNR_MAX_INSTANCES,
					 sizeof(*opts));
	if (!opts)
		return 1;
	size_t n = dnr_build(&c->conf, (uint32_t)lifetime, opts,
			     1 + 2 * DNR_MAX_INSTANCES);
	int ret = n ? 0 : 1;
	printf("# DNR (RFC 9463) for %s; hex, without the DHCP code and "
	       "length\n", c->conf.name);
	for (size_t i = 0; i < n; i++) {
		if (opts[i].len < 0) {
			fprintf(stderr, "anchorctl: %s: too long\n", opts[i].what);
			ret = 1;
			continue;
		}
		printf("%s: ", opts[i].what);
		print_hex(opts[i].data, opts[i].len, NULL);
		printf("\n");
		if (strcmp(opts[i].what, "dhcpv4-162") == 0 &&
		    opts[i].len > DHCPV4_OPTION_MAX)
			fprintf(stderr, "anchorctl: dhcpv4-162 is %d octets: the "
				"DHCP server must split it (RFC 3396)\n",
				opts[i].len);
	}
	if (n == 0)
		fprintf(stderr, "anchorctl: no DoT or HTTPS listener with an "
			"address in tls.addresses\n");
	if (ret == 0) {
		print_kea(opts, n, false);
		print_kea(opts, n, true);
		print_dnsmasq(opts, n);
	}
	free(opts);
	return ret;
}

/* ------------------------------------------------------------------ dispatch */

/* ------------------------------------------------------------------ MUD */

/* RFC 8520 section 10 and the DHCP options: an https URL of at most 255
 * octets, without spaces or control characters. */
static const char *bad_mud_url(const char *url)
{
	if (strncmp(url, "https://", 8) != 0 || !url[8])
		return "a MUD URL is an https URL";
	if (strlen(url) > 255)
		return "a MUD URL has at most 255 octets";
	for (const char *p = url; *p; p++)
		if ((unsigned char)*p <= 0x20 || (unsigned char)*p >= 0x7f)
			return "a MUD URL has no spaces or control characters";
	return NULL;
}

/* The address in its canonical text form, so that one device has one key. */
static int canonical_address(const char *in, char *out, size_t cap)
{
	struct util_addr a;
	if (!in || util_addr_parse(in, 0, &a) != 0)
		return -1;
	const void *bytes = a.ss.ss_family == AF_INET
		? (const void *)&((struct sockaddr_in *)&a.ss)->sin_addr
		: (const void *)&((struct sockaddr_in6 *)&a.ss)->sin6_addr;
	return inet_ntop(a.ss.ss_family, bytes, out, (socklen_t)cap) ? 0 : -1;
}

static int cmd_mud_bind(struct ctl *c)
{
	const char *url = option(c, "--url"), *source = option(c, "--source");
	char addr[INET6_ADDRSTRLEN], detail[400];
	if (canonical_address(option(c, "--ip"), addr, sizeof(addr)) != 0 ||
	    !url) {
		fprintf(stderr, "anchorctl: mud bind needs --ip ADDRESS and "
			"--url URL\n");
		return 2;
	}
	const char *bad = bad_mud_url(url);
	if (bad) {
		fprintf(stderr, "anchorctl: %s: %s\n", url, bad);
		return 2;
	}
	snprintf(detail, sizeof(detail), "%s %s", addr, url);
	if (store_mud_bind(c->store, addr, url, source ? source : "manual",
			   time(NULL)) != 0) {
		fprintf(stderr, "anchorctl: %s\n", store_error(c->store));
		return 1;
	}
	if (audit(c, "mud-bind", detail) != 0)
		return 1;
	printf("bound %s to %s\n", addr, url);
	tell_daemon(c);
	return 0;
}

static int cmd_mud_unbind(struct ctl *c)
{
	char addr[INET6_ADDRSTRLEN];
	if (canonical_address(option(c, "--ip"), addr, sizeof(addr)) != 0) {
		fprintf(stderr, "anchorctl: mud unbind needs --ip ADDRESS\n");
		return 2;
	}
	int ret = store_mud_unbind(c->store, addr);
	if (ret < 0) {
		fprintf(stderr, "anchorctl: %s\n", store_error(c->store));
		return 1;
	}
	if (ret > 0) {
		printf("%s had no MUD URL\n", addr);
		return 0;
	}
	if (audit(c, "mud-unbind", addr) != 0)
		return 1;
	printf("unbound %s\n", addr);
	tell_daemon(c);
	return 0;
}

static int print_binding(void *ctx, const struct store_mud_binding *b)
{
	printf("%-39s %-8s %s\n", b->address, b->source, b->url);
	return 0;
}

static void print_mud_files(json_t *muds)
{
	size_t i;
	json_t *m;
	json_array_foreach(muds, i, m) {
		printf("%-10s %4" JSON_INTEGER_FORMAT " names  %s\n",
		       json_string_value(json_object_get(m, "status")),
		       json_integer_value(json_object_get(m, "names")),
		       json_string_value(json_object_get(m, "url")));
		const char *signer = json_string_value(json_object_get(m,
								       "signer"));
		const char *error = json_string_value(json_object_get(m,
								      "error"));
		if (signer && *signer)
			printf("           signed by %s\n", signer);
		if (error)
			printf("           last error: %s\n", error);
	}
}

static int cmd_mud_show(struct ctl *c)
{
	char why[512];
	json_t *j = control_call(c, "policy", why, sizeof(why));
	if (j && flag(c, "--json")) {
		json_dumpf(j, stdout, JSON_INDENT(2));
		printf("\n");
		json_decref(j);
		return 0;
	}
	printf("bindings:\n");
	int ret = store_mud_binding_each(c->store, print_binding, NULL);
	if (j) {
		printf("MUD files:\n");
		print_mud_files(json_object_get(j, "mud"));
	} else {
		printf("(the daemon does not answer, so no MUD file states: "
		       "%s)\n", why);
	}
	json_decref(j);
	if (ret != 0)
		fprintf(stderr, "anchorctl: %s\n", store_error(c->store));
	return ret != 0;
}

static int cmd_mud_fetch(struct ctl *c)
{
	char cmd[300];
	if (c->argc > 0 && bad_mud_url(c->argv[0])) {
		fprintf(stderr, "anchorctl: %s: %s\n", c->argv[0],
			bad_mud_url(c->argv[0]));
		return 2;
	}
	snprintf(cmd, sizeof(cmd), "mud-fetch%s%s", c->argc > 0 ? " " : "",
		 c->argc > 0 ? c->argv[0] : "");
	return control_simple(c, cmd);
}

/* Copy the daemon's event lines to stdout until it or we stop. */
static int cmd_events(struct ctl *c)
{
	char why[512], buf[4096];
	int fd = control_connect(c->conf.control, why, sizeof(why));
	if (fd < 0) {
		fprintf(stderr, "anchorctl: %s\n", why);
		return 1;
	}
	ssize_t n = write(fd, "events\n", 7);
	setvbuf(stdout, NULL, _IOLBF, 0);
	while (n > 0 && (n = read(fd, buf, sizeof(buf))) > 0)
		if (fwrite(buf, 1, (size_t)n, stdout) != (size_t)n)
			break;
	close(fd);
	return 0;
}

static const struct command {
	const char *words[3];
	int (*run)(struct ctl *c);
	bool store;
} commands[] = {
	{ { "pin" }, cmd_pin, false },
	{ { "token", "new" }, cmd_token_new, true },
	{ { "est", "user", "add" }, cmd_est_user_add, true },
	{ { "est", "user", "del" }, cmd_est_user_del, true },
	{ { "est", "user", "list" }, cmd_est_user_list, true },
	{ { "cert", "list" }, cmd_cert_list, true },
	{ { "cert", "pending" }, cmd_cert_pending, true },
	{ { "cert", "approve" }, cmd_cert_approve, true },
	{ { "cert", "deny" }, cmd_cert_deny, true },
	{ { "cert", "revoke" }, cmd_cert_revoke, true },
	{ { "cert", "show" }, cmd_cert_show, true },
	{ { "audit" }, cmd_audit, true },
	{ { "user", "add" }, cmd_user_add, true },
	{ { "user", "passwd" }, cmd_user_passwd, true },
	{ { "user", "del" }, cmd_user_del, true },
	{ { "user", "list" }, cmd_user_list, true },
	{ { "code", "new" }, cmd_code_new, true },
	{ { "code", "list" }, cmd_code_list, true },
	{ { "code", "revoke" }, cmd_code_revoke, true },
	{ { "device", "list" }, cmd_device_list, true },
	{ { "device", "revoke" }, cmd_device_revoke, true },
	{ { "status" }, cmd_status, true },
	{ { "reload" }, cmd_reload, false },
	{ { "cache", "flush" }, cmd_cache_flush, false },
	{ { "stats" }, cmd_stats, false },
	{ { "dnr" }, cmd_dnr, false },
	{ { "mud", "bind" }, cmd_mud_bind, true },
	{ { "mud", "unbind" }, cmd_mud_unbind, true },
	{ { "mud", "show" }, cmd_mud_show, true },
	{ { "mud", "fetch" }, cmd_mud_fetch, false },
	{ { "events" }, cmd_events, false },
	{ { "iot", "allow" }, cmd_iot_allow, true },
	{ { "iot", "list" }, cmd_iot_list, true },
	{ { "iot", "remove" }, cmd_iot_remove, true },
};

/* The command whose words start the arguments; *used says how many. */
static const struct command *find_command(int argc, char **argv, int *used)
{
	for (size_t i = 0; i < ARRAY_SIZE(commands); i++) {
		int n = 0;
		while (n < 3 && commands[i].words[n] && n < argc &&
		       strcmp(commands[i].words[n], argv[n]) == 0)
			n++;
		if (n == 3 || !commands[i].words[n]) {
			*used = n;
			return &commands[i];
		}
	}
	return NULL;
}

static void set_actor(struct ctl *c)
{
	struct passwd *pw = getpwuid(getuid());
	snprintf(c->actor, sizeof(c->actor), "anchorctl:%s",
		 pw ? pw->pw_name : "?");
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *config = ANCHORD_CONFIG;
	int opt, used;
	while ((opt = getopt_long(argc, argv, "+c:h", opts, NULL)) != -1) {
		switch (opt) {
		case 'c': config = optarg; break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	const struct command *cmd = find_command(argc - optind, argv + optind,
						 &used);
	if (!cmd) {
		usage(stderr);
		return 2;
	}
	if (sodium_init() < 0)
		return 1;
	log_threshold = LOG_LEVEL_WARNING;
	struct ctl c = { .argc = argc - optind - used,
			 .argv = argv + optind + used };
	char err[1024];
	if (config_load(config, &c.conf, err, sizeof(err)) != 0) {
		fprintf(stderr, "anchorctl: %s\n", err);
		return 1;
	}
	set_actor(&c);
	int ret = cmd->store && open_store(&c) != 0 ? 1 : cmd->run(&c);
	store_close(c.store);
	config_free(&c.conf);
	return ret;
}
