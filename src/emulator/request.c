/*
 * request.c - what one request to `kneecap serve` means, whichever face
 * (HTTP/1.1 in mhd.c, HTTP/2 in h2serve.c) carried it: routing, the
 * endpoint-name and size checks, the body (hash and bounded copy), SigV4
 * verification, the real CPU stage (JPEG decode), the faults drawn for it,
 * its admission into the instance model (model.c), and the answer's body
 * and counters.  The faces do the I/O and the waiting; nothing here ever
 * blocks for a request's service time, and nothing here knows a protocol.
 *
 * SigV4 (optional): requests are verified with aws/sigv4.c's verifier
 * against the profile's key pair, service "sagemaker"; a failure is a 403
 * with an AWS-style body.  The body's SHA-256 needs the whole body, so
 * verification keeps every body (up to body_bytes_max).
 *
 * Locks: `mu` guards the model, the RNGs and the counters; `sig_mu` the
 * single-threaded signer; `dec_mu` the decoder pool.  Each is taken alone.
 */
#include "decode_int.h"
#include "faults_int.h"
#include "model_int.h"
#include "server_int.h"

#include "kneecap/clock.h"
#include "kneecap/emulator.h"
#include "kneecap/err.h"
#include "kneecap/sigv4.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* SigV4: allowed clock skew, as AWS allows (5 minutes). */
#define SIGV4_SKEW_S 300

/* ---- the JPEG decoders (one per thread of the instance) ------------- */

static struct kc_emu_decoder *decoder_get(struct kc_emu *e)
{
	pthread_mutex_lock(&e->dec_mu);
	while (e->n_dec_free == 0)
		pthread_cond_wait(&e->dec_cv, &e->dec_mu);
	struct kc_emu_decoder *d = e->dec_free[--e->n_dec_free];
	pthread_mutex_unlock(&e->dec_mu);
	return d;
}

static void decoder_put(struct kc_emu *e, struct kc_emu_decoder *d)
{
	pthread_mutex_lock(&e->dec_mu);
	e->dec_free[e->n_dec_free++] = d;
	pthread_cond_signal(&e->dec_cv);
	pthread_mutex_unlock(&e->dec_mu);
}

void kc_emu_count_error(struct kc_emu *e, enum kc_emu_err_class c)
{
	pthread_mutex_lock(&e->mu);
	e->errors[c]++;
	pthread_mutex_unlock(&e->mu);
}

/* Appends s to out as JSON string content (no quotes); always terminates. */
static size_t json_escape(char *out, size_t outsz, const char *s)
{
	size_t n = 0;
	for (; *s && n + 7 < outsz; s++) {
		unsigned char c = (unsigned char)*s;
		if (c == '"' || c == '\\') {
			out[n++] = '\\';
			out[n++] = (char)c;
		} else if (c < 0x20) {
			n += (size_t)snprintf(out + n, outsz - n, "\\u%04x", c);
		} else {
			out[n++] = (char)c;
		}
	}
	out[n] = '\0';
	return n;
}

static bool valid_endpoint_name(const char *s, size_t n)
{
	/* ^[a-zA-Z0-9](-*[a-zA-Z0-9])*$, 1..63 (sagemaker-runtime service model) */
	if (n == 0 || n > 63 || s[0] == '-' || s[n - 1] == '-')
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      (c >= '0' && c <= '9') || c == '-'))
			return false;
	}
	return true;
}
/* ---- response bodies ----------------------------------------------- */

static const char *const tags[] = {
	"apparel", "footwear", "handbag", "watch", "jewelry", "electronics",
	"furniture", "kitchenware", "toy", "book", "cosmetics", "sportswear",
	"outdoor", "lighting", "home-decor", "accessory",
};
#define NTAGS ((int)(sizeof(tags) / sizeof(tags[0])))
#define TOP_TAGS 5

/* Tag probabilities as a classifier would answer: a pure function of the
 * body's hash, so the same image always gets the same tags. */
static void build_tags(struct req *r)
{
	struct kc_rng g;
	kc_rng_seed(&g, r->hash);
	int idx[NTAGS];
	for (int i = 0; i < NTAGS; i++)
		idx[i] = i;
	double w[TOP_TAGS], sum = 0;
	for (int i = 0; i < TOP_TAGS; i++) {
		int j = i + (int)(kc_rng_next(&g) % (uint64_t)(NTAGS - i));
		int t = idx[i];
		idx[i] = idx[j];
		idx[j] = t;
		/* Geometric-ish weights: one dominant tag, a tail. */
		w[i] = (0.2 + kc_rng_double(&g)) / (double)(1 << i);
		sum += w[i];
	}
	/* Highest probability first, as classifiers answer. */
	for (int i = 1; i < TOP_TAGS; i++) {
		for (int j = i; j > 0 && w[j] > w[j - 1]; j--) {
			double tw = w[j];
			w[j] = w[j - 1];
			w[j - 1] = tw;
			int ti = idx[j];
			idx[j] = idx[j - 1];
			idx[j - 1] = ti;
		}
	}
	size_t n = (size_t)snprintf(r->out, sizeof(r->out), "{\"predictions\":[");
	for (int i = 0; i < TOP_TAGS; i++)
		n += (size_t)snprintf(r->out + n, sizeof(r->out) - n,
				      "%s{\"label\":\"%s\",\"probability\":%.4f}",
				      i ? "," : "", tags[idx[i]], 0.98 * w[i] / sum);
	n += (size_t)snprintf(r->out + n, sizeof(r->out) - n,
			      "],\"image\":{\"width\":%d,\"height\":%d}}",
			      r->img_w, r->img_h);
	KC_ASSERT(n < sizeof(r->out));
	r->out_len = n;
}

static void build_error(struct kc_emu *e, struct req *r)
{
	char esc[300];
	json_escape(esc, sizeof(esc), r->msg);
	size_t n;
	if (r->status == 424) {
		/* ModelError's four members (sagemaker-runtime service model). */
		const char *name = e->prof.endpoint_name[0] ? e->prof.endpoint_name : "emulator";
		n = (size_t)snprintf(r->out, sizeof(r->out),
			"{\"message\":\"Received %s error (%d) from primary with message \\\"%s\\\". "
			"See https://us-east-1.console.aws.amazon.com/cloudwatch/home?region=%s"
			" in account 000000000000 for more information.\","
			"\"OriginalStatusCode\":%d,\"OriginalMessage\":\"%s\","
			"\"LogStreamArn\":\"arn:aws:logs:%s:000000000000:log-group:/aws/sagemaker/Endpoints/%s\"}",
			r->orig_status >= 500 || r->orig_status == 0 ? "server" : "client",
			r->orig_status, esc, e->prof.sigv4_region, r->orig_status, esc,
			e->prof.sigv4_region, name);
	} else {
		n = (size_t)snprintf(r->out, sizeof(r->out), "{\"message\":\"%s\"}", esc);
	}
	r->out_len = n < sizeof(r->out) ? n : sizeof(r->out) - 1;
}

const char *kc_emu_req_error_type(const struct req *r)
{
	if (r->etype)
		return r->etype;
	switch (r->status) {
	case 400:
		return r->errc == KC_EMU_ERRC_VALIDATION ? "ValidationError" : "ThrottlingException";
	case 404:
		return "UnknownOperationException";
	case 405:
		return "MethodNotAllowed";
	case 413:
		return "ValidationError";
	default:
		return kc_emu_error_type(r->status);
	}
}

/* Sets r's outcome to an error. */
static void set_error(struct req *r, int status, enum kc_emu_err_class c,
		      const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static void set_error(struct req *r, int status, enum kc_emu_err_class c,
		      const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(r->msg, sizeof(r->msg), fmt, ap);
	va_end(ap);
	r->status = status;
	r->errc = c;
}
/* Counts r's answer and builds its body (see request_int.h). */
bool kc_emu_req_account(struct kc_emu *e, struct req *r, bool *die_out)
{
	int64_t now = kc_clock_ns();
	bool drop = atomic_load(&e->dead) || r->plan.reset;
	bool die = false;

	pthread_mutex_lock(&e->mu);
	if (r->in_flight) {
		e->in_flight--;
		r->in_flight = false;
	}
	if (atomic_load(&e->dead)) {
		e->errors[KC_EMU_ERRC_DEAD]++;
	} else if (r->plan.reset || r->plan.reset_mid) {
		e->errors[KC_EMU_ERRC_RESET]++;
	} else if (r->status == 200 && r->stream && r->plan.stream_error) {
		e->errors[KC_EMU_ERRC_STREAM]++;
	} else if (r->status == 200) {
		e->served++;
		e->lat_sum_ns += now - r->t_body_ns;
		e->wait_sum_ns += r->admit.start_ns - r->admit.arrival_ns;
		e->svc_sum_ns += r->admit.service_ns;
	} else {
		e->errors[r->errc]++;
	}
	if (!drop)
		kc_emu_cw_record(e, r, now);
	if (!drop && e->prof.faults.close_after > 0 &&
	    ++e->answered == e->prof.faults.close_after)
		die = true;
	pthread_mutex_unlock(&e->mu);
	r->state = S_DONE;
	*die_out = die;
	if (drop)
		return true;
	if (r->status == 200)
		build_tags(r);
	else
		build_error(e, r);
	return false;
}
/* ---- the request path ---------------------------------------------- */

static void make_reqid(struct kc_emu *e, struct req *r)
{
	pthread_mutex_lock(&e->mu);
	uint64_t a = kc_rng_next(&e->id_rng), b = ++e->reqid_seq;
	pthread_mutex_unlock(&e->mu);
	snprintf(r->reqid, sizeof(r->reqid), "%08" PRIx32 "-%04" PRIx32 "-4%03" PRIx32
		 "-a%03" PRIx32 "-%012" PRIx64, (uint32_t)(a >> 32),
		 (uint32_t)(a >> 16) & 0xFFFF, (uint32_t)(a >> 4) & 0xFFF,
		 (uint32_t)(b >> 48) & 0xFFF, b & UINT64_C(0xFFFFFFFFFFFF));
}

/* Hashes, counts and keeps (up to store_max, within r->mem) n body bytes. */
void kc_emu_req_body(struct kc_emu *e, struct req *r, const char *data, size_t n)
{
	uint64_t h = r->hash;
	for (size_t i = 0; i < n; i++) {
		h ^= (unsigned char)data[i];
		h *= UINT64_C(0x100000001b3);
	}
	r->hash = h;
	r->body_total += n;
	if (r->body_total > e->prof.body_bytes_max) {
		r->too_large = true;
		return;
	}
	if (r->no_mem)
		return;
	size_t room = r->store_max > r->body_len ? r->store_max - r->body_len : 0;
	size_t take = n < room ? n : room;
	if (take == 0)
		return;
	if (r->mem && r->body_len + take > r->mem_held) {
		/* Budgeted in the same doubling steps as the buffer, so a
		 * reused buffer's old capacity is counted again when used. */
		size_t want = r->mem_held ? r->mem_held : 64 * 1024;
		while (want < r->body_len + take)
			want *= 2;
		if (want > r->store_max)
			want = r->store_max;
		size_t more = want - r->mem_held;
		size_t used = atomic_fetch_add(&r->mem->used, more);
		if (used + more > r->mem->max) {
			atomic_fetch_sub(&r->mem->used, more);
			r->no_mem = true;
			return;
		}
		r->mem_held = want;
	}
	if (r->body_len + take > r->body_cap) {
		size_t cap = r->body_cap ? r->body_cap : 64 * 1024;
		while (cap < r->body_len + take)
			cap *= 2;
		if (cap > r->store_max)
			cap = r->store_max;
		unsigned char *nb = realloc(r->body, cap);
		if (!nb) {
			/* Treat as oversize: answered, never a crash. */
			r->too_large = true;
			return;
		}
		r->body = nb;
		r->body_cap = cap;
	}
	memcpy(r->body + r->body_len, data, take);
	r->body_len += take;
}
/*
 * Verifies r's SigV4 signature; on failure sets a 403 outcome and returns
 * false.  Only the headers the client listed in SignedHeaders count.  The
 * query string is not signed in: InvokeEndpoint has none.
 */
static bool verify_sigv4(struct kc_emu *e, struct req *r, const struct kc_emu_headers *hl)
{
	enum kc_sigv4_verdict v = KC_SIGV4_BAD_SIGNATURE;
	int rc = KC_ELIMIT;
	if (hl && !hl->overflow) {
		struct kc_sigv4_request sreq = {
			.method = "POST", .path = r->url, .query = NULL,
			.headers = hl->h, .n_headers = hl->n, .time_s = 0,
		};
		char hash[KC_SIGV4_HEX_LEN + 1];
		uint8_t digest[32];
		pthread_mutex_lock(&e->sig_mu);
		rc = kc_sigv4_sha256(e->signer, r->body ? r->body : (const void *)"",
				     r->body_len, digest);
		if (!rc) {
			kc_sigv4_hex(digest, sizeof(digest), hash);
			sreq.payload_hash = hash;
			rc = kc_sigv4_verify(e->signer, &sreq, kc_wall_ns() / KC_NS_PER_S,
					     SIGV4_SKEW_S, &v);
		}
		pthread_mutex_unlock(&e->sig_mu);
	}
	if (!rc && v == KC_SIGV4_OK)
		return true;
	/* The type AWS front ends answer for each case. */
	r->etype = v == KC_SIGV4_MISSING_AUTH ? "MissingAuthenticationTokenException"
		 : v == KC_SIGV4_WRONG_KEY_ID ? "UnrecognizedClientException"
		 : "InvalidSignatureException";
	if (v == KC_SIGV4_BAD_SIGNATURE && !rc)
		set_error(r, 403, KC_EMU_ERRC_SIGNATURE,
			  "The request signature we calculated does not match the signature "
			  "you provided. Check your AWS Secret Access Key and signing method.");
	else
		set_error(r, 403, KC_EMU_ERRC_SIGNATURE, "%s",
			  rc ? (hl && hl->too_large
				? "The request could not be verified (headers too large)"
				: "The request could not be verified (too many headers)")
			     : kc_sigv4_verdict_str(v));
	return false;
}

/*
 * The real CPU work a model server does before the accelerator: decode the
 * JPEG.  On failure sets the 424 outcome (the container would answer 400
 * and SageMaker wraps it as a ModelError) and returns false.
 */
static bool cpu_stage(struct kc_emu *e, struct req *r)
{
	if (e->prof.input != KC_EMU_INPUT_JPEG)
		return true;
	struct kc_emu_decoder *dd = decoder_get(e);
	char why[200];
	int rc = kc_emu_decode(dd, e->prof.cpu_decode, r->body, r->body_len,
			       &r->img_w, &r->img_h, why, sizeof(why));
	decoder_put(e, dd);
	if (!rc)
		return true;
	set_error(r, 424, KC_EMU_ERRC_MODEL, "%s", why);
	r->orig_status = 400;
	return false;
}

/* Under e->mu: admits r into r->model at now (a serverless unit first,
 * with its cold start).  False when serverless throttles it. */
static bool admit_locked(struct kc_emu *e, struct req *r, int64_t now)
{
	int64_t extra = 0;
	r->unit = -1;
	if (e->prof.serverless_max_concurrency > 0) {
		struct kc_emu_model_counts c;
		kc_emu_model_counts(r->model, &c);
		r->unit = kc_emu_serverless_unit(&e->host, &e->prof, c.in_system, now, &extra);
		if (r->unit < 0)
			return false;
	}
	kc_emu_model_admit_extra(r->model, now, r->t_head_ns + e->prof.timeout_ns, extra,
				 &r->admit);
	if (r->admit.kind == KC_EMU_ADMIT_OVERLOAD)
		return true;
	kc_emu_serverless_busy(&e->host, r->unit, r->admit.done_ns);
	if (r->ic >= 0)
		e->host.ic_served[r->ic]++;
	r->leave_pending = true;
	r->in_flight = true;
	e->in_flight++;
	struct kc_emu_model_counts c;
	kc_emu_model_counts(r->model, &c);
	if (c.queue_depth > e->queue_max)
		e->queue_max = c.queue_depth;
	return true;
}

/* The whole body is in: SigV4, CPU stage, faults, model (request_int.h). */
bool kc_emu_req_admit(struct kc_emu *e, struct req *r, const struct kc_emu_headers *hl)
{
	r->t_body_ns = kc_clock_ns();
	pthread_mutex_lock(&e->mu);
	e->received++;
	pthread_mutex_unlock(&e->mu);

	if (r->too_large) {
		set_error(r, 413, KC_EMU_ERRC_TOO_LARGE,
			  "Request body of %" PRIu64 " bytes exceeds the %" PRIu64 "-byte limit",
			  r->body_total, e->prof.body_bytes_max);
		return false;
	}
	if (r->no_mem) {
		set_error(r, 503, KC_EMU_ERRC_INTERNAL, "emulator out of body memory");
		return false;
	}
	if (e->signer && !verify_sigv4(e, r, hl))
		return false;
	if (!cpu_stage(e, r))
		return false;

	char why[200];
	r->model = kc_emu_hosting_pick(&e->host, &e->prof, e->model, hl, &r->ic, why, sizeof(why));
	if (!r->model) {
		set_error(r, 400, KC_EMU_ERRC_VALIDATION, "%s", why);
		return false;
	}
	int64_t now = kc_clock_ns();
	pthread_mutex_lock(&e->mu);
	kc_emu_faults_decide(&e->prof.faults, &e->rng, &r->plan);
	int inj = r->plan.status;
	/* Errors the front end raises come back at once; 424/500 come from
	 * the container, so they take their service time first. */
	bool front = inj == 400 || inj == 429 || inj == 503 || inj == 530;
	bool throttled = !front && !admit_locked(e, r, now);
	pthread_mutex_unlock(&e->mu);

	if (throttled) {
		set_error(r, 400, KC_EMU_ERRC_OVERLOAD,
			  "Rate exceeded: the serverless endpoint's MaxConcurrency (%d) is in use",
			  e->prof.serverless_max_concurrency);
		return false;
	}
	if (front) {
		set_error(r, inj, KC_EMU_ERRC_INJECTED, "injected fault");
		return false;
	}
	switch (r->admit.kind) {
	case KC_EMU_ADMIT_OVERLOAD: {
		static const int st[] = {503, 400, 429};
		set_error(r, st[e->prof.queue_full_error], KC_EMU_ERRC_OVERLOAD,
			  "The instance's queue is full (%" PRId64 " waiting)", e->prof.queue_limit);
		return false;
	}
	case KC_EMU_ADMIT_TIMEOUT:
		set_error(r, 424, KC_EMU_ERRC_TIMEOUT,
			  "Your invocation timed out while waiting for a response from "
			  "container primary");
		r->orig_status = 0;
		break;
	case KC_EMU_ADMIT_SERVE:
		if (inj == 424) {
			set_error(r, 424, KC_EMU_ERRC_INJECTED, "injected model error");
			r->orig_status = 500;
		} else if (inj == 500) {
			set_error(r, 500, KC_EMU_ERRC_INJECTED, "injected internal failure");
		} else {
			r->status = 200;
		}
		break;
	}
	return true;
}
void kc_emu_req_leave(struct kc_emu *e, struct req *r)
{
	pthread_mutex_lock(&e->mu);
	kc_emu_model_leave(r->model ? r->model : e->model, &r->admit);
	pthread_mutex_unlock(&e->mu);
	r->leave_pending = false;
}

void kc_emu_req_stopping(struct req *r)
{
	set_error(r, 503, KC_EMU_ERRC_INTERNAL, "The emulator is stopping");
	r->plan.slow = false;
	r->plan.reset_mid = false;
}

/* First look at an invocation: route checks before any body is read. */
enum kc_emu_head kc_emu_req_head(struct kc_emu *e, struct req *r,
				 const char *content_length)
{
	/* kc_emu_req_route made url /endpoints/NAME/<operation>, NAME without '/'. */
	const char *name = r->url + sizeof("/endpoints/") - 1;
	const char *slash = strchr(name, '/');
	size_t name_len = slash ? (size_t)(slash - name) : strlen(name);
	make_reqid(e, r);
	if (!valid_endpoint_name(name, name_len)) {
		set_error(r, 400, KC_EMU_ERRC_VALIDATION,
			  "1 validation error detected: Value at 'endpointName' failed to "
			  "satisfy constraint: Member must satisfy regular expression pattern: "
			  "^[a-zA-Z0-9](-*[a-zA-Z0-9])*");
		r->route = R_ERROR;
	} else if (e->prof.endpoint_name[0] &&
		   (strlen(e->prof.endpoint_name) != name_len ||
		    memcmp(e->prof.endpoint_name, name, name_len) != 0)) {
		set_error(r, 400, KC_EMU_ERRC_VALIDATION,
			  "Endpoint %.*s of account 000000000000 not found.", (int)name_len, name);
		r->route = R_ERROR;
	}
	const char *cl = content_length;
	if (cl) {
		char *end = NULL;
		errno = 0;
		unsigned long long v = strtoull(cl, &end, 10);
		if (end != cl && errno == 0 && v > e->prof.body_bytes_max) {
			r->body_total = v;
			set_error(r, 413, KC_EMU_ERRC_TOO_LARGE,
				  "Request body of %llu bytes exceeds the %" PRIu64 "-byte limit",
				  v, e->prof.body_bytes_max);
			return KC_EMU_HEAD_ANSWER;
		}
	}
	if (r->route == R_ERROR)
		return KC_EMU_HEAD_READ;
	if (e->prof.faults.close_after > 0) {
		pthread_mutex_lock(&e->mu);
		bool over = ++e->invocations > e->prof.faults.close_after;
		pthread_mutex_unlock(&e->mu);
		if (over) {
			kc_emu_count_error(e, KC_EMU_ERRC_DEAD);
			return KC_EMU_HEAD_DROP;
		}
	}
	return KC_EMU_HEAD_READ;
}
/* Resets r for a new request and decides its route from the headers. */
void kc_emu_req_route(struct kc_emu *e, struct req *r, const char *url,
		      const char *method)
{
	static const char ep[] = "/endpoints/";
	static const char inv[] = "/invocations";
	static const char rs[] = "/invocations-response-stream";
	r->t_head_ns = kc_clock_ns();
	r->url = url;
	r->etype = NULL;
	r->body_len = 0;
	r->body_total = 0;
	r->hash = UINT64_C(0xcbf29ce484222325);
	r->too_large = false;
	r->no_mem = false;
	r->leave_pending = false;
	r->in_flight = false;
	r->plan = (struct kc_emu_fault_plan){0};
	r->model = NULL;
	r->ic = -1;
	r->unit = -1;
	r->status = 0;
	r->errc = KC_EMU_ERRC_INTERNAL;
	r->orig_status = 0;
	r->msg[0] = '\0';
	r->img_w = r->img_h = 0;
	r->reqid[0] = '\0';
	r->state = S_READING;
	r->stream = false;
	r->name_len = 0;

	bool get = !strcmp(method, "GET") || !strcmp(method, "HEAD");
	if (!strcmp(url, "/ping") || !strcmp(url, "/emulator/stats")) {
		r->route = !get ? R_BAD_METHOD : url[1] == 'p' ? R_PING : R_STATS;
		return;
	}
	size_t ul = strlen(url);
	r->route = R_NOT_FOUND;
	size_t tail = 0;
	if (ul > sizeof(ep) - 1 + sizeof(rs) - 1 && !strcmp(url + ul - (sizeof(rs) - 1), rs)) {
		tail = sizeof(rs) - 1;
		r->stream = true;
	} else if (ul > sizeof(ep) - 1 + sizeof(inv) - 1 &&
		   !strcmp(url + ul - (sizeof(inv) - 1), inv)) {
		tail = sizeof(inv) - 1;
	}
	if (!strncmp(url, ep, sizeof(ep) - 1) && tail) {
		size_t name_len = ul - (sizeof(ep) - 1) - tail;
		if (!memchr(url + sizeof(ep) - 1, '/', name_len)) {
			r->route = R_INVOKE;
			r->name_len = name_len;
			if (strcmp(method, "POST") != 0) {
				make_reqid(e, r);
				set_error(r, 405, KC_EMU_ERRC_METHOD,
					  "%s is not allowed here; InvokeEndpoint is POST", method);
				r->route = R_ERROR;
			}
		}
	}
}

const char *kc_emu_req_other(struct kc_emu *e, struct req *r, int *status,
			     const char **etype, const char **allow, char **owned)
{
	*etype = NULL;
	*allow = NULL;
	*owned = NULL;
	*status = 200;
	r->state = S_DONE;
	switch (r->route) {
	case R_PING:
		return "{}";
	case R_STATS:
		*owned = kc_emu_stats_json(e);
		return *owned;
	case R_BAD_METHOD:
		kc_emu_count_error(e, KC_EMU_ERRC_METHOD);
		*status = 405;
		*etype = "MethodNotAllowed";
		*allow = "GET";
		return "{\"message\":\"use GET\"}";
	case R_NOT_FOUND:
	default:
		kc_emu_count_error(e, KC_EMU_ERRC_NOT_FOUND);
		*status = 404;
		*etype = "UnknownOperationException";
		return "{\"message\":\"Unknown path: this emulator answers "
		       "POST /endpoints/NAME/invocations, "
		       "POST /endpoints/NAME/invocations-response-stream, "
		       "GET /ping and GET /emulator/stats\"}";
	}
}
/* ---- the rest of request_int.h --------------------------------------- */

size_t kc_emu_store_max(const struct kc_emu *e)
{
	const struct kc_emu_profile *p = &e->prof;
	if (e->signer)
		return (size_t)p->body_bytes_max; /* the hash needs it all */
	if (p->input == KC_EMU_INPUT_ANY)
		return 0;
	return p->cpu_decode != KC_EMU_DECODE_OFF ? (size_t)p->body_bytes_max : 4;
}

void kc_emu_req_fail(struct kc_emu *e, struct req *r, int status,
		     enum kc_emu_err_class c, const char *msg)
{
	if (!r->reqid[0])
		make_reqid(e, r);
	set_error(r, status, c, "%s", msg);
	r->route = R_ERROR;
}

void kc_emu_req_abandon(struct kc_emu *e, struct req *r)
{
	pthread_mutex_lock(&e->mu);
	if (r->leave_pending)
		kc_emu_model_leave(r->model ? r->model : e->model, &r->admit);
	if (r->in_flight)
		e->in_flight--;
	pthread_mutex_unlock(&e->mu);
	r->leave_pending = false;
	r->in_flight = false;
}

void kc_emu_req_mem_release(struct req *r)
{
	if (r->mem && r->mem_held)
		atomic_fetch_sub(&r->mem->used, r->mem_held);
	r->mem_held = 0;
}

void kc_emu_req_detach(struct kc_emu *e, struct req *r)
{
	pthread_mutex_lock(&e->mu);
	if (r->in_flight)
		e->in_flight--;
	pthread_mutex_unlock(&e->mu);
	r->in_flight = false;
}

int64_t kc_emu_stall_until(const struct kc_emu *e, int64_t now_ns)
{
	int64_t end = kc_emu_faults_stall_end(&e->prof.faults, now_ns - e->start_ns);
	return end >= 0 ? e->start_ns + end : -1;
}
