/*
 * streams_driver.c - `kneecap streams` target and driver (streams_cmd.h):
 * the emulator on loopback or a real target with its credentials, the
 * request headers, and the stream driver built from the flags.
 */
#include "streams_cmd.h"

static int add_header(struct run *r, const char *name, const char *value)
{
	if (r->nheaders == sizeof(r->headers) / sizeof(r->headers[0]))
		return -1;
	snprintf(r->hdr_lines[r->nheaders], sizeof(r->hdr_lines[0]), "%s: %s", name, value);
	r->headers[r->nheaders] = r->hdr_lines[r->nheaders];
	r->nheaders++;
	return 0;
}

/* Starts the built-in emulator on loopback and points the run at it. */
static int setup_emulator_target(struct run *r, struct kc_diag *d)
{
	struct opts *o = &r->o;
	/* The emulator verifies what kneecap signs: with the scenario's
	 * keys, or a fixed fake pair so signing is always exercised. */
	if (!r->emu.sigv4_akid[0]) {
		snprintf(r->bp.akid, sizeof(r->bp.akid), "%s", FAKE_AKID);
		snprintf(r->bp.secret, sizeof(r->bp.secret), "%s", FAKE_SECRET);
	} else {
		snprintf(r->bp.akid, sizeof(r->bp.akid), "%s", r->emu.sigv4_akid);
		snprintf(r->bp.secret, sizeof(r->bp.secret), "%s", r->emu.sigv4_secret);
	}
	snprintf(r->bp.region, sizeof(r->bp.region), "%s", r->emu.sigv4_region);
	snprintf(r->bp.variant, sizeof(r->bp.variant), "%s", r->emu.variant);
	r->bp.capture_path = o->capture;
	r->bp.capture_stream = 2; /* the first stream after the probe's */
	if (o->emulator_tls)
		r->bp.tls = true;
	if (r->bp.tls) {
		/* kneecap verifies the emulator's fresh certificate as its CA */
		const char *tmp = getenv("TMPDIR");
		snprintf(r->cert_path, sizeof(r->cert_path), "%s/kneecap-emu-XXXXXX.pem",
			 tmp && *tmp ? tmp : "/tmp");
		int fd = mkstemps(r->cert_path, 4);
		if (fd < 0) {
			cli_error("streams: cannot create %s (%s)", r->cert_path, strerror(errno));
			r->cert_path[0] = '\0';
			return KC_EXIT_USAGE;
		}
		close(fd);
		r->bp.tls_cert_out = r->cert_path;
	}
	if (kc_bidi_start(&r->bp, "127.0.0.1:0", &r->bidi, d)) {
		cli_diag_error("streams: emulator", d);
		return KC_EXIT_USAGE;
	}
	snprintf(r->url, sizeof(r->url),
		 "%s://127.0.0.1:%d/endpoints/kneecap-emulator" KC_BIDI_PATH_SUFFIX,
		 r->bp.tls ? "https" : "http", kc_bidi_port(r->bidi));
	r->akid = r->bp.akid;
	r->secret = r->bp.secret;
	r->token = NULL;
	r->region = r->bp.region;
	return 0;
}

int streams_setup_target(struct run *r)
{
	struct opts *o = &r->o;
	struct kc_diag d;
	kc_diag_clear(&d);
	/* The region as run resolves it (--region, AWS_REGION, AWS_DEFAULT_REGION,
	 * the profile); an http(s) TARGET that names none signs for us-east-1. */
	struct kc_creds_opts ro = {.profile = o->profile, .region = o->region};
	int rrc = kc_creds_region(&ro, r->region_buf, sizeof(r->region_buf), NULL, &d);
	if (rrc && (rrc != KC_ENOTFOUND || (o->target && !strncmp(o->target, "sagemaker:", 10)))) {
		cli_diag_error("streams: region", &d);
		return KC_EXIT_USAGE;
	}
	r->region = rrc ? "us-east-1" : r->region_buf;
	kc_diag_clear(&d);
	r->akid = getenv("AWS_ACCESS_KEY_ID");
	r->secret = getenv("AWS_SECRET_ACCESS_KEY");
	r->token = getenv("AWS_SESSION_TOKEN");
	if ((o->fips || o->dualstack) && (!o->target || strncmp(o->target, "sagemaker:", 10))) {
		cli_error("streams: --%s goes with a sagemaker: TARGET", o->fips ? "fips"
										 : "dualstack");
		return KC_EXIT_USAGE;
	}
	if (!o->target)
		return setup_emulator_target(r, &d);
	if (strncmp(o->target, "sagemaker:", 10) == 0) {
		char ep[128], variant[128] = "";
		const char *name = o->target + 10;
		const char *slash = strchr(name, '/');
		snprintf(ep, sizeof(ep), "%.*s", slash ? (int)(slash - name) : (int)strlen(name),
			 name);
		if (slash)
			snprintf(variant, sizeof(variant), "%s", slash + 1);
		if (!kc_sagemaker_name_valid(ep) || (slash && !kc_sagemaker_name_valid(variant))) {
			cli_error("streams: target '%s': endpoint and variant names are 1-63 "
				  "letters, digits and hyphens", o->target);
			return KC_EXIT_USAGE;
		}
		/* One URL builder for every operation: port 8443 and an :authority
		 * that carries it for the bidirectional stream (aws-wire.md 3.1). */
		struct kc_sm_url u;
		unsigned variants = (o->fips ? KC_SM_FIPS : 0) | (o->dualstack ? KC_SM_DUALSTACK : 0);
		if (kc_sagemaker_build_url_v(KC_SM_BIDI, r->region, ep, o->endpoint_url, variants,
					     &u, &d)) {
			cli_diag_error("streams", &d);
			return KC_EXIT_USAGE;
		}
		snprintf(r->url, sizeof(r->url), "%s", u.url);
		if (!o->endpoint_url)
			snprintf(r->authority, sizeof(r->authority), "%s", u.host_header);
		if (variant[0])
			add_header(r, "x-amzn-sagemaker-target-variant", variant);
		snprintf(r->rcfg.endpoint_name, sizeof(r->rcfg.endpoint_name), "%.63s", ep);
		if (variant[0])
			snprintf(r->rcfg.variant, sizeof(r->rcfg.variant), "%.63s", variant);
		/* The AWS CLI's chain behind the refreshing provider run and find
		 * use: a search longer than temporary credentials live keeps
		 * signing with fresh ones.  The secret stays in the provider. */
		struct kc_creds_opts co = {.profile = o->profile, .region = o->region};
		if (kc_creds_provider_new(&r->creds, &co, &d)) {
			cli_diag_error("streams: credentials", &d);
			return KC_EXIT_USAGE;
		}
		char desc[512];
		const struct kc_creds *c = kc_creds_provider_acquire(r->creds);
		kc_creds_describe(c, desc, sizeof(desc));
		kc_creds_provider_release(r->creds, c);
		if (kc_creds_provider_start(r->creds, 0))
			kc_log(KC_LOG_WARN, "credential refresh thread not started; long runs may "
					    "outlive temporary credentials");
		kc_log(KC_LOG_INFO, "region %s; credentials: %s", r->region, desc);
		r->akid = r->secret = r->token = NULL;
	} else if (kc_url_is_http(o->target)) {
		snprintf(r->url, sizeof(r->url), "%s", o->target);
		if (!r->akid || !*r->akid || !r->secret || !*r->secret) {
			/* an emulator started elsewhere verifies with its own keys;
			 * these are the emulator's default fake pair */
			r->akid = FAKE_AKID;
			r->secret = FAKE_SECRET;
			r->token = NULL;
		}
	} else {
		cli_error("streams: target '%s': want sagemaker:ENDPOINT[/VARIANT] or http(s)://...",
			  o->target);
		return KC_EXIT_USAGE;
	}
	return 0;
}

/* The SageMaker model headers and the -H lines, checked, into r->headers. */
static int build_headers(struct run *r)
{
	const struct opts *o = &r->o;
	if (o->invocation_path) {
		if (!kc_bidi_invocation_path_valid(o->invocation_path))
			return streams_bad("model-invocation-path", o->invocation_path,
				   "want segments of letters, digits, '.', '_', '-' joined by '/', "
				   "no leading slash, at most 100 bytes (e.g. v1/listen)");
		add_header(r, "x-amzn-sagemaker-model-invocation-path", o->invocation_path);
	}
	if (o->query_string) {
		if (!kc_bidi_query_string_valid(o->query_string))
			return streams_bad("model-query-string", o->query_string,
				   "want key=value pairs joined by '&', values percent-encoded, "
				   "at most 2048 bytes");
		add_header(r, "x-amzn-sagemaker-model-query-string", o->query_string);
	}
	for (size_t i = 0; i < o->nuser_headers; i++) {
		const char *line = o->user_headers[i], *colon = strchr(line, ':');
		char hname[256];
		snprintf(hname, sizeof(hname), "%.*s", (int)(colon - line), line);
		for (char *p = hname; *p; p++) /* HTTP/2 field names are lowercase */
			if (*p >= 'A' && *p <= 'Z')
				*p = (char)(*p - 'A' + 'a');
		const char *val = colon + 1;
		while (*val == ' ' || *val == '\t')
			val++;
		if (add_header(r, hname, val)) {
			cli_error("streams: -H '%s': too many headers", line);
			return KC_EXIT_USAGE;
		}
	}
	return 0;
}

/* --audio: the file's samples (a canonical WAV header skipped) into r->stc. */
static int read_audio(struct run *r)
{
	const struct opts *o = &r->o;
	struct kc_streams_config *c = &r->stc;
	kc_buf_init(&r->audio, (size_t)256 << 20);
	r->have_audio = true;
	if (kc_buf_read_file(&r->audio, o->audio)) {
		cli_error("streams: --audio '%s': cannot read it (at most 256 MiB)", o->audio);
		return KC_EXIT_USAGE;
	}
	const uint8_t *p = (const uint8_t *)r->audio.data;
	size_t n = r->audio.len;
	if (n > 44 && memcmp(p, "RIFF", 4) == 0 && memcmp(p + 8, "WAVE", 4) == 0) {
		p += 44; /* canonical WAV header: send the samples */
		n -= 44;
	}
	c->audio = p;
	c->audio_len = n;
	return 0;
}

int streams_build_driver(struct run *r)
{
	struct opts *o = &r->o;
	struct kc_diag d;
	kc_diag_clear(&d);
	int rc;
	if ((rc = build_headers(r)))
		return rc;
	struct kc_streams_config *c = &r->stc;
	c->url = r->url;
	c->authority = r->authority[0] ? r->authority : NULL;
	c->headers = r->headers;
	c->nheaders = r->nheaders;
	c->access_key_id = r->akid;
	c->secret_access_key = r->secret;
	c->session_token = r->token;
	c->creds = r->creds;
	c->region = r->region;
	c->insecure = o->insecure;
	c->cacert = r->cert_path[0] ? r->cert_path : o->cacert;
	c->max_streams = (uint32_t)r->scfg.max;
	if ((rc = streams_opt_dur("connect-timeout", o->connect_timeout, KC_NS_PER_MS,
			  &c->connect_timeout_ns)))
		return rc;
	if ((rc = streams_opt_dur("timeout", o->timeout, KC_NS_PER_MS, &c->reply_timeout_ns)))
		return rc;
	uint32_t u = 0;
	if ((rc = streams_opt_u32("chunk-bytes", o->chunk_bytes, 2, 65536, &u)))
		return rc;
	c->chunk_bytes = u;
	if ((rc = streams_opt_dur("chunk-interval", o->chunk_interval, 5 * KC_NS_PER_MS,
			  &c->chunk_interval_ns)))
		return rc;
	u = 0;
	if ((rc = streams_opt_u32("threads", o->threads, 1, 256, &u)))
		return rc;
	c->threads = u;
	u = 0;
	if ((rc = streams_opt_u32("streams-per-connection", o->per_conn, 1, 100000, &u)))
		return rc;
	c->streams_per_connection = u;
	if (o->reply_match) {
		if (strcmp(o->reply_match, "fifo") == 0)
			c->match = KC_MATCH_FIFO;
		else if (strcmp(o->reply_match, "audio-time") == 0)
			c->match = KC_MATCH_AUDIO_TIME;
		else
			return streams_bad("reply-match", o->reply_match, "want fifo or audio-time");
	}
	u = 0;
	if ((rc = streams_opt_u32("audio-bytes-per-second", o->audio_rate, 1, 100000000, &u)))
		return rc;
	c->audio_bytes_per_s = u;
	if (o->close_message) {
		if (strlen(o->close_message) > 1024)
			return streams_bad("close-message", "...", "at most 1024 bytes");
		c->close_message = o->close_message;
	}
	if (o->audio && (rc = read_audio(r)))
		return rc;
	if (kc_streams_new(&r->st, c, &d)) {
		cli_diag_error("streams", &d);
		return KC_EXIT_USAGE;
	}
	return 0;
}
