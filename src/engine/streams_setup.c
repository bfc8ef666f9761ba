/*
 * streams_setup.c - the stream driver object (streams.h): reading the
 * configuration (URL, headers, TLS, audio, chunk pacing), allocating the
 * workers and their slots, and freeing it all.  No traffic here.
 */
#include "kneecap/engine.h"
#include "kneecap/streams.h"
#include "kneecap/audio.h"

#include "streams_int.h"


/* ---- object --------------------------------------------------------------- */

static int parse_url(struct kc_streams *s, const struct kc_streams_config *cfg,
		     struct kc_diag *d)
{
	struct kc_url u;
	int rc = kc_url_parse(cfg->url, &u, d);
	if (rc)
		return rc;
	s->scheme_https = u.https;
	snprintf(s->host, sizeof(s->host), "%s", u.host);
	snprintf(s->port, sizeof(s->port), "%s", u.port);
	snprintf(s->authority, sizeof(s->authority), "%s",
		 cfg->authority ? cfg->authority : u.hostport);
	snprintf(s->path, sizeof(s->path), "%s", u.path);
	snprintf(s->query, sizeof(s->query), "%s", u.query);
	return 0;
}

static int parse_headers(struct kc_streams *s, const struct kc_streams_config *cfg,
			 struct kc_diag *d)
{
	if (cfg->nheaders > EXTRA_MAX)
		return kc_diag_set(d, KC_EINVAL, "at most %d extra headers", EXTRA_MAX);
	for (size_t i = 0; i < cfg->nheaders; i++) {
		const char *line = cfg->headers[i];
		const char *colon = strchr(line, ':');
		if (!colon || colon == line || (size_t)(colon - line) >= sizeof(s->extra_name[0]))
			return kc_diag_set(d, KC_EINVAL, "header '%s': want 'Name: value'", line);
		size_t nl = (size_t)(colon - line);
		for (size_t j = 0; j < nl; j++) {
			char ch = line[j];
			if (ch >= 'A' && ch <= 'Z')
				ch = (char)(ch + 32);
			if (!((ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '-'))
				return kc_diag_set(d, KC_EINVAL, "header '%s': bad name", line);
			s->extra_name[s->nextra][j] = ch;
		}
		s->extra_name[s->nextra][nl] = '\0';
		const char *v = colon + 1;
		while (*v == ' ' || *v == '\t')
			v++;
		if (strlen(v) >= sizeof(s->extra_value[0]) || strpbrk(v, "\r\n"))
			return kc_diag_set(d, KC_EINVAL, "header '%.*s': bad value", (int)nl, line);
		snprintf(s->extra_value[s->nextra], sizeof(s->extra_value[0]), "%s", v);
		s->nextra++;
	}
	return 0;
}

static int tls_ctx(struct kc_streams *s, const struct kc_streams_config *cfg,
		   struct kc_diag *d)
{
	return kc_h2net_tls_ctx(&s->ctx, cfg->insecure, cfg->cacert, d);
}


void kc_streams_free(struct kc_streams *s)
{
	if (!s)
		return;
	if (s->workers) {
		for (uint32_t i = 0; i < s->threads; i++) {
			struct worker *w = &s->workers[i];
			if (w->slots) {
				for (uint32_t j = 0; j < w->nslots; j++) {
					kc_es_decoder_fini(&w->slots[j].dec);
					free(w->slots[j].ebody);
				}
			}
			free(w->slots);
			free(w->frame_mem);
			kc_ssigners_fini(&w->sig);
			kc_hdr_free(w->lat);
			kc_hdr_free(w->svc);
			kc_hdr_free(w->ttfb);
			kc_hdr_free(w->setup);
			kc_hdr_free(w->lag);
			if (w->efd >= 0)
				close(w->efd);
		}
		free(s->workers);
	}
	if (s->ctx)
		SSL_CTX_free(s->ctx);
	free(s->synth);
	OPENSSL_cleanse(s->secret, sizeof(s->secret));
	OPENSSL_cleanse(s->token, sizeof(s->token));
	free(s);
}

static int worker_init(struct kc_streams *s, struct worker *w, uint32_t nslots,
		       struct kc_diag *d)
{
	w->s = s;
	w->efd = epoll_create1(EPOLL_CLOEXEC);
	if (w->efd < 0)
		return kc_diag_set(d, KC_EIO, "epoll_create1: %s", strerror(errno));
	struct kc_sigv4_config sc = {
		.access_key_id = s->akid, .secret_access_key = s->secret,
		.session_token = s->token[0] ? s->token : NULL, .region = s->region,
		.service = "sagemaker", .sign_content_sha256 = true,
	};
	/* with a provider its current snapshot, refreshed per stream */
	int rc = kc_ssigners_init(&w->sig, s->creds, &sc, d);
	if (rc)
		return rc;
	size_t frame = s->frame_bytes;
	w->nslots = nslots;
	w->slots = calloc(nslots, sizeof(*w->slots));
	w->frame_mem = malloc(frame * nslots);
	if (!w->slots || !w->frame_mem)
		return kc_diag_set(d, KC_ENOMEM, "out of memory for %u stream slots", nslots);
	for (uint32_t i = 0; i < nslots; i++) {
		w->slots[i].buf = w->frame_mem + frame * i;
		if (kc_es_decoder_init(&w->slots[i].dec, REPLY_MSG_MAX, 16)) {
			w->nslots = i;
			return kc_diag_set(d, KC_ENOMEM, "out of memory for reply decoders");
		}
	}
	struct kc_hdr **hs[] = {&w->lat, &w->svc, &w->ttfb, &w->setup, &w->lag};
	for (size_t i = 0; i < sizeof(hs) / sizeof(hs[0]); i++) {
		if (kc_hdr_new(hs[i], HDR_LOW, HDR_HIGH, HDR_SIG))
			return kc_diag_set(d, KC_ENOMEM, "out of memory for histograms");
	}
	return 0;
}

/* Copies credentials, chunking, matching and audio from cfg, with defaults. */
static int take_settings(struct kc_streams *s, const struct kc_streams_config *cfg,
			 struct kc_diag *d)
{
	int rc;
	s->creds = cfg->creds;
	if (s->creds) {
		if (!cfg->region || snprintf(s->region, sizeof(s->region), "%s", cfg->region) >=
					    (int)sizeof(s->region))
			return kc_diag_set(d, KC_EINVAL, "region missing or too long");
	} else if (!cfg->access_key_id || !cfg->secret_access_key || !cfg->region ||
	    snprintf(s->akid, sizeof(s->akid), "%s", cfg->access_key_id) >= (int)sizeof(s->akid) ||
	    snprintf(s->secret, sizeof(s->secret), "%s", cfg->secret_access_key) >=
		    (int)sizeof(s->secret) ||
	    snprintf(s->token, sizeof(s->token), "%s",
		     cfg->session_token ? cfg->session_token : "") >= (int)sizeof(s->token) ||
	    snprintf(s->region, sizeof(s->region), "%s", cfg->region) >= (int)sizeof(s->region)) {
		rc = kc_diag_set(d, KC_EINVAL, "credentials or region missing or too long");
		return rc;
	}
	s->chunk_bytes = cfg->chunk_bytes ? cfg->chunk_bytes : 3200;
	s->interval_ns = cfg->chunk_interval_ns ? cfg->chunk_interval_ns : 100 * KC_NS_PER_MS;
	s->match = cfg->match;
	s->audio_rate = cfg->audio_bytes_per_s ? (double)cfg->audio_bytes_per_s : 32000.0;
	if (cfg->close_message) {
		s->close_len = strlen(cfg->close_message);
		if (s->close_len > CLOSE_MAX) {
			rc = kc_diag_set(d, KC_EINVAL, "close message over %d bytes", CLOSE_MAX);
			return rc;
		}
		memcpy(s->close_msg, cfg->close_message, s->close_len);
	}
	s->frame_bytes = (s->chunk_bytes > CLOSE_MAX ? s->chunk_bytes : CLOSE_MAX) +
			 INNER_HDR_MAX + KC_EVSIGN_OVERHEAD_BYTES;
	s->max_streams = cfg->max_streams ? cfg->max_streams : 10000;
	s->per_conn = cfg->streams_per_connection ? cfg->streams_per_connection : 100;
	s->connect_timeout_ns = cfg->connect_timeout_ns ? cfg->connect_timeout_ns : 5 * KC_NS_PER_S;
	s->reply_timeout_ns = cfg->reply_timeout_ns ? cfg->reply_timeout_ns : 10 * KC_NS_PER_S;
	if (s->chunk_bytes > 65536 || s->interval_ns < TICKS * KC_NS_PER_MS / 4 ||
	    s->max_streams > 1000000) {
		rc = kc_diag_set(d, KC_EINVAL, "chunk at most 64 KiB, interval at least 5 ms, "
				 "at most 1000000 streams");
		return rc;
	}
	if (cfg->audio) {
		s->audio = cfg->audio;
		s->audio_len = cfg->audio_len;
	} else {
		s->synth = kc_audio_synth_pcm(&s->audio_len);
		if (!s->synth) {
			rc = kc_diag_set(d, KC_ENOMEM, "out of memory");
			return rc;
		}
		s->audio = s->synth;
	}
	if (s->audio_len < s->chunk_bytes) {
		rc = kc_diag_set(d, KC_EINVAL, "audio (%zu bytes) is shorter than one chunk (%zu)",
				 s->audio_len, s->chunk_bytes);
		return rc;
	}
	return 0;
}

/* Sizes the worker pool (one thread per 2000 streams, at most the cores
 * unless asked) and allocates every worker's slots. */
static int make_workers(struct kc_streams *s, const struct kc_streams_config *cfg,
			struct kc_diag *d)
{
	int rc;
	long cores = sysconf(_SC_NPROCESSORS_ONLN);
	uint32_t t = cfg->threads ? cfg->threads : (s->max_streams + 1999) / 2000;
	if (!cfg->threads && cores > 0 && t > (uint32_t)cores)
		t = (uint32_t)cores;
	if (t < 1)
		t = 1;
	if (t > 256)
		t = 256;
	/* Sockets and memory first, before any slot exists. */
	uint64_t per_thread = (s->max_streams + t - 1) / t;
	uint64_t conns = (per_thread + s->per_conn - 1) / s->per_conn;
	struct kc_load_size size = {
		.threads = t,
		.connections_per_thread = conns,
		.bytes = (uint64_t)t * (per_thread * (sizeof(struct slot) + s->frame_bytes) +
					conns * STREAMS_CONN_BYTES),
	};
	struct kc_sys_limits lim;
	kc_sys_limits_get(&lim);
	if ((rc = kc_load_size_check(&size, &lim, d)))
		return rc;
	s->workers = calloc(t, sizeof(*s->workers));
	if (!s->workers) {
		rc = kc_diag_set(d, KC_ENOMEM, "out of memory");
		return rc;
	}
	s->threads = t;
	for (uint32_t i = 0; i < t; i++)
		s->workers[i].efd = -1;
	for (uint32_t i = 0; i < t; i++) {
		s->workers[i].idx = (int)i;
		rc = worker_init(s, &s->workers[i], (s->max_streams + t - 1) / t, d);
		if (rc)
			return rc;
	}
	return 0;
}

int kc_streams_new(struct kc_streams **out, const struct kc_streams_config *cfg,
		   struct kc_diag *d)
{
	struct kc_streams *s = calloc(1, sizeof(*s));
	if (!s)
		return kc_diag_set(d, KC_ENOMEM, "out of memory");
	int rc = parse_url(s, cfg, d);
	if (!rc)
		rc = parse_headers(s, cfg, d);
	if (!rc)
		rc = take_settings(s, cfg, d);
	if (!rc && s->scheme_https)
		rc = tls_ctx(s, cfg, d);
	if (!rc)
		rc = make_workers(s, cfg, d);
	if (rc) {
		kc_streams_free(s);
		return rc;
	}
	*out = s;
	return 0;
}

void kc_streams_stop(struct kc_streams *s)
{
	atomic_store(&s->stop, true);
}

uint32_t kc_streams_threads(const struct kc_streams *s) { return s->threads; }
size_t kc_streams_chunk_bytes(const struct kc_streams *s) { return s->chunk_bytes; }
int64_t kc_streams_chunk_interval_ns(const struct kc_streams *s) { return s->interval_ns; }
