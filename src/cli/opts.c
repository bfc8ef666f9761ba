/*
 * opts.c - the option table run, find and streams share, and the one
 * parser for the values it names.  Ranges and defaults live here once; a
 * command that does not take an option still recognises it and says why.
 */
#include "opts.h"
#include "cli.h"

#include <string.h>

#include "kneecap/clock.h"
#include "kneecap/engine.h"
#include "kneecap/err.h"
#include "kneecap/parse.h"
#include "kneecap/scenario.h"

#define MS ((double)KC_NS_PER_MS)
#define SEC ((double)KC_NS_PER_S)
#define HOUR (3600 * SEC)

/* Repeated reasons, so each command refuses an option the same way. */
#define NOT_STREAMS_BODY "streams: the request body is the audio chunk stream (--audio) and the " \
	"method is always POST"
#define NOT_STREAMS_HTTP "streams: bidirectional streams are always HTTP/2"
#define NOT_STREAMS_CONNS "streams: connections follow the stream count; use " \
	"--streams-per-connection"
#define REGION_DEF "AWS_REGION, AWS_DEFAULT_REGION, the profile"
#define NOT_LOAD "find and streams: the search chooses the load (use --start and --max)"
#define NOT_STREAMS_SM "streams: InvokeEndpointWithBidirectionalStream takes only the variant " \
	"(sagemaker:ENDPOINT/VARIANT), --model-invocation-path and --model-query-string"

static const struct cli_opt table[] = {
	/* load (run) */
	{CLI_O_RATE, "rate", 0, CLI_K_RATE, CLI_G_LOAD, CLI_RUN, NULL, NULL, 0, 0, "R",
	 "requests per second, held for --duration", {NULL}, NOT_LOAD},
	{CLI_O_RAMP, "ramp", 0, CLI_K_STR, CLI_G_LOAD, CLI_ALL, NULL, NULL, 0, 0, "A:B:STEP",
	 "steps from A to B requests/s by STEP, each --step-duration (find, streams: the fixed "
	 "ladder shards run instead of a search; streams: stream counts)", {NULL}, NULL},
	{CLI_O_LINEAR, "linear", 0, CLI_K_STR, CLI_G_LOAD, CLI_RUN, NULL, NULL, 0, 0, "A:B",
	 "one step whose rate moves linearly from A to B requests/s over --warmup + --duration",
	 {NULL}, NOT_LOAD},
	{CLI_O_CONCURRENCY, "concurrency", 0, CLI_K_INT, CLI_G_LOAD, CLI_RUN, NULL, NULL, 1, 1e6,
	 "N", "closed loop: N requests outstanding (for comparison)", {NULL}, NOT_LOAD},
	{CLI_O_DURATION, "duration", 0, CLI_K_DUR, CLI_G_LOAD, CLI_RUN, NULL, NULL, MS, 24 * HOUR,
	 "D", "measured time of a --rate, --linear or --concurrency run", {"30s", NULL, NULL},
	 "find and streams: each step lasts --step-duration"},
	{CLI_O_ARRIVAL, "arrival", 0, CLI_K_STR, CLI_G_LOAD, CLI_RUN | CLI_FIND, "search",
	 "arrival", 0, 0, "uniform|poisson",
	 "inter-arrival times (poisson: random, each window's count fixed)",
	 {"uniform", "poisson", NULL}, "streams: streams are held, not sent at a rate"},
	{CLI_O_SEED, "seed", 0, CLI_K_INT, CLI_G_LOAD, CLI_RUN, NULL, NULL, 0, 9.2e18, "N",
	 "RNG seed for Poisson arrivals", {"1", NULL, NULL},
	 "find: --seed is [payload] seed (the synthetic JPEGs); streams: no random arrivals"},

	/* shards: one slice of a load that many processes drive together */
	{CLI_O_SHARD, "shard", 0, CLI_K_STR, CLI_G_LOAD, CLI_ALL, NULL, NULL, 0, 0, "I/N|env",
	 "drive shard I of N (0-based): 1/N of the rate (streams: of the stream count) and "
	 "of the connections; env: SLURM_PROCID/SLURM_NTASKS; find and streams then run the "
	 "--ramp ladder, and kneecap merge finds the knee",
	 {"one process", "one process", "one process"}, NULL},
	{CLI_O_SHARDS, "shards", 0, CLI_K_INT, CLI_G_LOAD, CLI_ALL, NULL, NULL, 1, 100000, "N",
	 "as --shard I/N with I from JOB_COMPLETION_INDEX (Kubernetes Indexed Job) or "
	 "SLURM_PROCID", {"one process", "one process", "one process"}, NULL},
	{CLI_O_START_AT, "start-at", 0, CLI_K_STR, CLI_G_LOAD, CLI_ALL, NULL, NULL, 0, 0, "TIME",
	 "start step 1 at TIME (RFC 3339 or Unix seconds); step k at TIME + k x (warm-up + "
	 "step + 1 s), so every shard's steps line up on the wall clock", {"now", "now", "now"},
	 NULL},
	{CLI_O_RUN_ID, "run-id", 0, CLI_K_STR, CLI_G_LOAD, CLI_ALL, NULL, NULL, 0, 0, "ID",
	 "names the run the shards belong to (merge refuses a shard of another)",
	 {"SLURM_JOB_ID, else --start-at", "SLURM_JOB_ID, else --start-at",
	  "SLURM_JOB_ID, else --start-at"}, NULL},

	/* search */
	{CLI_O_START, "start", 0, CLI_K_NUM, CLI_G_SEARCH, CLI_FIND | CLI_STREAMS, "search", "start",
	 0, KC_ENGINE_MAX_RATE, "N", "first load tried (requests/s; streams: stream count)",
	 {NULL, "10", "1"}, "run: the load is given (--rate, --ramp, --concurrency)"},
	{CLI_O_MAX, "max", 0, CLI_K_NUM, CLI_G_SEARCH, CLI_FIND | CLI_STREAMS, "search", "max", 0,
	 KC_ENGINE_MAX_RATE, "N", "highest load tried (requests/s; streams: stream count)",
	 {NULL, "10000", "1024"}, "run: the load is given (--rate, --ramp, --concurrency)"},
	{CLI_O_STEP_DURATION, "step-duration", 0, CLI_K_DUR, CLI_G_SEARCH, CLI_ALL, "search",
	 "step_duration", MS, 24 * HOUR, "D", "measured time of each step (run: of a --ramp step)",
	 {"10s", "20s", "30s"}, NULL},
	{CLI_O_WARMUP, "warmup", 0, CLI_K_DUR, CLI_G_SEARCH, CLI_ALL, "search", "warmup", 0, HOUR,
	 "D", "load before each step's measurement", {"0s", "5s", "5s"}, NULL},
	{CLI_O_SLO, "slo", 0, CLI_K_DUR, CLI_G_SEARCH, CLI_FIND | CLI_STREAMS, "search", "slo",
	 KC_NS_PER_US, HOUR, "D", "latency limit: a step above it is past the knee",
	 {NULL, "none", "400ms"}, "run: use --max-p50/--max-p90/--max-p99"},
	{CLI_O_SLO, "latency-limit", 0, CLI_K_DUR, CLI_G_SEARCH, CLI_FIND | CLI_STREAMS, "search",
	 "slo", KC_NS_PER_US, HOUR, "D", "the same as --slo", {NULL, "none", "400ms"},
	 "run: use --max-p50/--max-p90/--max-p99"},
	{CLI_O_STATISTIC, "slo-percentile", 0, CLI_K_STR, CLI_G_SEARCH, CLI_FIND | CLI_STREAMS,
	 "search", "slo_percentile", 0, 0, "mean|p50|p90|p99|p999",
	 "the latency statistic --slo limits", {NULL, "p99", "mean"},
	 "run: use --max-p50/--max-p90/--max-p99"},
	{CLI_O_STATISTIC, "statistic", 0, CLI_K_STR, CLI_G_SEARCH, CLI_FIND | CLI_STREAMS, "search",
	 "slo_percentile", 0, 0, "S", "the same as --slo-percentile", {NULL, "p99", "mean"},
	 "run: use --max-p50/--max-p90/--max-p99"},
	{CLI_O_MAX_ERROR_RATE, "max-error-rate", 0, CLI_K_STR, CLI_G_SEARCH, CLI_RUN | CLI_FIND,
	 "search", "max_error_rate", 0, 0, "F",
	 "errors / (ok + errors) above F fails a step (run: also 1%)", {"0.01", "0.01", NULL},
	 "streams: a stream error counts against --slo"},
	{CLI_O_MAX_P50, "max-p50", 0, CLI_K_DUR, CLI_G_SEARCH, CLI_RUN, NULL, NULL, KC_NS_PER_US,
	 HOUR, "D", "threshold: p50 latency above D fails (exit 1)", {"none", NULL, NULL},
	 "find and streams: use --slo and --slo-percentile"},
	{CLI_O_MAX_P90, "max-p90", 0, CLI_K_DUR, CLI_G_SEARCH, CLI_RUN, NULL, NULL, KC_NS_PER_US,
	 HOUR, "D", "threshold: p90 latency above D fails (exit 1)", {"none", NULL, NULL},
	 "find and streams: use --slo and --slo-percentile"},
	{CLI_O_MAX_P99, "max-p99", 0, CLI_K_DUR, CLI_G_SEARCH, CLI_RUN, NULL, NULL, KC_NS_PER_US,
	 HOUR, "D", "threshold: p99 latency above D fails (exit 1)", {"none", NULL, NULL},
	 "find and streams: use --slo and --slo-percentile"},
	{CLI_O_THREADS, "threads", 0, CLI_K_INT, CLI_G_SEARCH, CLI_ALL, "search", "threads", 1,
	 1024, "N", "worker threads", {"one per core", "one per core", "by stream count"}, NULL},
	{CLI_O_INSTANCE_TYPE, "instance-type", 0, CLI_K_STR, CLI_G_SEARCH, CLI_FIND | CLI_STREAMS,
	 "recommend", "instance_type", 0, 0, "T", "instance type the recommendation is for",
	 {NULL, "none", "none"}, "run: it recommends nothing"},
	{CLI_O_ENDPOINT_KIND, "endpoint-kind", 0, CLI_K_STR, CLI_G_SEARCH, CLI_FIND | CLI_STREAMS,
	 "recommend", "endpoint_kind", 0, 0, "instance|component|serverless",
	 "what the policy scales: a variant's instances, an inference component's copies, or "
	 "serverless provisioned concurrency",
	 {NULL, "instance; component with --inference-component",
	  "instance; component with --inference-component"}, "run: it recommends nothing"},
	{CLI_O_COPIES, "copies", 0, CLI_K_INT, CLI_G_SEARCH, CLI_FIND | CLI_STREAMS, "recommend",
	 "copies", 1, 100000, "N", "copies of the inference component that carried the load (the "
	 "knee and the target are per copy)", {NULL, "1", "1"}, "run: it recommends nothing"},
	{CLI_O_MIN_CAPACITY, "min-capacity", 0, CLI_K_INT, CLI_G_SEARCH, CLI_FIND | CLI_STREAMS,
	 "recommend", "min_capacity", 0, 100000, "N",
	 "MinCapacity apply.sh registers (0: an inference component scales to zero, with a "
	 "StepScaling policy and its alarm)", {NULL, "1", "1"}, "run: it recommends nothing"},
	{CLI_O_MAX_CAPACITY, "max-capacity", 0, CLI_K_INT, CLI_G_SEARCH, CLI_FIND | CLI_STREAMS,
	 "recommend", "max_capacity", 1, 100000, "N", "MaxCapacity apply.sh registers",
	 {NULL, "4", "4"}, "run: it recommends nothing"},

	/* target: connections and transport */
	{CLI_O_CONNECTIONS, "connections", 0, CLI_K_INT, CLI_G_TARGET, CLI_RUN | CLI_FIND, "target",
	 "connections", 1, 1e6, "N",
	 "connections in all, split over threads (per thread: 16 HTTP/1.1, 2 HTTP/2)",
	 {"16 or 2 per thread", "16 or 2 per thread", NULL}, NOT_STREAMS_CONNS},
	{CLI_O_STREAMS, "streams", 0, CLI_K_INT, CLI_G_TARGET, CLI_RUN | CLI_FIND, "target", "streams",
	 1, 10000, "N", "HTTP/2 streams per connection", {"32", "32", NULL},
	 "streams: --streams-per-connection"},
	{CLI_O_MAX_INFLIGHT, "max-inflight", 0, CLI_K_INT, CLI_G_TARGET, CLI_RUN | CLI_FIND, "target",
	 "max_inflight", 1, 1e7, "N", "requests sent or waiting before arrivals are shed",
	 {"10000", "10000", NULL}, "streams: every stream is held open, none is shed"},
	{CLI_O_HTTP, "http", 0, CLI_K_STR, CLI_G_TARGET, CLI_RUN | CLI_FIND, "target", "http", 0, 0,
	 "1.1|2|h2c", "protocol (2 = ALPN over TLS; h2c = cleartext prior knowledge)",
	 {"1.1", "1.1", NULL}, NOT_STREAMS_HTTP},
	{CLI_O_CLIENT, "client", 0, CLI_K_STR, CLI_G_TARGET, CLI_RUN | CLI_FIND, "target", "client", 0,
	 0, "native|curl", "who speaks HTTP/1.1: the engine itself, or libcurl",
	 {"native, or $KNEECAP_CLIENT", "native, or $KNEECAP_CLIENT", NULL}, NOT_STREAMS_HTTP},
	{CLI_O_PROXY, "proxy", 0, CLI_K_STR, CLI_G_TARGET, CLI_RUN | CLI_FIND, "target", "proxy", 0, 0,
	 "URL", "send through this proxy (libcurl: implies --client curl)", {"none", "none", NULL},
	 "streams: no proxy for HTTP/2 streams"},
	{CLI_O_CERT, "cert", 0, CLI_K_STR, CLI_G_TARGET, CLI_RUN | CLI_FIND, "target", "cert", 0, 0,
	 "FILE", "TLS client certificate (PEM; libcurl likewise)", {"none", "none", NULL},
	 "streams: SigV4, not client certificates"},
	{CLI_O_KEY, "key", 0, CLI_K_STR, CLI_G_TARGET, CLI_RUN | CLI_FIND, "target", "key", 0, 0,
	 "FILE", "TLS client key (PEM) for --cert", {"none", "none", NULL},
	 "streams: SigV4, not client certificates"},
	{CLI_O_RELEASE_SLACK, "release-slack", 0, CLI_K_DUR, CLI_G_LOAD, CLI_RUN, NULL, NULL, 0,
	 10 * MS, "D", "open loop: release arrivals in batches, once the oldest has waited D "
	 "(fewer wake-ups; the wait is in send lag and corrected latency); default 1ms when "
	 "a worker's rate is 10000/s or more, else 0s",
	 {"auto", NULL, NULL},
	 "find and streams: steps keep exact arrival times"},
	{CLI_O_TIMEOUT, "timeout", 0, CLI_K_DUR, CLI_G_TARGET, CLI_ALL, "target", "timeout", MS, HOUR,
	 "D", "whole-request timeout (streams: how long a chunk waits for its reply)",
	 {"30s", "30s", "10s"}, NULL},
	{CLI_O_CONNECT_TIMEOUT, "connect-timeout", 0, CLI_K_DUR, CLI_G_TARGET, CLI_ALL, "target",
	 "connect_timeout", MS, 600 * SEC, "D", "TCP connect and TLS handshake timeout",
	 {"5s", "5s", "5s"}, NULL},
	{CLI_O_INSECURE, "insecure", 0, CLI_K_FLAG, CLI_G_TARGET, CLI_ALL, "target", "insecure", 0,
	 0, NULL, "do not verify the TLS certificate", {"verify", "verify", "verify"}, NULL},
	{CLI_O_CACERT, "cacert", 0, CLI_K_STR, CLI_G_TARGET, CLI_ALL, "target", "cacert", 0, 0,
	 "FILE", "CA bundle to verify the server with", {"system", "system", "system"}, NULL},

	/* request */
	{CLI_O_METHOD, "method", 'X', CLI_K_STR, CLI_G_REQUEST, CLI_RUN | CLI_FIND, "target",
	 "method", 0, 0, "M", "HTTP method (a sagemaker: TARGET is always POST)",
	 {"GET, or POST with a body", "GET, or POST with a body", NULL}, NOT_STREAMS_BODY},
	{CLI_O_HEADER, "header", 'H', CLI_K_STR, CLI_G_REQUEST, CLI_ALL, NULL, NULL, 0, 0, "'N: v'",
	 "extra request header (repeatable; find: flag only)", {"none", "none", "none"}, NULL},
	{CLI_O_BODY, "body", 0, CLI_K_STR, CLI_G_REQUEST, CLI_RUN | CLI_FIND, "payload", "body", 0,
	 0, "FILE", "request body (sent as is)", {"none", "none", NULL}, NOT_STREAMS_BODY},
	{CLI_O_CONTENT_TYPE, "content-type", 0, CLI_K_STR, CLI_G_REQUEST, CLI_RUN | CLI_FIND,
	 "target", "content_type", 0, 0, "T", "Content-Type of the body",
	 {"from the extension", "from the body", NULL}, NOT_STREAMS_BODY},
	{CLI_O_PAYLOAD, "payload", 0, CLI_K_STR, CLI_G_REQUEST, CLI_RUN | CLI_FIND, "payload",
	 "source", 0, 0, "jpeg", "POST the synthetic 1024x1024 JPEG pool (find: also none)",
	 {"jpeg for sagemaker:", "jpeg for sagemaker: and the emulator", NULL}, NOT_STREAMS_BODY},
	{CLI_O_PAYLOAD_DIR, "payload-dir", 0, CLI_K_STR, CLI_G_REQUEST, CLI_RUN | CLI_FIND, "payload",
	 "dir", 0, 0, "DIR", "POST every JPEG in DIR, rotated", {"none", "none", NULL},
	 NOT_STREAMS_BODY},

	/* AWS (sagemaker: targets) */
	{CLI_O_REGION, "region", 0, CLI_K_STR, CLI_G_AWS, CLI_ALL, "target", "region", 0, 0, "R",
	 "AWS region", {REGION_DEF, REGION_DEF, REGION_DEF}, NULL},
	{CLI_O_PROFILE, "profile", 0, CLI_K_STR, CLI_G_AWS, CLI_ALL, "target", "profile", 0, 0, "P",
	 "credentials/config profile (as the AWS CLI)", {"AWS_PROFILE or default", "AWS_PROFILE or default",
	 "AWS_PROFILE or default"}, NULL},
	{CLI_O_ENDPOINT_URL, "endpoint-url", 0, CLI_K_STR, CLI_G_AWS, CLI_ALL, "target",
	 "endpoint_url", 0, 0, "URL", "send to URL instead of runtime.sagemaker.REGION's host for "
	 "the partition (amazonaws.com; cn-*: amazonaws.com.cn)",
	 {"AWS", "AWS", "AWS, port 8443"}, NULL},
	{CLI_O_RESPONSE_STREAM, "response-stream", 0, CLI_K_FLAG, CLI_G_AWS, CLI_RUN | CLI_FIND,
	 "target", "response_stream", 0, 0, NULL,
	 "call InvokeEndpointWithResponseStream (time to first PayloadPart)", {"off", "off", NULL},
	 "streams: already a stream in both directions"},

	/* InvokeEndpoint request options (sagemaker: targets; aws-wire.md 1.3) */
	{CLI_O_ACCEPT, "accept", 0, CLI_K_STR, CLI_G_AWS, CLI_RUN | CLI_FIND, "target", "accept", 0,
	 0, "T", "Accept (X-Amzn-SageMaker-Accept with --response-stream)", {"none", "none", NULL},
	 NOT_STREAMS_SM},
	{CLI_O_TARGET_MODEL, "target-model", 0, CLI_K_STR, CLI_G_AWS, CLI_RUN | CLI_FIND, "target",
	 "target_model", 0, 0, "M", "X-Amzn-SageMaker-Target-Model (multi-model endpoints; not "
	 "with --response-stream)", {"none", "none", NULL}, NOT_STREAMS_SM},
	{CLI_O_TARGET_CONTAINER, "target-container-hostname", 0, CLI_K_STR, CLI_G_AWS,
	 CLI_RUN | CLI_FIND, "target", "target_container_hostname", 0, 0, "H",
	 "X-Amzn-SageMaker-Target-Container-Hostname (multi-container direct invocation)",
	 {"none", "none", NULL}, NOT_STREAMS_SM},
	{CLI_O_CUSTOM_ATTRIBUTES, "custom-attributes", 0, CLI_K_STR, CLI_G_AWS, CLI_RUN | CLI_FIND,
	 "target", "custom_attributes", 0, 0, "A", "X-Amzn-SageMaker-Custom-Attributes",
	 {"none", "none", NULL}, NOT_STREAMS_SM},
	{CLI_O_INFERENCE_ID, "inference-id", 0, CLI_K_STR, CLI_G_AWS, CLI_RUN | CLI_FIND, "target",
	 "inference_id", 0, 0, "ID", "X-Amzn-SageMaker-Inference-Id (data capture)",
	 {"none", "none", NULL}, NOT_STREAMS_SM},
	{CLI_O_INFERENCE_COMPONENT, "inference-component", 0, CLI_K_STR, CLI_G_AWS,
	 CLI_ALL, "target", "inference_component", 0, 0, "NAME",
	 "X-Amzn-SageMaker-Inference-Component: invoke this inference component (find, "
	 "streams: the policy is the component's, per copy; streams sends no component, "
	 "the stream API takes none)", {"none", "none", "none"}, NULL},
	{CLI_O_SESSION_ID, "session-id", 0, CLI_K_STR, CLI_G_AWS, CLI_RUN | CLI_FIND, "target",
	 "session_id", 0, 0, "ID", "X-Amzn-SageMaker-Session-Id (stateful sessions; NEW_SESSION "
	 "without --response-stream)", {"none", "none", NULL}, NOT_STREAMS_SM},
	{CLI_O_ENABLE_EXPLANATIONS, "enable-explanations", 0, CLI_K_STR, CLI_G_AWS,
	 CLI_RUN | CLI_FIND, "target", "enable_explanations", 0, 0, "E",
	 "X-Amzn-SageMaker-Enable-Explanations (Clarify; not with --response-stream)",
	 {"none", "none", NULL}, NOT_STREAMS_SM},
	{CLI_O_FIPS, "fips", 0, CLI_K_FLAG, CLI_G_AWS, CLI_ALL, "target", "fips", 0, 0, NULL,
	 "use the FIPS endpoint (runtime-fips.sagemaker / runtime.sagemaker-fips, as the "
	 "partition has it)", {"off", "off", "off"}, NULL},
	{CLI_O_DUALSTACK, "dualstack", 0, CLI_K_FLAG, CLI_G_AWS, CLI_ALL, "target", "dualstack", 0,
	 0, NULL, "use the dual-stack (IPv6) endpoint (api.aws; China: "
	 "api.amazonwebservices.com.cn)", {"off", "off", "off"}, NULL},
	/* the endpoint's own CloudWatch metrics (find, sagemaker: targets) */
	{CLI_O_CW_ENDPOINT_URL, "cloudwatch-endpoint-url", 0, CLI_K_STR, CLI_G_AWS, CLI_FIND,
	 "target", "cloudwatch_endpoint_url", 0, 0, "URL",
	 "read CloudWatch (and Application Auto Scaling) at URL instead of the partition's hosts",
	 {NULL, "AWS", NULL}, "run and streams: no signal table"},
	{CLI_O_CW_PERIOD, "cloudwatch-period", 0, CLI_K_DUR, CLI_G_AWS, CLI_FIND, "target",
	 "cloudwatch_period", SEC, 86400 * SEC, "D",
	 "GetMetricData Period (SageMaker's metrics: one minute)", {NULL, "60s", NULL},
	 "run and streams: no signal table"},
	{CLI_O_CW_WAIT, "cloudwatch-wait", 0, CLI_K_DUR, CLI_G_AWS, CLI_FIND, "target",
	 "cloudwatch_wait", 0, HOUR, "D", "wait after the last step for the metrics to publish",
	 {NULL, "two periods", NULL}, "run and streams: no signal table"},
	{CLI_O_CURRENT_POLICY, "current-policy", 0, CLI_K_STR, CLI_G_AWS, CLI_FIND, "target",
	 "current_policy", 0, 0, "METRIC=TARGET",
	 "the team's target-tracking policy to judge (else DescribeScalingPolicies)",
	 {NULL, "read from the variant", NULL}, "run and streams: no signal table"},
	{CLI_O_ALARM_TOPIC, "alarm-topic", 0, CLI_K_STR, CLI_G_AWS, CLI_FIND, "target",
	 "alarm_topic", 0, 0, "ARN",
	 "apply.sh adds a ModelLatency p99 alarm notifying this SNS topic", {NULL, "no alarm", NULL},
	 "run and streams: no policy"},

	/* bidirectional streams */
	{CLI_O_CHUNK_BYTES, "chunk-bytes", 0, CLI_K_SIZE, CLI_G_STREAMS, CLI_STREAMS, "streams",
	 "chunk_bytes", 2, 65536, "N", "bytes per chunk", {NULL, NULL, "3200 (100 ms of 16 kHz PCM)"},
	 "run and find: unary requests"},
	{CLI_O_CHUNK_INTERVAL, "chunk-interval", 0, CLI_K_DUR, CLI_G_STREAMS, CLI_STREAMS, "streams",
	 "chunk_interval", 5 * MS, HOUR, "D", "time between chunks of a stream",
	 {NULL, NULL, "100ms"}, "run and find: unary requests"},
	{CLI_O_AUDIO, "audio", 0, CLI_K_STR, CLI_G_STREAMS, CLI_STREAMS, "streams", "audio", 0, 0,
	 "FILE", "send chunks of FILE (raw PCM; a WAV header is skipped)",
	 {NULL, NULL, "synthetic PCM"}, "run and find: use --body or --payload-dir"},
	{CLI_O_REPLY_MATCH, "reply-match", 0, CLI_K_STR, CLI_G_STREAMS, CLI_STREAMS, "streams",
	 "reply_match", 0, 0, "fifo|audio-time",
	 "which chunk a reply answers: the oldest, or by its \"start\"+\"duration\" seconds",
	 {NULL, NULL, "fifo"}, "run and find: unary requests"},
	{CLI_O_AUDIO_RATE, "audio-bytes-per-second", 0, CLI_K_INT, CLI_G_STREAMS, CLI_STREAMS,
	 "streams", "audio_bytes_per_second", 1, 1e8, "N", "for --reply-match audio-time",
	 {NULL, NULL, "32000"}, "run and find: unary requests"},
	{CLI_O_CLOSE_MESSAGE, "close-message", 0, CLI_K_STR, CLI_G_STREAMS, CLI_STREAMS, "streams",
	 "close_message", 0, 0, "TEXT", "UTF8 PayloadPart before the end frame",
	 {NULL, NULL, "none"}, "run and find: unary requests"},
	{CLI_O_STREAMS_PER_CONN, "streams-per-connection", 0, CLI_K_INT, CLI_G_STREAMS, CLI_STREAMS,
	 "streams", "streams_per_connection", 1, 100000, "N",
	 "streams per HTTP/2 connection (the peer's limit also applies)", {NULL, NULL, "100"},
	 "run: --streams; find: 32"},
	{CLI_O_INVOCATION_PATH, "model-invocation-path", 0, CLI_K_STR, CLI_G_STREAMS, CLI_STREAMS,
	 "streams", "model_invocation_path", 0, 0, "P", "X-Amzn-SageMaker-Model-Invocation-Path",
	 {NULL, NULL, "none"}, "run and find: unary requests"},
	{CLI_O_QUERY_STRING, "model-query-string", 0, CLI_K_STR, CLI_G_STREAMS, CLI_STREAMS,
	 "streams", "model_query_string", 0, 0, "Q", "X-Amzn-SageMaker-Model-Query-String",
	 {NULL, NULL, "none"}, "run and find: unary requests"},
	{CLI_O_EMULATOR_TLS, "emulator-tls", 0, CLI_K_FLAG, CLI_G_STREAMS, CLI_STREAMS, NULL, NULL, 0,
	 0, NULL, "no TARGET: the emulator speaks TLS with a certificate kneecap verifies",
	 {NULL, NULL, "off"}, "find: [emulator] keys set the emulator"},
	/* test hook (no help line): the emulator writes the first stream's bytes here */
	{CLI_O_EMULATOR_CAPTURE, "emulator-capture", 0, CLI_K_STR, CLI_G_STREAMS, CLI_STREAMS, NULL,
	 NULL, 0, 0, NULL, NULL, {NULL}, "a streams test hook"},

	/* output */
	{CLI_O_OUT, "out", 0, CLI_K_STR, CLI_G_OUTPUT, CLI_ALL, NULL, NULL, 0, 0, "DIR",
	 "write result.json, steps.csv, latency.hlog (find, streams: also scaling-policy.json, "
	 "apply.sh) into DIR", {"nothing written", "nothing written", "nothing written"}, NULL},
	{CLI_O_JSON, "json", 0, CLI_K_FLAG, CLI_G_OUTPUT, CLI_ALL, NULL, NULL, 0, 0, NULL,
	 "print result.json on stdout instead of the table", {"table", "table", "table"}, NULL},
	{CLI_O_QUIET, "quiet", 'q', CLI_K_FLAG, CLI_G_OUTPUT, CLI_ALL, NULL, NULL, 0, 0, NULL,
	 "no progress on stderr", {"progress", "progress", "progress"}, NULL},
	{CLI_O_VERBOSE, "verbose", 'v', CLI_K_FLAG, CLI_G_OUTPUT, CLI_ALL, NULL, NULL, 0, 0, NULL,
	 "more log output (repeat for debug)", {"warnings", "warnings", "warnings"}, NULL},
	{CLI_O_HELP, "help", 'h', CLI_K_FLAG, CLI_G_OUTPUT, CLI_ALL, NULL, NULL, 0, 0, NULL,
	 "this text (also: kneecap help COMMAND)", {NULL}, NULL},
	{0, NULL, 0, 0, 0, 0, NULL, NULL, 0, 0, NULL, NULL, {NULL}, NULL},
};

static const char *const group_names[CLI_G_COUNT] = {
	"load", "search", "target", "request", "AWS (sagemaker: targets)",
	"bidirectional streams", "output",
};

int cli_cmd_index(unsigned cmd)
{
	return cmd == CLI_RUN ? 0 : cmd == CLI_FIND ? 1 : 2;
}

const char *cli_cmd_name(unsigned cmd)
{
	return cmd == CLI_RUN ? "run" : cmd == CLI_FIND ? "find" : "streams";
}

const struct cli_opt *cli_opts_table(void)
{
	return table;
}

const struct cli_opt *cli_opt_lookup(const char *name, char shortc)
{
	for (const struct cli_opt *o = table; o->name; o++)
		if ((name && !strcmp(o->name, name)) || (shortc && o->shortc == shortc))
			return o;
	return NULL;
}

const struct cli_opt *cli_opt_by_id(int id)
{
	for (const struct cli_opt *o = table; o->name; o++)
		if (o->id == id)
			return o;
	return NULL;
}

int cli_opts_getopt(unsigned cmd, struct option *longopts, size_t n, char *shortopts, size_t ns)
{
	(void)cmd;
	size_t k = 0, s = 0;
	if (ns < 2)
		return -1;
	shortopts[s++] = ':';
	for (const struct cli_opt *o = table; o->name; o++) {
		if (k + 1 >= n)
			return -1;
		int has = o->kind == CLI_K_FLAG ? no_argument : required_argument;
		longopts[k++] = (struct option){o->name, has, NULL, o->id};
		if (o->shortc) {
			if (s + 3 >= ns)
				return -1;
			shortopts[s++] = o->shortc;
			if (has == required_argument)
				shortopts[s++] = ':';
		}
	}
	longopts[k] = (struct option){NULL, 0, NULL, 0};
	shortopts[s] = '\0';
	return 0;
}

static int fail(unsigned cmd, const char *flag, const char *v, const char *why)
{
	cli_error("%s: %s '%s': %s", cli_cmd_name(cmd), flag, v ? v : "", why);
	return KC_EXIT_USAGE;
}

int cli_parse_duration(unsigned cmd, const char *flag, const char *v, int64_t lo, int64_t hi,
		       int64_t *out)
{
	return cli_parse_duration_in(cli_cmd_name(cmd), flag, v, lo, hi, out);
}

int cli_parse_duration_in(const char *cmd_name, const char *flag, const char *v, int64_t lo,
			  int64_t hi, int64_t *out)
{
	double bare;
	const char *why = NULL;
	char why_buf[96];
	int64_t ns = 0;
	if (kc_parse_double(v, -1e300, 1e300, &bare) == KC_OK && bare != 0)
		why = "a duration needs a unit (5s, 500ms)";
	else if (kc_parse_duration_ns(v, KC_NS_PER_S, &ns))
		why = "not a duration (e.g. 30s, 500ms, 2m)";
	else if (ns < lo || ns > hi) {
		char a[32], b[32];
		snprintf(why_buf, sizeof(why_buf), "must be between %s and %s",
			 kc_format_duration(lo, a, sizeof(a)), kc_format_duration(hi, b, sizeof(b)));
		why = why_buf;
	}
	if (why) {
		cli_error("%s: %s '%s': %s", cmd_name, flag, v ? v : "", why);
		return KC_EXIT_USAGE;
	}
	*out = ns;
	return 0;
}

int cli_parse_int(unsigned cmd, const char *flag, const char *v, int64_t lo, int64_t hi,
		  int64_t *out)
{
	int rc = kc_parse_i64(v, lo, hi, out);
	if (rc == KC_EPARSE)
		return fail(cmd, flag, v, "not a whole number");
	if (rc) {
		char why[96];
		snprintf(why, sizeof(why), "must be in %lld..%lld", (long long)lo, (long long)hi);
		return fail(cmd, flag, v, why);
	}
	return 0;
}

int cli_parse_rate(unsigned cmd, const char *flag, const char *v, double *out)
{
	char why[96];
	if (kc_parse_double(v, -1e300, 1e300, out))
		return fail(cmd, flag, v, "not a number");
	if (!(*out > 0) || *out > KC_ENGINE_MAX_RATE) {
		snprintf(why, sizeof(why), "must be > 0 and at most %.0f requests per second",
			 KC_ENGINE_MAX_RATE);
		return fail(cmd, flag, v, why);
	}
	return 0;
}

int cli_opt_value(unsigned cmd, const struct cli_opt *o, const char *arg, struct cli_val *v)
{
	char flag[64];
	snprintf(flag, sizeof(flag), "--%s", o->name);
	memset(v, 0, sizeof(*v));
	v->s = arg;
	switch (o->kind) {
	case CLI_K_FLAG:
	case CLI_K_STR:
		return 0;
	case CLI_K_INT:
		return cli_parse_int(cmd, flag, arg, (int64_t)o->lo, (int64_t)o->hi, &v->i);
	case CLI_K_NUM:
		if (kc_parse_double(arg, o->lo, o->hi, &v->f)) {
			char why[96];
			snprintf(why, sizeof(why), "not a number in %g..%g", o->lo, o->hi);
			return fail(cmd, flag, arg, why);
		}
		return 0;
	case CLI_K_DUR:
		return cli_parse_duration(cmd, flag, arg, (int64_t)o->lo, (int64_t)o->hi, &v->i);
	case CLI_K_RATE:
		return cli_parse_rate(cmd, flag, arg, &v->f);
	case CLI_K_SIZE: {
		uint64_t b;
		if (kc_parse_size(arg, &b) || (double)b < o->lo || (double)b > o->hi) {
			char why[96];
			snprintf(why, sizeof(why), "not a size in %.0f..%.0f bytes", o->lo, o->hi);
			return fail(cmd, flag, arg, why);
		}
		v->i = (int64_t)b;
		return 0;
	}
	}
	return 0;
}

static const int rec_ids[CLI_REC_FLAGS] = {CLI_O_INFERENCE_COMPONENT, CLI_O_COPIES,
	CLI_O_MIN_CAPACITY, CLI_O_MAX_CAPACITY, CLI_O_ENDPOINT_KIND};

const char **cli_rec_flag_slot(const char **vals, int id)
{
	for (int k = 0; k < CLI_REC_FLAGS; k++)
		if (rec_ids[k] == id)
			return &vals[k];
	return NULL;
}

int cli_scenario_load_flags(unsigned cmd, const char *path, struct kc_scenario **sc,
			    const char *const *rec)
{
	struct kc_diag d;
	kc_diag_clear(&d);
	if (path && kc_scenario_load(sc, path, &d)) {
		cli_diag_error(cli_cmd_name(cmd), &d);
		return -1;
	}
	for (int k = 0; k < CLI_REC_FLAGS; k++) {
		const struct cli_opt *o = cli_opt_by_id(rec_ids[k]);
		if (!rec[k] || !o || !o->section)
			continue;
		if (!*sc && kc_scenario_new_empty(sc, "command line")) {
			cli_error("%s: out of memory", cli_cmd_name(cmd));
			return -1;
		}
		if (kc_scenario_set(*sc, o->section, o->key, rec[k])) {
			cli_error("%s: too many settings", cli_cmd_name(cmd));
			return -1;
		}
	}
	return 0;
}

int cli_opt_refuse(unsigned cmd, const struct cli_opt *o)
{
	cli_error("%s: --%s does not apply: %s (see kneecap %s --help)", cli_cmd_name(cmd), o->name,
		  o->why_not ? o->why_not : "not taken by this command", cli_cmd_name(cmd));
	return KC_EXIT_USAGE;
}

/* One option line: the left column, then text wrapped at 79 columns. */
static void print_wrapped(FILE *f, const char *left, const char *text)
{
	enum { COL = 29, WIDTH = 79 };
	int col = fprintf(f, "  %-26s", left);
	if (col > COL) {
		fputc('\n', f);
		col = fprintf(f, "%*s", COL - 1, "");
	}
	const char *p = text;
	while (*p) {
		size_t w = strcspn(p, " ");
		if (col > COL && col + 1 + (int)w > WIDTH) {
			fputc('\n', f);
			col = fprintf(f, "%*s", COL - 1, "");
		}
		col += fprintf(f, " %.*s", (int)w, p);
		p += w;
		while (*p == ' ')
			p++;
	}
	fputc('\n', f);
}

void cli_opts_help(FILE *f, unsigned cmd)
{
	int ci = cli_cmd_index(cmd);
	for (int g = 0; g < CLI_G_COUNT; g++) {
		bool header = false;
		for (const struct cli_opt *o = table; o->name; o++) {
			if (o->group != (enum cli_group)g || !(o->cmds & cmd) || !o->help)
				continue;
			if (!header) {
				fprintf(f, "%s:\n", group_names[g]);
				header = true;
			}
			char left[64];
			int n = o->shortc ? snprintf(left, sizeof(left), "-%c, --%s", o->shortc, o->name)
					  : snprintf(left, sizeof(left), "--%s", o->name);
			if (o->meta && n > 0 && (size_t)n < sizeof(left))
				snprintf(left + n, sizeof(left) - (size_t)n, " %s", o->meta);
			char text[512];
			int tn = snprintf(text, sizeof(text), "%s", o->help);
			if (o->def[ci] && tn > 0 && (size_t)tn < sizeof(text))
				tn += snprintf(text + tn, sizeof(text) - (size_t)tn, " (default %s)",
					       o->def[ci]);
			if (o->section && cmd == CLI_FIND && tn > 0 && (size_t)tn < sizeof(text))
				snprintf(text + tn, sizeof(text) - (size_t)tn, "; [%s] %s", o->section,
					 o->key);
			print_wrapped(f, left, text);
		}
	}
	bool header = false;
	for (const struct cli_opt *o = table; o->name; o++) {
		if ((o->cmds & cmd) || !o->help)
			continue;
		if (o->id == CLI_O_SEED && cmd == CLI_FIND)
			continue; /* find takes --seed as [payload] seed */
		if (!header) {
			fprintf(f, "not taken by %s (other commands take them):\n", cli_cmd_name(cmd));
			header = true;
		}
		fprintf(f, "  --%-24s %s\n", o->name, o->why_not ? o->why_not : "");
	}
	fprintf(f, "Durations need a unit (250ms, 30s, 2m; a bare number is an error), in flags\n"
		   "and in scenario files alike.  Rates are at most %.0f requests/s.\n",
		KC_ENGINE_MAX_RATE);
}

int cli_take_valued(const char *cmd, const struct cli_valued *t, size_t n, void *o,
		    int argc, char **argv, int *i)
{
	for (size_t k = 0; k < n; k++) {
		if (strcmp(argv[*i], t[k].flag))
			continue;
		if (*i + 1 >= argc) {
			cli_error("%s: %s needs a value", cmd, argv[*i]);
			return -1;
		}
		*(const char **)((char *)o + t[k].off) = argv[++*i];
		return 1;
	}
	return 0;
}
