/*  anchord - daemon/main.c: the resolver daemon.
 *
 *  anchord -c FILE          run in the foreground, log to stderr
 *  anchord -c FILE --check  validate the configuration and exit
 *  anchord --version
 *
 *  SIGHUP reloads the configuration (a bad one is refused and the old one
 *  keeps serving); SIGTERM and SIGINT drain queries in flight and exit 0.
 */
#include "daemon/daemon.h"
#include "enroll/enroll.h"
#include "est/est.h"
#include "pki/pki.h"
#include "store/store.h"

#include <gnutls/gnutls.h>
#include <ldns/ldns.h>

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#define DRAIN_MS 5000	/* longest wait for queries in flight at exit */
#define REVOCATION_POLL_MS 5000	/* anchorctl revokes in the store */
#define ERRLEN 1024

struct daemon {
	char *config_path;
	struct anchord_config conf;
	struct dns_env *env;
	struct net_tls_server *tls;
	struct store *store;		/* for revocations */
	int64_t revocation_mark;
	uv_timer_t revocation_timer;
	struct device_directory *devices;
	int64_t device_mark;
	struct dns_cache *cache;
	struct daemon_workers *workers;
	struct querylog *querylog;	/* NULL unless log.queries */
	uv_loop_t *loop;
	uv_signal_t sig_hup, sig_term, sig_int;
	struct control *control;
	struct policy_host *policy;
	time_t started;
};

static void usage(FILE *out)
{
	fprintf(out,
		"usage: anchord -c FILE [--check]\n"
		"       anchord --version\n"
		"\n"
		"  -c, --config FILE  configuration file (anchord.conf(5))\n"
		"      --check        validate the configuration and exit\n"
		"  -V, --version      print the version and exit\n"
		"  -h, --help         this text\n");
}

static int load_config(const char *path, struct anchord_config *conf)
{
	char err[ERRLEN];
	if (config_load(path, conf, err, sizeof(err)) != 0) {
		log_error("config", "%s", err);
		return -1;
	}
	return 0;
}

static int add_local_data(struct dns_conf *d, const char *text,
			  const char *origin)
{
	struct dns_local_data_conf *arr = realloc(d->data, (d->n_data + 1) *
						  sizeof(*arr));
	if (!arr)
		return -1;
	d->data = arr;
	arr[d->n_data] = (struct dns_local_data_conf){
		.text = strdup(text), .origin = { strdup(origin), 0 } };
	if (!arr[d->n_data].text || !arr[d->n_data].origin.file) {
		free(arr[d->n_data].text);
		free((char *)arr[d->n_data].origin.file);
		return -1;
	}
	d->n_data++;
	return 0;
}

/* tls.publish-tlsa: a TLSA 3 1 1 record of the certificate (DANE-EE,
 * SubjectPublicKeyInfo, SHA-256) at _port._tcp.<server.name> for every
 * TLS port, in local data. */
static int add_tlsa_records(struct anchord_config *c, const char *cert)
{
	uint8_t digest[PKI_DIGEST_LEN];
	char err[256], hex[PKI_HEX_LEN];
	if (pki_pin_of_file(cert, digest, err, sizeof(err)) != 0) {
		log_error("config", "tls.publish-tlsa: %s", err);
		return -1;
	}
	pki_pin_to_hex(digest, hex);
	uint16_t ports[16];
	size_t n = config_tls_ports(c, ports, ARRAY_SIZE(ports));
	const char *dot = c->name[strlen(c->name) - 1] == '.' ? "" : ".";
	for (size_t i = 0; i < n; i++) {
		char text[512];
		snprintf(text, sizeof(text), "_%u._tcp.%s%s 300 IN TLSA 3 1 1 %s",
			 ports[i], c->name, dot, hex);
		if (add_local_data(&c->dns, text, "tls.publish-tlsa") != 0) {
			log_error("config", "tls.publish-tlsa: out of memory");
			return -1;
		}
		log_info("tls", "publishing %s", text);
	}
	return 0;
}

/* Build what requests run under. With tls.publish-tlsa this needs the
 * certificate (cert NULL: none yet, as with --check and an automatic
 * one). */
static struct dns_env *build_env(struct anchord_config *conf, const char *cert)
{
	char err[ERRLEN];
	if (conf->tls.publish_tlsa && cert && add_tlsa_records(conf, cert) != 0)
		return NULL;
	struct dns_env *env = dns_env_build(&conf->dns, err, sizeof(err));
	if (!env)
		log_error("config", "%s", err);
	return env;
}

/* Root's work is done (ports bound, query log open): confine the
 * writes, give the state to server.user and become it. */
static int settle_privileges(const struct anchord_config *c,
			     const struct privileges_user *u, bool as_user)
{
	if (as_user && privileges_hand_over(u, c->state_dir, c->log_queries ?
					    c->queries_file : NULL) != 0)
		return -1;
	return as_user ? privileges_drop(u, c->policy.mud.nftables) : 0;
}

static void log_pin(const char *cert)
{
	uint8_t digest[PKI_DIGEST_LEN];
	char err[256], pin[PKI_PIN_LEN], hex[PKI_HEX_LEN];
	if (pki_pin_of_file(cert, digest, err, sizeof(err)) != 0) {
		log_warning("tls", "%s", err);
		return;
	}
	pki_pin_to_base64(digest, pin);
	pki_pin_to_hex(digest, hex);
	log_info("tls", "serving %s: SPKI pin (sha256) %s, TLSA 3 1 1 %s", cert,
		 pin, hex);
}

/* The CA's CRL, so that TLS listeners refuse revoked client
 * certificates. */
static int make_crl(struct daemon *d, const struct anchord_config *c,
		    gnutls_datum_t *crl)
{
	char err[ERRLEN];
	struct pki_ca *ca;
	int ret = pki_ca_open(c->state_dir, c->tls.ca_certificate,
			      c->tls.ca_key, &ca, err, sizeof(err));
	if (ret != 0) {
		log_error("pki", "%s", err);
		return -1;
	}
	if (store_revocation_mark(d->store, &d->revocation_mark) != 0 ||
	    est_make_crl(ca, d->store, 7 * 86400, crl) != 0) {
		log_error("pki", "the CRL: %s", store_error(d->store));
		ret = -1;
	}
	pki_ca_free(ca);
	return ret;
}

/* A BRSKI registrar (there is one when IDevIDs may enroll) signs its
 * voucher requests with a certificate of its own, made here before the
 * workers start so that they do not race to make it. */
static int ensure_registrar_cert(const struct anchord_config *c)
{
	if (!c->est.enabled || !c->est.n_manufacturer_trust)
		return 0;
	struct pki_auto_request r = {
		.state_dir = c->state_dir, .name = c->name,
		.ca_cert = c->tls.ca_certificate, .ca_key = c->tls.ca_key,
	};
	struct pki_files files;
	char err[ERRLEN];
	if (pki_ensure_registrar_cert(&r, &files, err, sizeof(err)) != 0) {
		log_error("pki", "%s", err);
		return -1;
	}
	return 0;
}

/* The credentials of the TLS listeners: the configured files, or a
 * certificate of the CA for server.name and tls.addresses. */
static struct net_tls_server *build_tls(struct daemon *d,
					const struct anchord_config *c)
{
	char err[ERRLEN];
	struct pki_files files;
	if (pki_ensure_ca(c->state_dir, c->tls.ca_certificate, c->tls.ca_key,
			  &files, err, sizeof(err)) != 0) {
		log_error("pki", "%s", err);
		return NULL;
	}
	const char *cert = c->tls.certificate, *key = c->tls.key;
	if (!cert) {
		struct pki_auto_request r = {
			.state_dir = c->state_dir, .name = c->name,
			.ca_cert = c->tls.ca_certificate,
			.ca_key = c->tls.ca_key,
			.addresses = c->tls.addresses,
			.n_addresses = c->tls.n_addresses,
		};
		bool issued;
		if (pki_ensure_server_cert(&r, &files, &issued, err,
					   sizeof(err)) != 0) {
			log_error("pki", "%s", err);
			return NULL;
		}
		if (issued)
			log_info("pki", "issued a server certificate for %s",
				 c->name);
		cert = files.cert;
		key = files.key;
	}
	if (ensure_registrar_cert(c) != 0)
		return NULL;
	uint8_t secret[64];
	gnutls_datum_t crl = { NULL, 0 };
	if (c->tls.session_tickets &&
	    pki_ticket_secret(c->state_dir, secret, err, sizeof(err)) != 0) {
		log_error("tls", "%s", err);
		return NULL;
	}
	if (make_crl(d, c, &crl) != 0)
		return NULL;
	struct net_tls_server_conf tc = {
		.cert_file = cert,
		.key_file = key,
		.client_ca_file = files.ca_cert,
		.client_certs = c->tls.client_certs,
		.ticket_secret = c->tls.session_tickets ? secret : NULL,
		.handshake_timeout_ms = c->tls.handshake_timeout_ms,
		.crl = crl.data,
		.crl_len = crl.size,
		.any_client_issuer = c->est.enabled &&
				     c->est.n_manufacturer_trust > 0,
	};
	struct net_tls_server *tls = net_tls_server_new(&tc, err, sizeof(err));
	sodium_memzero(secret, sizeof(secret));
	gnutls_free(crl.data);
	if (!tls) {
		log_error("tls", "%s", err);
		return NULL;
	}
	log_pin(cert);
	return tls;
}

/* --check: configured certificate files must load; nothing is created. */
static int check_tls_files(const struct anchord_config *c)
{
	if (!c->tls.certificate || !config_has_tls(c))
		return 0;
	char err[ERRLEN];
	struct net_tls_server_conf tc = { .cert_file = c->tls.certificate,
					  .key_file = c->tls.key };
	struct net_tls_server *tls = net_tls_server_new(&tc, err, sizeof(err));
	if (!tls) {
		log_error("config", "tls: %s", err);
		return -1;
	}
	net_tls_server_unref(tls);
	return 0;
}

/* Settings that only a restart can change. */
static void warn_restart_only(const struct anchord_config *old,
			      const struct anchord_config *new)
{
	bool same_listen = old->n_listen == new->n_listen;
	for (size_t i = 0; same_listen && i < old->n_listen; i++)
		same_listen = util_addr_equal(
			(const struct sockaddr *)&old->listen[i].addr.ss,
			(const struct sockaddr *)&new->listen[i].addr.ss) &&
			old->listen[i].kind == new->listen[i].kind &&
			old->listen[i].client_certs ==
				new->listen[i].client_certs;
	if (!same_listen || old->workers != new->workers ||
	    strcmp(old->state_dir, new->state_dir) != 0)
		log_warning("config", "listen, server.workers and "
			    "server.state-dir take effect on restart");
	if (old->log_queries != new->log_queries ||
	    strcmp(old->queries_file, new->queries_file) != 0 ||
	    old->queries_max_size != new->queries_max_size)
		log_warning("config", "log.queries, log.queries-file and "
			    "log.queries-max-size take effect on restart");
}

static int reload(struct daemon *d)
{
	struct anchord_config conf;
	struct dns_env *env = NULL;
	char cert[PATH_MAX];
	log_info("config", "reloading %s", d->config_path);
	if (load_config(d->config_path, &conf) != 0) {
		log_error("config", "reload refused; the running "
			  "configuration stays in force");
		return -1;
	}
	struct net_tls_server *tls = NULL;
	config_server_cert(&conf, cert, sizeof(cert));
	if ((d->tls && !(tls = build_tls(d, &conf))) ||
	    !(env = build_env(&conf, d->tls ? cert : NULL))) {
		log_error("config", "reload refused; the running "
			  "configuration stays in force");
		net_tls_server_unref(tls);
		config_free(&conf);
		return -1;
	}
	/* The policy reads the daemon's configuration: give it the new
	 * section, and take it back if its lists do not load. */
	struct policy_conf old_policy = d->conf.policy;
	d->conf.policy = conf.policy;
	char why[ERRLEN];
	if (policy_host_reload(d->policy, why, sizeof(why)) != 0) {
		d->conf.policy = old_policy;
		log_error("config", "%s; reload refused, the running "
			  "configuration stays in force", why);
		net_tls_server_unref(tls);
		dns_env_unref(env);
		config_free(&conf);
		return -1;
	}
	conf.policy = old_policy;
	warn_restart_only(&d->conf, &conf);
	log_threshold = conf.log_level;
	if (tls) {
		workers_set_tls(d->workers, tls);
		net_tls_server_unref(d->tls);
		d->tls = tls;
	}
	dns_cache_set_limit(d->cache, conf.dns.cache_size);
	/* Cached verdicts hold only under the anchors they were made with. */
	if (!dns_conf_same_dnssec(&d->conf.dns, &conf.dns))
		dns_cache_flush(d->cache, NULL);
	workers_set_env(d->workers, env);
	dns_env_unref(d->env);
	d->env = env;
	/* Workers keep pointers into the listen and server settings of the
	 * configuration they started with; keep that one, take the rest. */
	struct dns_conf old_dns = d->conf.dns;
	d->conf.dns = conf.dns;
	d->conf.log_level = conf.log_level;
	conf.dns = old_dns;
	config_free(&conf);
	log_info("config", "reloaded");
	return 0;
}

static void on_signal(uv_signal_t *s, int signum)
{
	struct daemon *d = s->data;
	if (signum == SIGHUP) {
		/* logrotate renames the file, then signals: a new file */
		querylog_reopen(d->querylog);
		reload(d);
		return;
	}
	log_info("daemon", "%s: answering queries in flight, then exiting",
		 strsignal(signum));
	uv_stop(d->loop);
}

static void watch_signals(struct daemon *d)
{
	uv_signal_t *sigs[] = { &d->sig_hup, &d->sig_term, &d->sig_int };
	int nums[] = { SIGHUP, SIGTERM, SIGINT };
	for (size_t i = 0; i < ARRAY_SIZE(sigs); i++) {
		uv_signal_init(d->loop, sigs[i]);
		sigs[i]->data = d;
		uv_signal_start(sigs[i], on_signal, nums[i]);
	}
}

static void log_listeners(const struct anchord_config *c)
{
	for (size_t i = 0; i < c->n_listen; i++) {
		char a[UTIL_ADDR_STRLEN];
		static const char *const what[] = {
			[LISTEN_DNS] = "dns: UDP, TCP",
			[LISTEN_DOT] = "dot: DNS over TLS",
			[LISTEN_HTTPS] = "https: DoH and HTTP services",
		};
		log_info("daemon", "listening on %s (%s)",
			 util_addr_str((const struct sockaddr *)&c->listen[i].addr.ss,
				       a, sizeof(a)),
			 what[c->listen[i].kind]);
	}
}

/* Every connection is a descriptor: take all the system allows. */
static void raise_fd_limit(void)
{
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0)
		log_info("daemon", "up to %llu open descriptors",
			 (unsigned long long)rl.rlim_cur);
}

static int open_store(struct daemon *d)
{
	char path[PATH_MAX], err[ERRLEN];
	if (util_path_join(path, sizeof(path), d->conf.state_dir, STORE_FILE) ||
	    store_open(path, &d->store, err, sizeof(err)) != 0) {
		log_error("store", "%s", err);
		return -1;
	}
	return 0;
}

/* Devices enrolled or revoked by another process (anchorctl). */
static void check_devices(struct daemon *d)
{
	int64_t mark;
	if (!d->store || store_device_mark(d->store, &mark) != 0 ||
	    mark == d->device_mark)
		return;
	if (devices_load(d->devices, d->store) == 0)
		d->device_mark = mark;
}

/* anchorctl revokes in the store; new TLS handshakes learn of it from a
 * CRL rebuilt here, on a timer or at once when anchorctl says so. */
static void refresh(struct daemon *d)
{
	int64_t mark;
	check_devices(d);
	if (d->policy)
		policy_host_refresh(d->policy);
	if (!d->tls || store_revocation_mark(d->store, &mark) != 0 ||
	    mark == d->revocation_mark)
		return;
	struct net_tls_server *tls = build_tls(d, &d->conf);
	if (!tls)
		return;
	log_info("tls", "certificates were revoked: new CRL in force");
	workers_set_tls(d->workers, tls);
	net_tls_server_unref(d->tls);
	d->tls = tls;
}

static void check_revocations(uv_timer_t *t)
{
	refresh(t->data);
}

/* ------------------------------------------------------------------ control socket */

static json_t *done(int rc, const char *why)
{
	return rc == 0 ? json_pack("{s:b}", "ok", 1)
		       : json_pack("{s:b, s:s}", "ok", 0, "error", why);
}

/* cache-flush [NAME]: everything, or one name with all its types. */
static json_t *flush_cache(struct daemon *d, const char *arg)
{
	if (!*arg) {
		dns_cache_flush(d->cache, NULL);
		log_info("control", "cache flushed");
		return done(0, NULL);
	}
	ldns_rdf *name = ldns_dname_new_frm_str(arg);
	if (!name)
		return done(-1, "not a domain name");
	ldns_dname2canonical(name);
	dns_cache_flush(d->cache, ldns_rdf_data(name));
	ldns_rdf_deep_free(name);
	log_info("control", "cache flushed for %s", arg);
	return done(0, NULL);
}

static json_t *control_run(void *ctx, const char *line)
{
	struct daemon *d = ctx;
	size_t n = strcspn(line, " ");
	const char *arg = line[n] ? line + n + 1 : "";
	if (n == 6 && strncmp(line, "status", n) == 0)
		return control_status(&d->conf, d->workers,
				      (int64_t)(time(NULL) - d->started));
	if (n == 5 && strncmp(line, "stats", n) == 0)
		return control_stats(d->workers);
	if (n == 6 && strncmp(line, "reload", n) == 0)
		return done(reload(d), "refused: the log says why; the "
			    "running configuration stays in force");
	if (n == 11 && strncmp(line, "cache-flush", n) == 0)
		return flush_cache(d, arg);
	if (n == 7 && strncmp(line, "refresh", n) == 0) {
		refresh(d);
		return done(0, NULL);
	}
	if (n == 6 && strncmp(line, "policy", n) == 0)
		return policy_host_status(d->policy);
	if (n == 9 && strncmp(line, "mud-fetch", n) == 0)
		return done(policy_host_fetch_now(d->policy, arg), "no such MUD "
			    "URL, or fetching is off (mud.fetch)");
	return done(-1, "unknown command (status, stats, reload, "
		    "cache-flush [NAME], refresh, policy, mud-fetch [URL], events)");
}

/* --check reads the blocklists and MUD signers as a start would. */
static int check_policy(const struct anchord_config *c)
{
	char err[ERRLEN];
	struct policy_lists *lists = policy_lists_load(&c->policy, err,
						       sizeof(err));
	struct policy_mud_signers *signers = lists ? policy_mud_signers_load(
		c->policy.mud.signers, c->policy.mud.n_signers, err,
		sizeof(err)) : NULL;
	policy_mud_signers_free(signers);
	policy_lists_unref(lists);
	if (!signers)
		log_error("policy", "%s", err);
	return signers ? 0 : -1;
}

static void broadcast_event(void *ctx, const char *json_line)
{
	struct daemon *d = ctx;
	control_broadcast(d->control, json_line);
}

static int start_policy(struct daemon *d)
{
	char err[ERRLEN];
	d->policy = policy_host_new(d->loop, &d->conf, d->store, d->workers,
				    err, sizeof(err));
	if (!d->policy) {
		log_error("policy", "%s", err);
		return -1;
	}
	policy_host_set_event_listener(d->policy, broadcast_event, d);
	return 0;
}

static int start_control(struct daemon *d)
{
	char err[ERRLEN];
	d->control = control_start(d->loop, d->conf.control, control_run, d,
				   err, sizeof(err));
	if (!d->control)
		log_error("control", "%s", err);
	else
		log_info("control", "control socket %s", d->conf.control);
	return d->control ? 0 : -1;
}

/* The enrollment secrets exist before the workers start, so that they all
 * read the same ones rather than racing to create them. */
static int prepare_enroll(const struct anchord_config *c)
{
	struct pake_opaque_server_keys keys;
	uint8_t codes_key[ENROLL_KEY_BYTES];
	char err[ERRLEN];
	if (!c->est.enabled || !c->enroll.enabled || !config_has_tls(c))
		return 0;
	int rc = enroll_server_keys_load(c->state_dir, &keys, err,
					 sizeof(err)) == 0 &&
		 enroll_codes_key_load(c->state_dir, codes_key, err,
				       sizeof(err)) == 0 ? 0 : -1;
	sodium_memzero(&keys, sizeof(keys));
	sodium_memzero(codes_key, sizeof(codes_key));
	if (rc != 0)
		log_error("enroll", "%s", err);
	return rc;
}

/* Opened before privileges are dropped, like the listeners; reopening
 * (SIGHUP) then needs a directory server.user may write. */
static int open_querylog(struct daemon *d)
{
	char err[ERRLEN];
	const struct anchord_config *c = &d->conf;
	if (!c->log_queries)
		return 0;
	d->querylog = querylog_open(c->queries_file, c->queries_max_size,
				    c->workers, err, sizeof(err));
	if (!d->querylog) {
		log_error("querylog", "%s", err);
		return -1;
	}
	workers_set_querylog(d->workers, d->querylog);
	log_info("querylog", "logging queries to %s", c->queries_file);
	return 0;
}

static int run(struct daemon *d)
{
	char err[ERRLEN];
	struct privileges_user user = { .name = "" };
	bool as_user = d->conf.user && geteuid() == 0;
	if (as_user && privileges_lookup(d->conf.user, &user) != 0)
		return 1;
	int ret = util_mkdir_p(d->conf.state_dir, 0700);
	if (ret != 0) {
		log_error("daemon", "server.state-dir %s: %s", d->conf.state_dir,
			  strerror(-ret));
		return 1;
	}
	if (privileges_secure_state(d->conf.state_dir) != 0)
		return 1;
	if (config_has_tls(&d->conf) && (open_store(d) != 0 ||
					 !(d->tls = build_tls(d, &d->conf))))
		return 1;
	/* MUD bindings, saved MUD files and device profiles live there. */
	if (!d->store && policy_host_needed(&d->conf) && open_store(d) != 0)
		return 1;
	if (prepare_enroll(&d->conf) != 0)
		return 1;
	char cert[PATH_MAX];
	config_server_cert(&d->conf, cert, sizeof(cert));
	if (!(d->env = build_env(&d->conf, d->tls ? cert : NULL)))
		return 1;
	d->cache = dns_cache_new(d->conf.dns.cache_size);
	d->workers = d->cache ? workers_bind(&d->conf, err, sizeof(err)) : NULL;
	if (!d->workers) {
		log_error("daemon", "%s", d->cache ? err : "out of memory");
		return 1;
	}
	/* Landlock before the query log's writer thread, which inherits it */
	if (sandbox_apply(&d->conf) != 0 || open_querylog(d) != 0 ||
	    settle_privileges(&d->conf, &user, as_user) != 0)
		return 1;
	raise_fd_limit();
	d->loop = uv_default_loop();
	d->started = time(NULL);
	watch_signals(d);
	uv_timer_init(d->loop, &d->revocation_timer);
	d->revocation_timer.data = d;
	if (start_control(d) != 0 || start_policy(d) != 0)
		return 1;
	if (d->tls || d->store)
		uv_timer_start(&d->revocation_timer, check_revocations,
			       REVOCATION_POLL_MS, REVOCATION_POLL_MS);
	d->devices = devices_new();
	if (!d->devices) {
		log_error("daemon", "out of memory");
		return 1;
	}
	if (d->store)
		check_devices(d);
	workers_set_devices(d->workers, d->devices);
	if (workers_start(d->workers, d->cache, d->env, d->tls) != 0) {
		log_error("daemon", "cannot start the workers");
		return 1;
	}
	log_listeners(&d->conf);
	log_info("daemon", "anchord %s ready (%u worker%s)", ANCHORD_VERSION,
		 d->conf.workers, d->conf.workers == 1 ? "" : "s");
	uv_run(d->loop, UV_RUN_DEFAULT);
	workers_stop(d->workers, DRAIN_MS);
	d->workers = NULL;
	querylog_close(d->querylog);	/* after the last answer */
	d->querylog = NULL;
	log_info("daemon", "stopped");
	return 0;
}

static void cleanup(struct daemon *d)
{
	if (d->loop) {
		uv_close((uv_handle_t *)&d->sig_hup, NULL);
		uv_close((uv_handle_t *)&d->sig_term, NULL);
		uv_close((uv_handle_t *)&d->sig_int, NULL);
		uv_close((uv_handle_t *)&d->revocation_timer, NULL);
		policy_host_close(d->policy, NULL, NULL);
		control_close(d->control);
		uv_run(d->loop, UV_RUN_DEFAULT);
		uv_loop_close(d->loop);
	}
	if (d->env)
		dns_env_unref(d->env);
	if (!d->workers)	/* else workers may still log into it */
		querylog_close(d->querylog);
	net_tls_server_unref(d->tls);
	store_close(d->store);
	devices_free(d->devices);
	dns_cache_free(d->cache);
	config_free(&d->conf);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "check", no_argument, NULL, 'k' },
		{ "version", no_argument, NULL, 'V' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct daemon d = { 0 };
	bool check = false;
	int opt;
	while ((opt = getopt_long(argc, argv, "c:Vh", opts, NULL)) != -1) {
		switch (opt) {
		case 'c': d.config_path = optarg; break;
		case 'k': check = true; break;
		case 'V': printf("anchord %s\n", ANCHORD_VERSION); return 0;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (!d.config_path || optind != argc) {
		usage(stderr);
		return 2;
	}
	if (sodium_init() < 0) {
		fprintf(stderr, "anchord: libsodium failed to initialise\n");
		return 1;
	}
	util_hash_init();
	signal(SIGPIPE, SIG_IGN);
	if (load_config(d.config_path, &d.conf) != 0)
		return 1;
	log_threshold = d.conf.log_level;
	if (check) {
		/* An automatic certificate may not exist yet: its TLSA
		 * records are checked when anchord starts. */
		if (check_tls_files(&d.conf) != 0 ||
		    !(d.env = build_env(&d.conf, d.conf.tls.certificate)) ||
		    check_policy(&d.conf) != 0) {
			cleanup(&d);
			return 1;
		}
		printf("%s: configuration is valid\n", d.config_path);
		cleanup(&d);
		return 0;
	}
	int ret = run(&d);
	cleanup(&d);
	return ret;
}
