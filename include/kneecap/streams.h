/*
 * streams.h - the stream driver: K concurrent bidirectional HTTP/2 streams
 * (SageMaker InvokeEndpointWithBidirectionalStream, aws-wire.md 3) held for
 * one load step, with per-response latency into HDR histograms.
 *
 * Each stream POSTs the bidirectional path, then sends paced payload chunks
 * in real time (chunk_bytes every chunk_interval_ns), each wrapped as an
 * inner PayloadPart event and signed in the SigV4 event chain seeded by the
 * stream's own request signature; it ends with the signed empty frame and
 * END_STREAM.  Which chunk a response PayloadPart answers is a rule
 * (enum kc_streams_match): the oldest unanswered one (FIFO), or the chunk
 * holding the end of the audio span the reply reports (Deepgram's "start"
 * + "duration").  Latency = arrival - intended send time of that chunk
 * (coordinated-omission corrected), service = arrival - actual send.
 * Streams are multiplexed per connection up to the peer's
 * SETTINGS_MAX_CONCURRENT_STREAMS (and streams_per_connection); more
 * connections are opened as needed.  GOAWAY or a lost connection reopens
 * the streams elsewhere; RST_STREAM, reply timeouts and malformed frames
 * are counted by class (KC_EC_RESET, KC_EC_TIMEOUT, KC_EC_PROTO) and the
 * stream is reopened, so the step keeps holding K.
 *
 * Threads: the object is used by one thread; kc_streams_stop() may be
 * called from any thread or a signal handler.  A step runs `threads` worker
 * threads, each owning its connections and stream slots; all memory (frame
 * buffers, decoders, histograms) is allocated by kc_streams_new, nothing per
 * chunk.
 */
#ifndef KNEECAP_STREAMS_H
#define KNEECAP_STREAMS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kneecap/err.h"
#include "kneecap/step.h"

struct kc_creds_provider;
struct kc_hdr;
struct kc_streams;

/* How a reply is paired with the chunk it answers. */
enum kc_streams_match {
	KC_MATCH_FIFO,       /* each reply answers the oldest unanswered chunk */
	KC_MATCH_AUDIO_TIME, /* a reply whose JSON has top-level "start" and
			      * "duration" (seconds) answers the chunk holding
			      * audio second start + duration; earlier chunks
			      * count as answered too; other replies (Metadata,
			      * repeated spans) are not samples */
};

struct kc_streams_config {
	const char *url;          /* http[s]://host[:port]/endpoints/NAME/invocations-bidirectional-stream */
	const char *authority;    /* :authority and signed host; NULL = host[:port] of url */
	const char *const *headers; /* extra "Name: value" lines (variant, invocation path...) */
	size_t nheaders;          /* <= 16 */
	/* SigV4 (always: the emulator verifies with the same keys) */
	const char *access_key_id;
	const char *secret_access_key;
	const char *session_token; /* NULL or "" */
	/* Refreshing credentials (borrowed, must outlive the object): when set
	 * the three above are ignored; each stream is seeded with the current
	 * snapshot and keeps signing its events with it (aws-wire.md 6.7). */
	struct kc_creds_provider *creds;
	const char *region;
	/* payload: borrowed, must outlive the object; NULL = synthetic
	 * 16 kHz 16-bit mono PCM */
	const uint8_t *audio;
	size_t audio_len;
	size_t chunk_bytes;        /* 0: 3200 (100 ms of 16 kHz 16-bit PCM) */
	int64_t chunk_interval_ns; /* 0: 100 ms */
	enum kc_streams_match match;
	uint32_t audio_bytes_per_s; /* KC_MATCH_AUDIO_TIME: 0 = 32000 (16 kHz 16-bit mono) */
	const char *close_message;  /* UTF8 PayloadPart sent before the end frame
				     * (e.g. {"type":"CloseStream"}); NULL = none */
	uint32_t threads;          /* 0: one per 2000 streams, at most the cores */
	uint32_t max_streams;      /* largest K a step may ask; 0: 10000 */
	uint32_t streams_per_connection; /* 0: 100 (the peer's limit also applies) */
	int64_t connect_timeout_ns; /* 0: 5 s */
	int64_t reply_timeout_ns;   /* oldest unanswered chunk; 0: 10 s */
	bool insecure;              /* https: skip certificate verification */
	const char *cacert;         /* https: CA file, NULL = system default */
};

struct kc_streams_spec {
	int index;
	uint32_t streams;     /* K >= 1, <= max_streams */
	int64_t duration_ns;  /* measured window */
	int64_t warmup_ns;    /* held before the window, not measured */
};

/* What a streams step adds to struct kc_step_result. */
struct kc_streams_info {
	struct kc_latency setup;          /* request sent -> 200 headers */
	struct kc_latency first_response; /* request sent -> first response event */
	uint64_t streams_opened;          /* this step, reopens included */
	uint64_t reopened;                /* after a reset, GOAWAY, timeout or error */
	uint64_t goaways;
	uint64_t connections;             /* opened this step */
	uint64_t chunks_sent;             /* in the window */
	uint64_t replies;                 /* answering chunks of the window */
	uint64_t unmatched;               /* replies that answered no new chunk */
	double held_mean;                 /* mean streams open in the window */
	uint32_t held_max;
};

/*
 * Validates cfg (bad URL, scheme, header line, sizes -> KC_EINVAL with d),
 * copies what it needs (audio stays borrowed) and allocates every worker's
 * slots, buffers and histograms.  No connection is made.  Returns 0,
 * KC_EINVAL, KC_ENOMEM or KC_ETLS (TLS context); *out untouched on failure.
 */
int kc_streams_new(struct kc_streams **out, const struct kc_streams_config *cfg,
		   struct kc_diag *d);

/* Frees everything; s may be NULL. */
void kc_streams_free(struct kc_streams *s);

/*
 * Opens one stream, sends one chunk, waits for its reply and closes it,
 * twice at most, both tries together within timeout_ns (about; plus the
 * close): the reachability check.  Returns 0, KC_ECONNECT,
 * KC_ETLS, KC_ETIMEOUT, KC_EAUTH (403) or KC_EPROTO (other status or bad
 * frame), with d saying what happened.
 */
int kc_streams_probe(struct kc_streams *s, int64_t timeout_ns, struct kc_diag *d);

/*
 * Holds spec->streams streams for warmup + duration, then closes them (the
 * signed empty frame) and waits for the server's END_STREAM, at most
 * reply_timeout.  Fills *out (latency_hist/service_hist owned by it: release
 * with kc_step_result_fini): offered = K, achieved = mean streams held in
 * the window, ok/completed = replies, sent = chunks, latency per reply,
 * ttfb = first response.  info may be NULL.  When stopped, out->partial is
 * set and the return is still 0.  Returns KC_EINVAL (bad spec), KC_ENOMEM
 * or KC_EINTERNAL (thread); *out untouched then.
 */
int kc_streams_run_step(struct kc_streams *s, const struct kc_streams_spec *spec,
			struct kc_step_result *out, struct kc_streams_info *info,
			struct kc_diag *d);

/* Asks a running step to end now; async-signal-safe. */
void kc_streams_stop(struct kc_streams *s);

/* Effective settings after defaults. */
uint32_t kc_streams_threads(const struct kc_streams *s);
size_t kc_streams_chunk_bytes(const struct kc_streams *s);
int64_t kc_streams_chunk_interval_ns(const struct kc_streams *s);

#endif
