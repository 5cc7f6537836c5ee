/*  anchord - policy/fetch.c: HTTPS fetches (MUD files and their
 *  signatures) with libcurl's multi interface on a libuv loop.
 *
 *  The usual socket-action integration: curl says which sockets to watch
 *  (one uv_poll_t each) and when it wants to be woken (one uv_timer_t);
 *  the loop calls curl_multi_socket_action and then collects the finished
 *  transfers. Outcomes known before curl has run (a URL that is not https,
 *  a handle curl would not take) wait on a second timer, so that done is
 *  never called from inside policy_fetch.
 *
 *  Name resolution: Debian's libcurl uses its threaded resolver
 *  (CURL_VERSION_ASYNCHDNS), so getaddrinfo runs beside the loop, which
 *  matters all the more as the resolver it asks may be this daemon. A
 *  libcurl without it would block the loop; we say so at start.
 */
#include "policy/policy.h"

#include <curl/curl.h>
#include <errno.h>
#include <gnutls/gnutls.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/mman.h>
#include <unistd.h>

#define LOG_GROUP "fetch"
/* The whole system store is about 200 KB of PEM. */
#define CA_FILE_MAX ((size_t)4 << 20)
/* First body buffer; MUD files are a few KB. */
#define BODY_FIRST_CAP ((size_t)16 << 10)

/* The trust anchors of ca_files, read once at start. libcurl takes one CA
 * file per handle, or (where the TLS backend supports it) one PEM blob;
 * Debian 12's GnuTLS build has no blobs, so the concatenation is handed
 * over as a memfd under /proc/self/fd: no temporary file to leave behind,
 * and what is trusted is what was read and checked here. */
struct fetch_trust {
	char *pem;			/* NULL: the system store */
	size_t len;
	bool as_blob;
	int memfd;
	char path[40];
};

struct policy_fetcher {
	uv_loop_t *loop;
	CURLM *multi;
	uv_timer_t curl_timer;		/* when curl wants to be called */
	uv_timer_t later;		/* runs finished_early */
	struct util_list transfers;	/* handed to curl */
	struct util_list finished_early;	/* outcome known, done not called */
	struct util_list sockets;	/* watched for curl */
	uint64_t timeout_ms;
	size_t max_size;
	struct fetch_trust trust;
	bool gnutls_verify_status;	/* what CURLINFO_SSL_VERIFYRESULT is */
	unsigned active;
	unsigned open_handles;		/* uv handles not closed yet */
	bool closing;
	void (*free_done)(void *ctx);
	void *free_ctx;
};

struct fetch_socket {
	uv_poll_t poll;
	curl_socket_t fd;
	struct policy_fetcher *f;
	struct util_list node;
};

struct fetch_transfer {
	struct policy_fetcher *f;
	struct util_list node;
	CURL *easy;
	struct curl_slist *headers;
	char *url;
	policy_fetch_done_fn done;
	void *ctx;
	uint8_t *body;
	size_t len, cap;
	bool too_big, out_of_memory, in_multi;
	const char *early_error;
	char curl_error[CURL_ERROR_SIZE];
	char reason[CURL_ERROR_SIZE + 16];
};

static void maybe_free_fetcher(struct policy_fetcher *f);

/* ------------------------------------------------------------------ trust */

static int append_ca_file(struct fetch_trust *t, const char *path, char *err,
			  size_t errlen)
{
	uint8_t *data;
	size_t len;
	int rc = util_read_file(path, CA_FILE_MAX, &data, &len);
	if (rc < 0) {
		snprintf(err, errlen, "%s: %s", path, strerror(-rc));
		return -1;
	}
	if (!strstr((char *)data, "-----BEGIN CERTIFICATE-----")) {
		snprintf(err, errlen, "%s: no PEM certificate", path);
		free(data);
		return -1;
	}
	/* a newline between files: the last line of one may lack its own */
	char *grown = realloc(t->pem, t->len + len + 2);
	if (!grown) {
		snprintf(err, errlen, "%s: out of memory", path);
		free(data);
		return -1;
	}
	t->pem = grown;
	memcpy(t->pem + t->len, data, len);
	t->len += len;
	t->pem[t->len++] = '\n';
	t->pem[t->len] = '\0';
	free(data);
	return 0;
}

static bool curl_takes_ca_blobs(const struct fetch_trust *t)
{
	CURL *probe = curl_easy_init();
	if (!probe)
		return false;
	struct curl_blob blob = { .data = t->pem, .len = t->len,
				  .flags = CURL_BLOB_NOCOPY };
	bool ok = curl_easy_setopt(probe, CURLOPT_CAINFO_BLOB, &blob) ==
		  CURLE_OK;
	curl_easy_cleanup(probe);
	return ok;
}

static int write_ca_memfd(struct fetch_trust *t, char *err, size_t errlen)
{
	t->memfd = memfd_create("anchord-fetch-ca", MFD_CLOEXEC);
	if (t->memfd < 0) {
		snprintf(err, errlen, "CA files: memfd: %s", strerror(errno));
		return -1;
	}
	for (size_t done = 0; done < t->len;) {
		ssize_t n = write(t->memfd, t->pem + done, t->len - done);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			snprintf(err, errlen, "CA files: memfd: %s",
				 strerror(errno));
			return -1;
		}
		done += (size_t)n;
	}
	snprintf(t->path, sizeof(t->path), "/proc/self/fd/%d", t->memfd);
	if (access(t->path, R_OK) != 0) {
		snprintf(err, errlen, "CA files: %s: %s (is /proc mounted?)",
			 t->path, strerror(errno));
		return -1;
	}
	return 0;
}

static void trust_free(struct fetch_trust *t)
{
	free(t->pem);
	if (t->memfd >= 0)
		close(t->memfd);
}

static int trust_load(struct fetch_trust *t,
		      const struct policy_fetcher_conf *c, char *err,
		      size_t errlen)
{
	*t = (struct fetch_trust){ .memfd = -1 };
	for (size_t i = 0; i < c->n_ca_files; i++)
		if (append_ca_file(t, c->ca_files[i], err, errlen) < 0)
			return -1;
	if (!t->pem)
		return 0;
	t->as_blob = curl_takes_ca_blobs(t);
	return t->as_blob ? 0 : write_ca_memfd(t, err, errlen);
}

/* With ca_files, they alone are trusted: no CA directory beside them. */
static void trust_apply(const struct fetch_trust *t, CURL *easy)
{
	if (!t->pem)
		return;
	curl_easy_setopt(easy, CURLOPT_CAPATH, NULL);
	if (t->as_blob) {
		struct curl_blob blob = { .data = t->pem, .len = t->len,
					  .flags = CURL_BLOB_NOCOPY };
		curl_easy_setopt(easy, CURLOPT_CAINFO_BLOB, &blob);
	} else {
		curl_easy_setopt(easy, CURLOPT_CAINFO, t->path);
	}
}

/* ------------------------------------------------------------------ transfers */

static size_t on_body(char *data, size_t size, size_t nmemb, void *userp)
{
	struct fetch_transfer *t = userp;
	size_t n = size * nmemb;
	if (n > t->f->max_size - t->len) {
		t->too_big = true;
		return 0;		/* anything but n aborts the transfer */
	}
	if (t->len + n + 1 > t->cap) {
		size_t cap = MAX(t->cap * 2, BODY_FIRST_CAP);
		cap = MIN(MAX(cap, t->len + n + 1), t->f->max_size + 1);
		uint8_t *grown = realloc(t->body, cap);
		if (!grown) {
			t->out_of_memory = true;
			return 0;
		}
		t->body = grown;
		t->cap = cap;
	}
	memcpy(t->body + t->len, data, n);
	t->len += n;
	t->body[t->len] = '\0';
	return n;
}

static void transfer_free(struct fetch_transfer *t)
{
	if (t->easy)
		curl_easy_cleanup(t->easy);
	curl_slist_free_all(t->headers);
	free(t->url);
	free(t->body);
	free(t);
}

static int add_header(struct fetch_transfer *t, const char *name,
		      const char *value)
{
	if (!value)
		return 0;
	char *line;
	if (asprintf(&line, "%s: %s", name, value) < 0)
		return -1;
	struct curl_slist *more = curl_slist_append(t->headers, line);
	free(line);
	if (!more)
		return -1;
	t->headers = more;
	curl_easy_setopt(t->easy, CURLOPT_HTTPHEADER, t->headers);
	return 0;
}

static int set_accept(struct fetch_transfer *t, const char *accept)
{
	return add_header(t, "Accept", accept);
}

/* curl copies the body (COPYPOSTFIELDS), so the caller's may go. */
static int set_post(struct fetch_transfer *t, const char *content_type,
		    const uint8_t *body, size_t len)
{
	if (add_header(t, "Content-Type", content_type) < 0)
		return -1;
	curl_easy_setopt(t->easy, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
	return curl_easy_setopt(t->easy, CURLOPT_COPYPOSTFIELDS,
				len ? (const char *)body : "") == CURLE_OK
		? 0 : -1;
}

static void set_transfer_options(struct fetch_transfer *t)
{
	CURL *e = t->easy;
	const struct policy_fetcher *f = t->f;
	curl_easy_setopt(e, CURLOPT_URL, t->url);
	curl_easy_setopt(e, CURLOPT_PRIVATE, t);
	curl_easy_setopt(e, CURLOPT_ERRORBUFFER, t->curl_error);
	curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
#if LIBCURL_VERSION_NUM >= 0x075500
	curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "https");
#else
	curl_easy_setopt(e, CURLOPT_PROTOCOLS, (long)CURLPROTO_HTTPS);
#endif
#if LIBCURL_VERSION_NUM >= 0x075700
	/* Cancelling a transfer while its name is being resolved would
	 * otherwise wait for getaddrinfo to return, blocking the loop. */
	curl_easy_setopt(e, CURLOPT_QUICK_EXIT, 1L);
#endif
	curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 1L);
	curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 2L);
	curl_easy_setopt(e, CURLOPT_SSLVERSION, (long)CURL_SSLVERSION_TLSv1_2);
	curl_easy_setopt(e, CURLOPT_TIMEOUT_MS,
			 (long)MIN(f->timeout_ms, (uint64_t)LONG_MAX));
	curl_easy_setopt(e, CURLOPT_MAXFILESIZE_LARGE,
			 (curl_off_t)MIN(f->max_size, (size_t)INT64_MAX));
	curl_easy_setopt(e, CURLOPT_USERAGENT, "anchord/" ANCHORD_VERSION);
	curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(e, CURLOPT_WRITEDATA, t);
	trust_apply(&f->trust, e);
}

static struct fetch_transfer *transfer_new(struct policy_fetcher *f,
					   const char *url,
					   const char *accept,
					   policy_fetch_done_fn done,
					   void *ctx)
{
	struct fetch_transfer *t = calloc(1, sizeof(*t));
	if (!t)
		return NULL;
	t->f = f;
	t->done = done;
	t->ctx = ctx;
	util_list_init(&t->node);
	t->url = strdup(url);
	t->easy = curl_easy_init();
	if (!t->url || !t->easy || set_accept(t, accept) < 0) {
		transfer_free(t);
		return NULL;
	}
	set_transfer_options(t);
	return t;
}

/* Why a fetch is refused before any byte goes out, or NULL. curl would
 * refuse other schemes too (CURLOPT_PROTOCOLS_STR), in its own words. */
static const char *refusal_of(const char *url, const char *accept)
{
	if (strncasecmp(url, "https://", 8) != 0)
		return "not an https URL";
	if (accept && strpbrk(accept, "\r\n"))
		return "line break in the Accept value";
	return NULL;
}

/* The words for GnuTLS's certificate status bits, which libcurl's GnuTLS
 * backend hands on as CURLINFO_SSL_VERIFYRESULT. Its own message is the
 * same for every reason and names the CA file. */
static const struct {
	unsigned bit;
	const char *words;
} certificate_problems[] = {
	{ GNUTLS_CERT_SIGNER_NOT_FOUND, "issuer unknown" },
	{ GNUTLS_CERT_SIGNER_NOT_CA, "issuer not a CA" },
	{ GNUTLS_CERT_EXPIRED, "expired" },
	{ GNUTLS_CERT_NOT_ACTIVATED, "not yet valid" },
	{ GNUTLS_CERT_REVOKED, "revoked" },
	{ GNUTLS_CERT_INSECURE_ALGORITHM, "insecure algorithm" },
	{ GNUTLS_CERT_SIGNATURE_FAILURE, "bad signature" },
	{ GNUTLS_CERT_UNEXPECTED_OWNER, "wrong host name" },
	{ GNUTLS_CERT_PURPOSE_MISMATCH, "not for TLS servers" },
};

/* "TLS: certificate not trusted (issuer unknown)"; false when libcurl
 * left no status to read. */
static bool describe_untrusted(struct fetch_transfer *t, char *r, size_t cap)
{
	long status = 0;
	if (!t->f->gnutls_verify_status ||
	    curl_easy_getinfo(t->easy, CURLINFO_SSL_VERIFYRESULT, &status) !=
		    CURLE_OK ||
	    status <= 0)
		return false;
	size_t n = (size_t)snprintf(r, cap, "TLS: certificate not trusted");
	const char *sep = " (";
	for (size_t i = 0; i < ARRAY_SIZE(certificate_problems) && n < cap;
	     i++) {
		if (!((unsigned long)status & certificate_problems[i].bit))
			continue;
		n += (size_t)snprintf(r + n, cap - n, "%s%s", sep,
				      certificate_problems[i].words);
		sep = ", ";
	}
	if (sep[0] == ',' && n < cap)
		snprintf(r + n, cap - n, ")");
	return true;
}

/* libcurl's GnuTLS backend ends some messages with ". CAfile: <path>
 * CRLfile: <path>", where the path is a /proc/self/fd one that would
 * only puzzle whoever reads the log. */
static void drop_ca_file_trailer(char *message)
{
	char *trailer = strstr(message, ". CAfile: ");
	if (trailer)
		*trailer = '\0';
}

static bool is_tls_failure(CURLcode rc)
{
	switch (rc) {
	case CURLE_SSL_CONNECT_ERROR:
	case CURLE_PEER_FAILED_VERIFICATION:
	case CURLE_SSL_CACERT_BADFILE:
	case CURLE_SSL_CERTPROBLEM:
	case CURLE_SSL_CIPHER:
	case CURLE_SSL_ISSUER_ERROR:
	case CURLE_SSL_INVALIDCERTSTATUS:
	case CURLE_SSL_CRL_BADFILE:
		return true;
	default:
		return false;
	}
}

/* The reason a finished transfer failed, NULL when it did not. */
static const char *failure_of(struct fetch_transfer *t, CURLcode rc,
			      long status)
{
	char *r = t->reason;
	size_t cap = sizeof(t->reason);
	const char *said = t->curl_error[0] ? t->curl_error
					    : curl_easy_strerror(rc);
	if (t->too_big || rc == CURLE_FILESIZE_EXCEEDED)
		snprintf(r, cap, "larger than %zu bytes", t->f->max_size);
	else if (t->out_of_memory)
		snprintf(r, cap, "out of memory");
	else if (rc == CURLE_OPERATION_TIMEDOUT)
		snprintf(r, cap, "timed out after %llu ms",
			 (unsigned long long)t->f->timeout_ms);
	else if (rc == CURLE_PEER_FAILED_VERIFICATION &&
		 describe_untrusted(t, r, cap))
		return r;
	else if (is_tls_failure(rc))
		snprintf(r, cap, "TLS: %s", said);
	else if (rc != CURLE_OK)
		snprintf(r, cap, "%s", said);
	else if (status != 200)
		snprintf(r, cap, "HTTP %ld", status);
	else
		return NULL;
	drop_ca_file_trailer(r);
	return r;
}

/* Tell the caller and forget the transfer. It is already out of every
 * list and out of curl, so the callback may start fetches or close the
 * fetcher. */
static void transfer_complete(struct fetch_transfer *t, CURLcode rc)
{
	struct policy_fetch_result r = { .url = t->url,
					 .body = t->body ? t->body
							 : (const uint8_t *)"",
					 .len = t->len };
	if (t->early_error) {
		r.error = t->early_error;
	} else {
		char *type = NULL;
		curl_easy_getinfo(t->easy, CURLINFO_RESPONSE_CODE,
				  &r.http_status);
		curl_easy_getinfo(t->easy, CURLINFO_CONTENT_TYPE, &type);
		r.content_type = type;
		r.error = failure_of(t, rc, r.http_status);
	}
	t->f->active--;
	t->done(t->ctx, &r);
	transfer_free(t);
}

static void on_later(uv_timer_t *timer)
{
	struct policy_fetcher *f = timer->data;
	while (!f->closing && !util_list_empty(&f->finished_early)) {
		struct util_list *first = f->finished_early.next;
		util_list_remove(first);
		transfer_complete(container_of(first, struct fetch_transfer,
					       node),
				  CURLE_OK);
	}
}

static void finish_later(struct fetch_transfer *t, const char *reason)
{
	struct policy_fetcher *f = t->f;
	t->early_error = reason;
	util_list_push(&f->finished_early, &t->node);
	uv_timer_start(&f->later, on_later, 0, 0);
}

/* Hand what curl has finished to its callers. A callback may close the
 * fetcher; then the rest is cancelled already and the loop stops. */
static void collect_finished(struct policy_fetcher *f)
{
	CURLMsg *msg;
	int left;
	while (!f->closing && (msg = curl_multi_info_read(f->multi, &left))) {
		if (msg->msg != CURLMSG_DONE)
			continue;
		CURL *easy = msg->easy_handle;
		CURLcode rc = msg->data.result;	/* msg dies with the handle */
		char *private = NULL;
		curl_easy_getinfo(easy, CURLINFO_PRIVATE, &private);
		struct fetch_transfer *t = (struct fetch_transfer *)private;
		curl_multi_remove_handle(f->multi, easy);
		t->in_multi = false;
		util_list_remove(&t->node);
		transfer_complete(t, rc);
	}
}

/* ------------------------------------------------------------------ curl ↔ libuv */

static void on_handle_closed(uv_handle_t *h)
{
	struct policy_fetcher *f = h->data;
	if (h->type == UV_POLL)
		free(container_of((uv_poll_t *)h, struct fetch_socket, poll));
	f->open_handles--;
	maybe_free_fetcher(f);
}

static void on_socket_ready(uv_poll_t *poll, int status, int events)
{
	struct fetch_socket *s = container_of(poll, struct fetch_socket, poll);
	struct policy_fetcher *f = s->f;
	int flags = 0;
	if (status < 0)
		flags |= CURL_CSELECT_ERR;
	if (events & UV_READABLE)
		flags |= CURL_CSELECT_IN;
	if (events & UV_WRITABLE)
		flags |= CURL_CSELECT_OUT;
	int running;
	curl_multi_socket_action(f->multi, s->fd, flags, &running);
	collect_finished(f);
}

static struct fetch_socket *socket_watch(struct policy_fetcher *f,
					 curl_socket_t fd)
{
	struct fetch_socket *s = calloc(1, sizeof(*s));
	if (!s)
		return NULL;
	if (uv_poll_init_socket(f->loop, &s->poll, fd) != 0) {
		free(s);
		return NULL;
	}
	s->fd = fd;
	s->f = f;
	s->poll.data = f;
	f->open_handles++;
	util_list_push(&f->sockets, &s->node);
	curl_multi_assign(f->multi, fd, s);
	return s;
}

/* Stop watching now (curl closes the socket right after telling us); the
 * struct goes when libuv is done with the handle. */
static void socket_unwatch(struct policy_fetcher *f, struct fetch_socket *s)
{
	curl_multi_assign(f->multi, s->fd, NULL);
	util_list_remove(&s->node);
	uv_close((uv_handle_t *)&s->poll, on_handle_closed);
}

static int on_curl_socket(CURL *easy, curl_socket_t fd, int what,
			  void *userp, void *socketp)
{
	struct policy_fetcher *f = userp;
	struct fetch_socket *s = socketp;
	if (what == CURL_POLL_REMOVE) {
		if (s)
			socket_unwatch(f, s);
		return 0;
	}
	if (f->closing)
		return 0;
	if (!s && !(s = socket_watch(f, fd)))
		return -1;
	int events = 0;
	if (what & CURL_POLL_IN)
		events |= UV_READABLE;
	if (what & CURL_POLL_OUT)
		events |= UV_WRITABLE;
	return uv_poll_start(&s->poll, events, on_socket_ready) == 0 ? 0 : -1;
}

static void on_curl_timeout(uv_timer_t *timer)
{
	struct policy_fetcher *f = timer->data;
	int running;
	curl_multi_socket_action(f->multi, CURL_SOCKET_TIMEOUT, 0, &running);
	collect_finished(f);
}

/* curl asks to be called after timeout_ms (0: as soon as possible, but
 * not from inside this callback), or no more (-1). */
static int on_curl_timer(CURLM *multi, long timeout_ms, void *userp)
{
	struct policy_fetcher *f = userp;
	if (f->closing)
		return 0;
	if (timeout_ms < 0)
		uv_timer_stop(&f->curl_timer);
	else
		uv_timer_start(&f->curl_timer, on_curl_timeout,
			       (uint64_t)timeout_ms, 0);
	return 0;
}

/* ------------------------------------------------------------------ the fetcher */

static void check_libcurl(struct policy_fetcher *f)
{
	const curl_version_info_data *v = curl_version_info(CURLVERSION_NOW);
	f->gnutls_verify_status = v->ssl_version &&
				  strncmp(v->ssl_version, "GnuTLS", 6) == 0;
	if (!(v->features & CURL_VERSION_ASYNCHDNS))
		log_warning(LOG_GROUP, "libcurl %s resolves names synchronously:"
			    " a fetch by host name blocks its loop while it "
			    "resolves", v->version);
}

static int multi_setup(struct policy_fetcher *f, char *err, size_t errlen)
{
	f->multi = curl_multi_init();
	if (!f->multi) {
		snprintf(err, errlen, "libcurl: cannot create a multi handle");
		return -1;
	}
	curl_multi_setopt(f->multi, CURLMOPT_SOCKETFUNCTION, on_curl_socket);
	curl_multi_setopt(f->multi, CURLMOPT_SOCKETDATA, f);
	curl_multi_setopt(f->multi, CURLMOPT_TIMERFUNCTION, on_curl_timer);
	curl_multi_setopt(f->multi, CURLMOPT_TIMERDATA, f);
	return 0;
}

static void timers_init(struct policy_fetcher *f)
{
	uv_timer_init(f->loop, &f->curl_timer);
	uv_timer_init(f->loop, &f->later);
	f->curl_timer.data = f->later.data = f;
	f->open_handles = 2;
}

struct policy_fetcher *policy_fetcher_new(uv_loop_t *loop,
					  const struct policy_fetcher_conf *c,
					  char *err, size_t errlen)
{
	if (c->timeout_ms == 0 || c->max_size == 0) {
		snprintf(err, errlen, "fetch timeout and size limit must be "
			 "positive");
		return NULL;
	}
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
		snprintf(err, errlen, "libcurl: global initialisation failed");
		return NULL;
	}
	struct policy_fetcher *f = calloc(1, sizeof(*f));
	if (!f) {
		snprintf(err, errlen, "out of memory");
		curl_global_cleanup();
		return NULL;
	}
	f->loop = loop;
	f->timeout_ms = c->timeout_ms;
	f->max_size = c->max_size;
	util_list_init(&f->transfers);
	util_list_init(&f->finished_early);
	util_list_init(&f->sockets);
	if (trust_load(&f->trust, c, err, errlen) < 0 ||
	    multi_setup(f, err, errlen) < 0) {
		trust_free(&f->trust);
		free(f);
		curl_global_cleanup();
		return NULL;
	}
	timers_init(f);
	check_libcurl(f);
	return f;
}

static int start_transfer(struct policy_fetcher *f, struct fetch_transfer *t,
			  const char *url, const char *accept)
{
	f->active++;
	const char *refusal = refusal_of(url, accept);
	if (!refusal && curl_multi_add_handle(f->multi, t->easy) != CURLM_OK)
		refusal = "libcurl would not start the transfer";
	if (refusal) {
		finish_later(t, refusal);
		return 0;
	}
	t->in_multi = true;
	util_list_push(&f->transfers, &t->node);
	return 0;
}

int policy_fetch(struct policy_fetcher *f, const char *url,
		 const char *accept, policy_fetch_done_fn done, void *ctx)
{
	if (f->closing)
		return -1;
	struct fetch_transfer *t = transfer_new(f, url, accept, done, ctx);
	return t ? start_transfer(f, t, url, accept) : -1;
}

int policy_fetch_post(struct policy_fetcher *f, const char *url,
		      const char *accept, const char *content_type,
		      const uint8_t *body, size_t len,
		      policy_fetch_done_fn done, void *ctx)
{
	if (f->closing)
		return -1;
	struct fetch_transfer *t = transfer_new(f, url, accept, done, ctx);
	if (t && set_post(t, content_type, body, len) < 0) {
		transfer_free(t);
		t = NULL;
	}
	return t ? start_transfer(f, t, url, accept) : -1;
}

unsigned policy_fetcher_active(const struct policy_fetcher *f)
{
	return f->active;
}

static void cancel_all(struct policy_fetcher *f, struct util_list *list)
{
	struct util_list *pos, *tmp;
	util_list_for_each_safe(pos, tmp, list) {
		struct fetch_transfer *t =
			container_of(pos, struct fetch_transfer, node);
		util_list_remove(pos);
		if (t->in_multi)
			curl_multi_remove_handle(f->multi, t->easy);
		transfer_free(t);
	}
	f->active = 0;
}

/* Sockets curl still has open (idle connections in its cache) are
 * unwatched before curl closes them in curl_multi_cleanup. */
static void unwatch_all(struct policy_fetcher *f)
{
	struct util_list *pos, *tmp;
	util_list_for_each_safe(pos, tmp, &f->sockets)
		socket_unwatch(f, container_of(pos, struct fetch_socket, node));
}

static void maybe_free_fetcher(struct policy_fetcher *f)
{
	if (!f->closing || f->open_handles > 0)
		return;
	void (*free_done)(void *) = f->free_done;
	void *ctx = f->free_ctx;
	trust_free(&f->trust);
	free(f);
	curl_global_cleanup();
	if (free_done)
		free_done(ctx);
}

void policy_fetcher_close(struct policy_fetcher *f,
			  void (*free_done)(void *ctx), void *ctx)
{
	if (!f || f->closing)
		return;
	/* From here on curl's callbacks only take sockets away. */
	f->closing = true;
	f->free_done = free_done;
	f->free_ctx = ctx;
	cancel_all(f, &f->transfers);
	cancel_all(f, &f->finished_early);
	unwatch_all(f);
	curl_multi_cleanup(f->multi);
	f->multi = NULL;
	uv_close((uv_handle_t *)&f->curl_timer, on_handle_closed);
	uv_close((uv_handle_t *)&f->later, on_handle_closed);
}
