/*  anchord - daemon/daemon.h: the interface of the daemon layer.
 *
 *  Configuration (anchord.conf, YAML) and the workers: one libuv loop per
 *  thread, each with its own SO_REUSEPORT sockets, all sharing one cache.
 */
#pragma once

#include "dns/dns.h"
#include "net/net.h"
#include "util/util.h"

/* ------------------------------------------------------------------ configuration */

enum listen_kind {
	LISTEN_DNS = 0,			/**< plain DNS: UDP and TCP */
	LISTEN_DOT,			/**< DNS over TLS (RFC 7858) */
};

/** The tls section. */
struct tls_conf {
	char *certificate;		/**< PEM path; NULL: auto (built-in CA) */
	char *key;			/**< PEM path; NULL: auto */
	struct util_addr *addresses;	/**< IP SANs of the auto certificate */
	size_t n_addresses;
	bool addresses_given;
	enum net_client_cert_mode client_certs;
	uint64_t handshake_timeout_ms;
	bool session_tickets;
	bool publish_tlsa;		/**< TLSA 3 1 1 records in local data */
};

struct listen_conf {
	struct util_addr addr;
	enum listen_kind kind;
	unsigned max_connections;	/**< per worker, stream transports */
	unsigned line;
};

struct anchord_config {
	char *file;
	/* server */
	char *name;			/**< the resolver's name (ADN) */
	char *state_dir;
	unsigned workers;
	char *user;			/**< drop privileges to this user */
	uint64_t tcp_idle_timeout_ms;
	unsigned max_connections_per_client;
	unsigned max_pipelined;
	/* listen */
	struct listen_conf *listen;
	size_t n_listen;
	struct tls_conf tls;
	/* upstream, cache, local data, dnssec */
	bool upstream_system;
	bool trust_anchors_given;
	struct dns_conf dns;
	/* log */
	enum log_level log_level;
};

/** Load and validate a configuration file. On error, err holds
 *  "file:line: key: reason" and -1 is returned. */
int config_load(const char *path, struct anchord_config *out, char *err,
		size_t errlen);
/** The same from memory; name stands for the file in messages. */
int config_load_buffer(const char *text, size_t len, const char *name,
		       struct anchord_config *out, char *err, size_t errlen);
void config_free(struct anchord_config *c);
/** Every key the parser knows, "section.key" (NULL-terminated); the tests
 *  check anchord.conf(5) against it. */
extern const char *const config_known_keys[];

/* ------------------------------------------------------------------ workers */

struct daemon_workers;

/** Whether a listener of this kind speaks TLS. */
bool config_listen_is_tls(enum listen_kind kind);
/** Whether some listener speaks TLS. */
bool config_has_tls(const struct anchord_config *c);
/** The distinct ports of the TLS listeners (at most max); the TLSA
 *  records of anchord's certificate live at _port._tcp.<server.name>. */
size_t config_tls_ports(const struct anchord_config *c, uint16_t *ports,
			size_t max);

/** Bind every listener once per worker (before privileges are dropped).
 *  Returns NULL and writes err on failure. */
struct daemon_workers *workers_bind(const struct anchord_config *c,
				    char *err, size_t errlen);
/** Start the worker threads; tls serves the TLS listeners (may be NULL
 *  when there are none). */
int workers_start(struct daemon_workers *ws, struct dns_cache *cache,
		  struct dns_env *env, struct net_tls_server *tls);
/** Hand a new configuration generation to every worker. */
void workers_set_env(struct daemon_workers *ws, struct dns_env *env);
/** New TLS connections use these credentials (a reload); existing ones
 *  keep theirs. */
void workers_set_tls(struct daemon_workers *ws, struct net_tls_server *tls);
/** Stop accepting, answer what is in flight (at most drain_ms), stop the
 *  threads and free everything. */
void workers_stop(struct daemon_workers *ws, uint64_t drain_ms);
