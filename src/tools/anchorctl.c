/*  anchord - tools/anchorctl.c: the administrator's tool.
 *
 *  It reads anchord's configuration to find the state directory and works
 *  on the store there, which the daemon shares (SQLite in WAL mode: both
 *  may use it at once). Every change it makes goes to the audit log.
 */
#include "daemon/daemon.h"
#include "pki/pki.h"
#include "store/store.h"

#include <ctype.h>
#include <errno.h>
#include <gnutls/gnutls.h>
#include <getopt.h>
#include <pwd.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#define TOKEN_BYTES 32

struct ctl {
	struct anchord_config conf;
	struct store *store;
	char actor[96];
	int argc;
	char **argv;			/* the command's own arguments */
};

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
		"  audit [--after ID]           the audit log\n",
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

static int audit(struct ctl *c, const char *action, const char *detail)
{
	if (store_audit(c->store, c->actor, action, detail) != 0) {
		fprintf(stderr, "anchorctl: %s\n", store_error(c->store));
		return 1;
	}
	return 0;
}

/* --name VALUE among the command's arguments, or NULL. */
static const char *option(struct ctl *c, const char *name)
{
	for (int i = 0; i + 1 < c->argc; i++)
		if (strcmp(c->argv[i], name) == 0)
			return c->argv[i + 1];
	return NULL;
}

static bool flag(struct ctl *c, const char *name)
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
	return audit(c, "revoke", serial);
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

/* ------------------------------------------------------------------ dispatch */

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
