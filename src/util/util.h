/*  anchord - util/util.h: the interface of the utility layer.
 *
 *  Logging, parsing of the value types that configuration files use
 *  (durations, sizes, addresses), keyed hashing for hash tables that
 *  network input fills, and an intrusive list. Depends on nothing but libc
 *  and libsodium.
 */
#pragma once

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define MIN(a, b) ((a) < (b) ? (a) : (b))
#define MAX(a, b) ((a) > (b) ? (a) : (b))
#define container_of(ptr, type, member) \
	((type *)((char *)(ptr) - offsetof(type, member)))
#define likely(x) __builtin_expect(!!(x), 1)
#define unlikely(x) __builtin_expect(!!(x), 0)

/* ------------------------------------------------------------------ log */

enum log_level {
	LOG_LEVEL_ERROR = 0,
	LOG_LEVEL_WARNING,
	LOG_LEVEL_INFO,
	LOG_LEVEL_DEBUG,
};

/** The level below which messages are dropped; set from log.level. */
extern enum log_level log_threshold;

/** Parse "error|warning|info|debug"; return -1 when unknown. */
int log_level_parse(const char *name);
/** Print one line to stderr: time, level, group, message. Thread-safe. */
void log_msg(enum log_level level, const char *group, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

#define log_error(group, ...) log_msg(LOG_LEVEL_ERROR, group, __VA_ARGS__)
#define log_warning(group, ...) log_msg(LOG_LEVEL_WARNING, group, __VA_ARGS__)
#define log_info(group, ...) log_msg(LOG_LEVEL_INFO, group, __VA_ARGS__)
/* Debug lines cost nothing but a compare when the level is higher. */
#define log_debug(group, ...)                                              \
	do {                                                               \
		if (unlikely(log_threshold >= LOG_LEVEL_DEBUG))            \
			log_msg(LOG_LEVEL_DEBUG, group, __VA_ARGS__);      \
	} while (0)

/* ------------------------------------------------------------------ time */

/** Monotonic milliseconds (same base as libuv's uv_now). */
uint64_t util_now_ms(void);

/* ------------------------------------------------------------------ parse */

/** Parse a duration: "90" (seconds), "500ms", "30s", "10m", "24h", "1d",
 *  "2w". Returns 0 and milliseconds in *ms, or -1. */
int util_parse_duration(const char *text, uint64_t *ms);
/** Parse a size: "4096", "64K", "64M", "1G" (powers of 1024; an optional
 *  "B"/"iB" suffix is accepted). Returns 0 or -1. */
int util_parse_size(const char *text, uint64_t *bytes);
/** Parse a decimal unsigned integer in [min, max]. Returns 0 or -1. */
int util_parse_uint(const char *text, uint64_t min, uint64_t max,
		    uint64_t *out);
/** Parse "true|false|yes|no|on|off". Returns 0 or -1. */
int util_parse_bool(const char *text, bool *out);

/* ------------------------------------------------------------------ addresses */

/** A socket address with its length, as the socket calls want it. */
struct util_addr {
	struct sockaddr_storage ss;
	socklen_t len;
};

/** Parse a literal IPv4/IPv6 address (no names) and a port. Returns 0/-1. */
int util_addr_parse(const char *address, uint16_t port, struct util_addr *out);
/** Build from a sockaddr of known length. */
void util_addr_set(struct util_addr *out, const struct sockaddr *sa,
		   socklen_t len);
/** "127.0.0.1#53" / "::1#53" into buf (at least UTIL_ADDR_STRLEN bytes). */
#define UTIL_ADDR_STRLEN 64
const char *util_addr_str(const struct sockaddr *sa, char *buf, size_t size);
/** Address and port equal. */
bool util_addr_equal(const struct sockaddr *a, const struct sockaddr *b);
uint16_t util_addr_port(const struct sockaddr *sa);
/** The address part only, for per-client accounting (port ignored). */
bool util_addr_same_host(const struct sockaddr *a, const struct sockaddr *b);

/** An address prefix, "10.20.0.0/16" or "fd00::/8" (a bare address is a
 *  host prefix). */
struct util_subnet {
	int family;
	uint8_t bytes[16];
	unsigned bits;
};

int util_subnet_parse(const char *text, struct util_subnet *out);
bool util_subnet_contains(const struct util_subnet *net,
			  const struct sockaddr *sa);

/** Write a reason into err (as snprintf) and return -1: the usual end of
 *  a function that reports why it failed. */
int util_fail(char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* ------------------------------------------------------------------ hash */

/** Seed the keyed hash; call once at start (after sodium_init). */
void util_hash_init(void);
/** Keyed 64-bit hash (SipHash-2-4): table keys come from the network, so an
 *  attacker must not be able to choose colliding names. */
uint64_t util_hash(const void *data, size_t len);

/* ------------------------------------------------------------------ list */

/** Intrusive circular doubly-linked list. A head is a node pointing at
 *  itself when empty. */
struct util_list {
	struct util_list *next, *prev;
};

static inline void util_list_init(struct util_list *head)
{
	head->next = head->prev = head;
}

static inline bool util_list_empty(const struct util_list *head)
{
	return head->next == head;
}

static inline void util_list_insert_after(struct util_list *pos,
					  struct util_list *node)
{
	node->prev = pos;
	node->next = pos->next;
	pos->next->prev = node;
	pos->next = node;
}

/** Append at the tail. */
static inline void util_list_push(struct util_list *head,
				  struct util_list *node)
{
	util_list_insert_after(head->prev, node);
}

static inline void util_list_remove(struct util_list *node)
{
	node->prev->next = node->next;
	node->next->prev = node->prev;
	node->next = node->prev = node;
}

#define util_list_for_each_safe(pos, tmp, head)                    \
	for (pos = (head)->next, tmp = pos->next; pos != (head); \
	     pos = tmp, tmp = pos->next)

/* ------------------------------------------------------------------ files */

/** Create a directory and its parents with the given mode. Returns 0/-errno. */
int util_mkdir_p(const char *path, unsigned mode);
/** Resolve a path relative to the directory of base_file (absolute paths
 *  are returned as copies). Caller frees. */
char *util_path_relative_to(const char *base_file, const char *path);
/** Read a whole file (at most max bytes) into a NUL-terminated buffer the
 *  caller frees. Returns 0 or -errno (-EFBIG when larger than max). */
int util_read_file(const char *path, size_t max, uint8_t **data, size_t *len);
/** Write a file so that readers see the old or the new content, never a
 *  part: a temporary file with the given mode, fsync, rename, fsync of the
 *  directory. Returns 0 or -errno. */
int util_write_file_atomic(const char *path, const void *data, size_t len,
			   unsigned mode);
/** "dir/name" into out; returns 0 or -1 when it does not fit. */
int util_path_join(char *out, size_t size, const char *dir, const char *name);
