/*
 * http.c - HTTP GET over libcurl with bounded waits and messages a user can act on
 * (http.h). Each thread keeps one easy handle (a pthread key frees it), so requests to
 * one server reuse its connection.
 */
#include "store/http.h"

#include <curl/curl.h>
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "util/error.h"

static pthread_key_t handle_key;
static pthread_once_t key_once = PTHREAD_ONCE_INIT;
static int init_rc;

static void handle_free(void *h)
{
	curl_easy_cleanup(h);
}

static void init_once(void)
{
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
		init_rc = vv_err(-ENOMEM, "cannot initialize libcurl");
		return;
	}
	if (pthread_key_create(&handle_key, handle_free) != 0)
		init_rc = vv_err(-ENOMEM, "cannot make a thread key for HTTP");
}

int vv_http_init(void)
{
	pthread_once(&key_once, init_once);
	return init_rc;
}

static CURL *thread_handle(void)
{
	CURL *h = pthread_getspecific(handle_key);
	if (h) {
		curl_easy_reset(h); /* options back to defaults; connections stay open */
		return h;
	}
	h = curl_easy_init();
	if (h && pthread_setspecific(handle_key, h) != 0) {
		curl_easy_cleanup(h);
		h = NULL;
	}
	return h;
}

struct xfer {
	vv_http_sink sink;
	void *arg;
	uint64_t got, maxlen;
	int err; /* the sink's code, or -EFBIG */
};

static size_t on_body(char *buf, size_t size, size_t n, void *p)
{
	struct xfer *x = p;
	size_t len = size * n;
	if (x->got + len > x->maxlen) {
		x->err = -EFBIG;
		return 0;
	}
	x->got += len;
	int r = x->sink(buf, len, x->arg);
	if (r < 0) {
		x->err = r;
		return 0;
	}
	return len;
}

/* The code and message for a failed transfer. */
static int fail(CURL *h, CURLcode c, const char *url, const char *ebuf,
		const struct xfer *x, unsigned stall_s)
{
	const char *why = *ebuf ? ebuf : curl_easy_strerror(c);
	long status = 0;
	switch (c) {
	case CURLE_WRITE_ERROR:
		if (x->err == -EFBIG)
			return vv_err(-EFBIG, "GET %s: body longer than %llu bytes", url,
				      (unsigned long long)x->maxlen);
		if (x->err < 0)
			return vv_err_prefix(x->err, "GET %s", url);
		return vv_err(-EIO, "GET %s: %s", url, why);
	case CURLE_HTTP_RETURNED_ERROR:
		curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
		if (status == 404 || status == 410)
			return vv_err(-ENOENT, "GET %s: HTTP %ld: not published there", url,
				      status);
		return vv_err(-EIO, "GET %s: the server answered HTTP %ld", url, status);
	case CURLE_COULDNT_CONNECT:
	case CURLE_COULDNT_RESOLVE_HOST:
	case CURLE_COULDNT_RESOLVE_PROXY:
		return vv_err(-EHOSTUNREACH, "GET %s: cannot reach the server: %s", url, why);
	case CURLE_OPERATION_TIMEDOUT:
		return vv_err(-ETIMEDOUT, "GET %s: timed out (no progress for %u s): %s", url,
			      stall_s, why);
	case CURLE_PARTIAL_FILE:
	case CURLE_GOT_NOTHING:
	case CURLE_RECV_ERROR:
		return vv_err(-EIO, "GET %s: body truncated: %s", url, why);
	case CURLE_SSL_CONNECT_ERROR:
	case CURLE_PEER_FAILED_VERIFICATION:
	case CURLE_SSL_CACERT_BADFILE:
	case CURLE_SSL_CERTPROBLEM:
	case CURLE_SSL_CIPHER:
		return vv_err(-EIO, "GET %s: TLS: %s", url, why);
	case CURLE_OUT_OF_MEMORY:
		return vv_err(-ENOMEM, "GET %s: out of memory", url);
	default:
		return vv_err(-EIO, "GET %s: %s", url, why);
	}
}

int vv_http_get(const char *url, const struct vv_http_opts *o, uint64_t maxlen,
		vv_http_sink sink, void *arg)
{
	int r = vv_http_init();
	if (r < 0)
		return r;
	CURL *h = thread_handle();
	if (!h)
		return vv_err(-ENOMEM, "GET %s: cannot make a curl handle", url);
	unsigned connect_s = o && o->connect_s ? o->connect_s : 10;
	unsigned stall_s = o && o->stall_s ? o->stall_s : 30;
	struct xfer x = { .sink = sink, .arg = arg, .maxlen = maxlen };
	char ebuf[CURL_ERROR_SIZE] = "";
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_FAILONERROR, 1L);
	curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 1L);
	curl_easy_setopt(h, CURLOPT_MAXREDIRS, 5L);
	curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(h, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, (long)connect_s);
	curl_easy_setopt(h, CURLOPT_LOW_SPEED_LIMIT, 1L);
	curl_easy_setopt(h, CURLOPT_LOW_SPEED_TIME, (long)stall_s);
	curl_easy_setopt(h, CURLOPT_ERRORBUFFER, ebuf);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, &x);
	curl_easy_setopt(h, CURLOPT_USERAGENT, "venvfs/" VV_VERSION);
	CURLcode c = curl_easy_perform(h);
	if (c != CURLE_OK)
		return fail(h, c, url, ebuf, &x, stall_s);
	return 0;
}

struct membuf {
	char *p;
	size_t len, cap;
};

static int to_mem(const void *buf, size_t len, void *arg)
{
	struct membuf *m = arg;
	if (m->len + len + 1 > m->cap) {
		size_t cap = m->cap ? m->cap : 4096;
		while (cap < m->len + len + 1)
			cap *= 2;
		char *p = realloc(m->p, cap);
		if (!p)
			return vv_err(-ENOMEM, "out of memory");
		m->p = p;
		m->cap = cap;
	}
	memcpy(m->p + m->len, buf, len);
	m->len += len;
	return 0;
}

int vv_http_get_buf(const char *url, const struct vv_http_opts *o, size_t maxlen,
		    char **out, size_t *len)
{
	struct membuf m = { 0 };
	int r = vv_http_get(url, o, maxlen, to_mem, &m);
	if (r == 0 && !m.p && !(m.p = malloc(1)))
		r = vv_err(-ENOMEM, "out of memory");
	if (r < 0) {
		free(m.p);
		return r;
	}
	m.p[m.len] = '\0';
	*out = m.p;
	*len = m.len;
	return 0;
}
