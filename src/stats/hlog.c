/*
 * hlog.c - the HdrHistogram interval log codec: the V2 histogram encoding
 * (plain and compressed), base64, and the line format of log version 1.3.
 *
 * Format facts follow HdrHistogram's Java reference (AbstractHistogram's
 * encodeIntoByteBuffer / encodeIntoCompressedByteBuffer, ZigZagEncoding,
 * HistogramLogWriter, HistogramLogReader, 2.1.x):
 *  - V2 header, big-endian: int cookie (0x1c849303 | 0x10), int payload
 *    length, int normalizing index offset, int significant digits, long
 *    lowest discernible value, long highest trackable value, double
 *    integer-to-double conversion ratio; then the counts payload.
 *  - Counts from index 0 to the max value's index, each a zig-zag LEB128
 *    long of at most 9 bytes (the 9th carries 8 bits); a run of two or more
 *    zero counts is written as the negated run length.
 *  - Compressed: int cookie (0x1c849304 | 0x10), int length of what
 *    follows, then the V2 encoding as a zlib (DEFLATE) stream.
 *
 * What it is not: a general log processor (no range filtering or
 * re-binning), nor a reader of the V0/V1 encodings or DoubleHistograms.
 * Invariant of the reader: every length read from input is checked against
 * the bytes actually present and against the caller's bounds before use, so
 * garbage yields an error naming its line, never a crash or a huge
 * allocation.  base64 is written here (a few lines) because the only library
 * at hand with it, libcrypto, belongs to the aws layer.
 */
#include "kneecap/hlog.h"

#include "hdr_int.h"

#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <zlib.h>

#include "kneecap/parse.h"

#define COOKIE_BASE_MASK (~0xf0u)
#define COOKIE_V2_WORD 0x10u
#define SCRATCH_MAX ((size_t)64 << 20)
#define ZIGZAG_MAX_BYTES 9

/* ---- byte helpers ---------------------------------------------------- */

static void put_be32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

static void put_be64(uint8_t *p, uint64_t v)
{
	put_be32(p, (uint32_t)(v >> 32));
	put_be32(p + 4, (uint32_t)v);
}

static uint32_t get_be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	       (uint32_t)p[2] << 8 | (uint32_t)p[3];
}

static uint64_t get_be64(const uint8_t *p)
{
	return (uint64_t)get_be32(p) << 32 | get_be32(p + 4);
}

/* ZigZagEncoding.putLong: LEB128 of the zig-zagged value, 9 bytes at most. */
static size_t zigzag_put(uint8_t *p, int64_t value)
{
	uint64_t v = ((uint64_t)value << 1) ^ (uint64_t)(value >> 63);
	size_t n = 0;
	while (n < ZIGZAG_MAX_BYTES - 1 && v >= 0x80) {
		p[n++] = (uint8_t)(v | 0x80);
		v >>= 7;
	}
	p[n++] = (uint8_t)v; /* the 9th byte, if reached, holds all 8 bits */
	return n;
}

/* Reads one zig-zag LEB128 long; returns bytes used, 0 if truncated. */
static size_t zigzag_get(const uint8_t *p, size_t n, int64_t *out)
{
	uint64_t v = 0;
	size_t i = 0;
	for (;;) {
		if (i >= n)
			return 0;
		uint8_t b = p[i];
		if (i == ZIGZAG_MAX_BYTES - 1) {
			v |= (uint64_t)b << 56;
			i++;
			break;
		}
		v |= (uint64_t)(b & 0x7f) << (7 * i);
		i++;
		if (!(b & 0x80))
			break;
	}
	*out = (int64_t)(v >> 1) ^ -(int64_t)(v & 1);
	return i;
}

/* ---- base64 (RFC 4648, with padding) --------------------------------- */

static const char b64_alphabet[] =
	"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

static int b64_encode(const uint8_t *p, size_t n, struct kc_buf *out)
{
	size_t need = (n + 2) / 3 * 4;
	int rc = kc_buf_reserve(out, need);
	if (rc != 0)
		return rc;
	char *o = out->data + out->len;
	size_t i = 0;
	for (; i + 3 <= n; i += 3) {
		uint32_t v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8 | p[i + 2];
		*o++ = b64_alphabet[v >> 18];
		*o++ = b64_alphabet[(v >> 12) & 63];
		*o++ = b64_alphabet[(v >> 6) & 63];
		*o++ = b64_alphabet[v & 63];
	}
	if (i < n) {
		uint32_t v = (uint32_t)p[i] << 16;
		if (i + 1 < n)
			v |= (uint32_t)p[i + 1] << 8;
		*o++ = b64_alphabet[v >> 18];
		*o++ = b64_alphabet[(v >> 12) & 63];
		*o++ = i + 1 < n ? b64_alphabet[(v >> 6) & 63] : '=';
		*o++ = '=';
	}
	out->len += need;
	out->data[out->len] = '\0';
	return 0;
}

static int b64_value(char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

/*
 * Decodes s[0..n) (length a multiple of 4, '=' only as trailing padding)
 * into out, which must hold n / 4 * 3 bytes.  Returns the bytes written or
 * -1 on malformed input.
 */
static long b64_decode(const char *s, size_t n, uint8_t *out)
{
	if (n % 4 != 0)
		return -1;
	size_t o = 0;
	for (size_t i = 0; i < n; i += 4) {
		int v[4];
		int pad = 0;
		for (int k = 0; k < 4; k++) {
			if (s[i + k] == '=' && i + 4 == n && k >= 2) {
				v[k] = 0;
				pad++;
				continue;
			}
			if (pad)
				return -1; /* data after '=' */
			v[k] = b64_value(s[i + k]);
			if (v[k] < 0)
				return -1;
		}
		uint32_t w = (uint32_t)v[0] << 18 | (uint32_t)v[1] << 12 |
			     (uint32_t)v[2] << 6 | (uint32_t)v[3];
		out[o++] = (uint8_t)(w >> 16);
		if (pad < 2)
			out[o++] = (uint8_t)(w >> 8);
		if (pad < 1)
			out[o++] = (uint8_t)w;
	}
	return (long)o;
}

/* ---- V2 encoding ------------------------------------------------------ */

int kc_hlog_encode(const struct kc_hdr *h, struct kc_buf *out)
{
	KC_ASSERT(h && out);
	/* Counts up to the max value's index, as the reference writes them. */
	int32_t relevant = kc_hdr_index_of(h, h->max_value) + 1;
	if (relevant > h->counts_len)
		relevant = h->counts_len;
	size_t cap = KC_HLOG_V2_HEADER_BYTES + (size_t)relevant * ZIGZAG_MAX_BYTES;
	int rc = kc_buf_reserve(out, cap);
	if (rc != 0)
		return rc;
	uint8_t *base = (uint8_t *)out->data + out->len;
	uint8_t *p = base + KC_HLOG_V2_HEADER_BYTES;
	for (int32_t i = 0; i < relevant;) {
		int64_t c = h->counts[i++];
		if (c == 0) {
			int64_t zeros = 1;
			while (i < relevant && h->counts[i] == 0) {
				zeros++;
				i++;
			}
			p += zigzag_put(p, zeros > 1 ? -zeros : 0);
		} else {
			p += zigzag_put(p, c);
		}
	}
	size_t payload = (size_t)(p - base) - KC_HLOG_V2_HEADER_BYTES;
	double ratio = 1.0;
	uint64_t ratio_bits;
	memcpy(&ratio_bits, &ratio, sizeof(ratio_bits));
	put_be32(base, KC_HLOG_V2_COOKIE | COOKIE_V2_WORD);
	put_be32(base + 4, (uint32_t)payload);
	put_be32(base + 8, 0); /* normalizing index offset */
	put_be32(base + 12, (uint32_t)h->sigfigs);
	put_be64(base + 16, (uint64_t)h->lowest);
	put_be64(base + 24, (uint64_t)h->highest);
	put_be64(base + 32, ratio_bits);
	out->len += KC_HLOG_V2_HEADER_BYTES + payload;
	out->data[out->len] = '\0';
	return 0;
}

int kc_hlog_encode_compressed(const struct kc_hdr *h, struct kc_buf *out)
{
	KC_ASSERT(h && out);
	struct kc_buf plain;
	kc_buf_init(&plain, SCRATCH_MAX);
	int rc = kc_hlog_encode(h, &plain);
	if (rc != 0)
		goto free_plain;
	uLongf bound = compressBound((uLong)plain.len);
	rc = kc_buf_reserve(out, 8 + (size_t)bound);
	if (rc != 0)
		goto free_plain;
	uint8_t *base = (uint8_t *)out->data + out->len;
	uLongf clen = bound;
	if (compress2(base + 8, &clen, (const Bytef *)plain.data, (uLong)plain.len,
		      Z_BEST_COMPRESSION) != Z_OK) {
		rc = KC_ENOMEM; /* the only way compress2 fails with a full bound */
		goto free_plain;
	}
	put_be32(base, KC_HLOG_V2_COMPRESSED_COOKIE | COOKIE_V2_WORD);
	put_be32(base + 4, (uint32_t)clen);
	out->len += 8 + (size_t)clen;
	out->data[out->len] = '\0';
free_plain:
	kc_buf_fini(&plain);
	return rc;
}

/* Decodes an uncompressed V2 encoding (header already length-checked). */
static int decode_plain(const uint8_t *p, size_t n, int64_t max_counts,
			struct kc_hdr **out, struct kc_diag *d)
{
	if (n < KC_HLOG_V2_HEADER_BYTES)
		return kc_diag_set(d, KC_EPARSE, "histogram shorter than its header");
	uint32_t cookie = get_be32(p);
	if ((cookie & COOKIE_BASE_MASK) != KC_HLOG_V2_COOKIE)
		return kc_diag_set(d, (cookie & 0xffffff00u) == 0x1c849300u
			? KC_EUNSUPPORTED : KC_EPARSE,
			"histogram encoding cookie 0x%08x is not V2", cookie);
	uint32_t payload = get_be32(p + 4);
	uint32_t norm = get_be32(p + 8);
	uint32_t sigfigs = get_be32(p + 12);
	int64_t lowest = (int64_t)get_be64(p + 16);
	int64_t highest = (int64_t)get_be64(p + 24);
	if (payload > n - KC_HLOG_V2_HEADER_BYTES)
		return kc_diag_set(d, KC_EPARSE, "histogram payload length %u exceeds the %zu bytes present",
				   payload, n - KC_HLOG_V2_HEADER_BYTES);
	if (norm != 0)
		return kc_diag_set(d, KC_EUNSUPPORTED, "normalizing index offset %d is not supported",
				   (int)norm);
	if (sigfigs < 1 || sigfigs > 5 || lowest < 1 || lowest > INT64_MAX / 2 ||
	    highest < 1)
		return kc_diag_set(d, KC_EPARSE, "histogram shape (lowest %lld, highest %lld, %u digits) is invalid",
				   (long long)lowest, (long long)highest, sigfigs);
	/* An auto-resizing Java histogram may say highest < 2 * lowest. */
	if (highest < 2 * lowest)
		highest = 2 * lowest;
	if (max_counts <= 0)
		max_counts = KC_HLOG_MAX_COUNTS_DEFAULT;
	int64_t len = kc_hdr_counts_len_for(lowest, highest, (int)sigfigs);
	if (len == 0)
		return kc_diag_set(d, KC_EPARSE, "histogram shape (lowest %lld, highest %lld, %u digits) is invalid",
				   (long long)lowest, (long long)highest, sigfigs);
	if (len > max_counts)
		return kc_diag_set(d, KC_ELIMIT, "histogram needs %lld counts, more than the limit %lld",
				   (long long)len, (long long)max_counts);
	struct kc_hdr *h = NULL;
	int rc = kc_hdr_new(&h, lowest, highest, (int)sigfigs);
	if (rc != 0)
		return kc_diag_set(d, rc, "cannot allocate a histogram: %s", kc_strerror(rc));
	const uint8_t *q = p + KC_HLOG_V2_HEADER_BYTES;
	size_t left = payload;
	int64_t idx = 0, total = 0;
	/* The top bucket may have indexes for values past INT64_MAX: none valid. */
	int64_t idx_end = (int64_t)kc_hdr_index_of(h, INT64_MAX) + 1;
	if (idx_end > h->counts_len)
		idx_end = h->counts_len;
	while (left > 0) {
		int64_t v = 0;
		size_t used = zigzag_get(q, left, &v);
		if (used == 0) {
			rc = kc_diag_set(d, KC_EPARSE, "histogram counts end inside a number");
			goto fail;
		}
		q += used;
		left -= used;
		if (v < 0) {
			if (v == INT64_MIN || -v > h->counts_len - idx) {
				rc = kc_diag_set(d, KC_EPARSE, "zero run past the end of the counts");
				goto fail;
			}
			idx += -v;
			continue;
		}
		if (idx >= idx_end) {
			if (v == 0)
				continue; /* a zero count past the end changes nothing */
			rc = kc_diag_set(d, KC_EPARSE, "more counts than the histogram holds (%d)",
					 (int)idx_end);
			goto fail;
		}
		if (__builtin_add_overflow(total, v, &total)) {
			rc = kc_diag_set(d, KC_EPARSE, "total count overflows");
			goto fail;
		}
		h->counts[idx++] = v;
	}
	kc_hdr_recount(h);
	*out = h;
	return 0;
fail:
	kc_hdr_free(h);
	return rc;
}

/* Inflates exactly want bytes from the zlib stream src into dst. */
static int inflate_exact(const uint8_t *src, size_t n, uint8_t *dst, size_t want,
			 size_t *got)
{
	z_stream z;
	memset(&z, 0, sizeof(z));
	if (inflateInit(&z) != Z_OK)
		return KC_ENOMEM;
	z.next_in = (Bytef *)(uintptr_t)src;
	z.avail_in = (uInt)n;
	z.next_out = dst;
	z.avail_out = (uInt)want;
	int zr = inflate(&z, Z_FINISH);
	*got = want - z.avail_out;
	inflateEnd(&z);
	if (zr == Z_MEM_ERROR)
		return KC_ENOMEM;
	/* Z_BUF_ERROR with a full output is fine: we asked for a prefix. */
	if (zr != Z_STREAM_END && !(zr == Z_BUF_ERROR && z.avail_out == 0) &&
	    zr != Z_OK)
		return KC_EPARSE;
	return 0;
}

int kc_hlog_decode(const void *data, size_t n, int64_t max_counts,
		   struct kc_hdr **out, struct kc_diag *d)
{
	KC_ASSERT(out);
	const uint8_t *p = data;
	if (n < 8)
		return kc_diag_set(d, KC_EPARSE, "histogram of %zu bytes is too short", n);
	uint32_t cookie = get_be32(p);
	if ((cookie & COOKIE_BASE_MASK) != KC_HLOG_V2_COMPRESSED_COOKIE)
		return decode_plain(p, n, max_counts, out, d);
	uint32_t clen = get_be32(p + 4);
	if (clen > n - 8)
		return kc_diag_set(d, KC_EPARSE, "compressed length %u exceeds the %zu bytes present",
				   clen, n - 8);
	if (max_counts <= 0)
		max_counts = KC_HLOG_MAX_COUNTS_DEFAULT;
	/* First the header alone, to learn (and bound) the payload length. */
	uint8_t head[KC_HLOG_V2_HEADER_BYTES];
	size_t got = 0;
	int rc = inflate_exact(p + 8, clen, head, sizeof(head), &got);
	if (rc != 0 || got < sizeof(head))
		return kc_diag_set(d, rc == KC_ENOMEM ? KC_ENOMEM : KC_EPARSE,
				   "compressed histogram does not inflate to a header");
	uint32_t payload = get_be32(head + 4);
	/* No valid payload is longer than 9 bytes per count. */
	if ((uint64_t)payload > (uint64_t)max_counts * ZIGZAG_MAX_BYTES)
		return kc_diag_set(d, KC_ELIMIT, "histogram payload of %u bytes is over the limit",
				   payload);
	size_t want = KC_HLOG_V2_HEADER_BYTES + (size_t)payload;
	uint8_t *plain = malloc(want);
	if (!plain)
		return kc_diag_set(d, KC_ENOMEM, "out of memory inflating a histogram");
	rc = inflate_exact(p + 8, clen, plain, want, &got);
	if (rc == 0 && got != want)
		rc = kc_diag_set(d, KC_EPARSE, "compressed histogram holds %zu of %zu bytes", got, want);
	else if (rc != 0)
		rc = kc_diag_set(d, rc, "compressed histogram is corrupt");
	else
		rc = decode_plain(plain, want, max_counts, out, d);
	free(plain);
	return rc;
}

/* ---- writer ------------------------------------------------------------ */

int kc_hlog_writer_init(struct kc_hlog_writer *w, struct kc_buf *buf, FILE *fp,
			double max_value_unit_ratio)
{
	KC_ASSERT(w);
	if ((buf == NULL) == (fp == NULL) || !(max_value_unit_ratio > 0.0) ||
	    !isfinite(max_value_unit_ratio))
		return KC_EINVAL;
	w->buf = buf;
	w->fp = fp;
	w->base_ms = 0;
	w->max_value_unit_ratio = max_value_unit_ratio;
	kc_buf_init(&w->scratch, SCRATCH_MAX);
	return 0;
}

void kc_hlog_writer_fini(struct kc_hlog_writer *w)
{
	if (!w)
		return;
	kc_buf_fini(&w->scratch);
}

/* Sends the scratch line to the sink. */
static int flush_scratch(struct kc_hlog_writer *w)
{
	int rc = 0;
	if (w->buf)
		rc = kc_buf_append(w->buf, w->scratch.data, w->scratch.len);
	else if (fwrite(w->scratch.data, 1, w->scratch.len, w->fp) != w->scratch.len)
		rc = KC_EIO;
	kc_buf_reset(&w->scratch);
	return rc;
}

/* Seconds with three decimals from integer ms, without floating rounding. */
static int put_seconds(struct kc_buf *b, int64_t ms)
{
	const char *sign = ms < 0 ? "-" : "";
	uint64_t a = ms < 0 ? (uint64_t)0 - (uint64_t)ms : (uint64_t)ms;
	return kc_buf_printf(b, "%s%llu.%03llu", sign,
			     (unsigned long long)(a / 1000),
			     (unsigned long long)(a % 1000));
}

int kc_hlog_write_header(struct kc_hlog_writer *w, int64_t start_ms,
			 int64_t base_ms)
{
	KC_ASSERT(w);
	w->base_ms = base_ms;
	char date[64] = "";
	time_t t = (time_t)(start_ms / 1000);
	struct tm tm;
	if (gmtime_r(&t, &tm))
		strftime(date, sizeof(date), "%a %b %d %H:%M:%S UTC %Y", &tm);
	struct kc_buf *b = &w->scratch;
	int rc = kc_buf_puts(b, "#[Logged with kneecap]\n"
				"#[Histogram log format version 1.3]\n"
				"#[StartTime: ");
	if (rc == 0)
		rc = put_seconds(b, start_ms);
	if (rc == 0)
		rc = kc_buf_printf(b, " (seconds since epoch), %s]\n#[BaseTime: ", date);
	if (rc == 0)
		rc = put_seconds(b, base_ms);
	if (rc == 0)
		rc = kc_buf_puts(b, " (seconds since epoch)]\n"
				    "\"StartTimestamp\",\"Interval_Length\","
				    "\"Interval_Max\",\"Interval_Compressed_Histogram\"\n");
	if (rc != 0) {
		kc_buf_reset(b);
		return rc;
	}
	return flush_scratch(w);
}

int kc_hlog_write_interval(struct kc_hlog_writer *w, const struct kc_hdr *h)
{
	KC_ASSERT(w && h);
	struct kc_buf *b = &w->scratch;
	struct kc_buf bin;
	kc_buf_init(&bin, SCRATCH_MAX);
	int rc = kc_hlog_encode_compressed(h, &bin);
	if (rc == 0 && h->tag[0])
		rc = kc_buf_printf(b, "Tag=%s,", h->tag);
	if (rc == 0)
		rc = put_seconds(b, h->start_ms - w->base_ms);
	if (rc == 0)
		rc = kc_buf_puts(b, ",");
	if (rc == 0)
		rc = put_seconds(b, h->end_ms - h->start_ms);
	if (rc == 0)
		rc = kc_buf_printf(b, ",%.3f,",
				   (double)kc_hdr_max(h) / w->max_value_unit_ratio);
	if (rc == 0)
		rc = b64_encode((const uint8_t *)bin.data, bin.len, b);
	if (rc == 0)
		rc = kc_buf_puts(b, "\n");
	kc_buf_fini(&bin);
	if (rc != 0) {
		kc_buf_reset(b);
		return rc;
	}
	return flush_scratch(w);
}

/* ---- reader ------------------------------------------------------------ */

void kc_hlog_reader_init(struct kc_hlog_reader *r, const void *data, size_t len)
{
	KC_ASSERT(r);
	memset(r, 0, sizeof(*r));
	r->data = data;
	r->len = data ? len : 0;
	r->max_counts = KC_HLOG_MAX_COUNTS_DEFAULT;
	r->max_line_bytes = KC_HLOG_MAX_LINE_DEFAULT;
}

static bool starts_with(const char *s, size_t n, const char *prefix)
{
	size_t k = strlen(prefix);
	return n >= k && memcmp(s, prefix, k) == 0;
}

/* Parses s[0..n) as a finite number of seconds. */
static int parse_seconds(const char *s, size_t n, double *out)
{
	char tmp[64];
	if (n == 0 || n >= sizeof(tmp))
		return KC_EPARSE;
	memcpy(tmp, s, n);
	tmp[n] = '\0';
	return kc_parse_double(tmp, -1e15, 1e15, out) == 0 ? 0 : KC_EPARSE;
}

/* "#[StartTime: 123.456 (seconds...": the number after the prefix. */
static int header_time(const char *s, size_t n, size_t prefix_len, double *out)
{
	size_t i = prefix_len;
	while (i < n && s[i] == ' ')
		i++;
	size_t j = i;
	while (j < n && s[j] != ' ' && s[j] != ']' && s[j] != ',')
		j++;
	return parse_seconds(s + i, j - i, out);
}

/* The next comma-separated field of s[*pos..n). */
static bool next_field(const char *s, size_t n, size_t *pos, const char **f,
		       size_t *flen)
{
	if (*pos > n)
		return false;
	const char *c = memchr(s + *pos, ',', n - *pos);
	size_t end = c ? (size_t)(c - s) : n;
	*f = s + *pos;
	*flen = end - *pos;
	*pos = end + 1;
	return true;
}

static int parse_interval(struct kc_hlog_reader *r, const char *s, size_t n,
			  struct kc_hlog_interval *iv, struct kc_diag *d)
{
	size_t pos = 0;
	const char *f;
	size_t flen;
	struct kc_hlog_interval tmp;
	memset(&tmp, 0, sizeof(tmp));
	tmp.line = r->line;
	if (starts_with(s, n, "Tag=")) {
		next_field(s, n, &pos, &f, &flen);
		flen -= 4;
		if (flen == 0 || flen >= sizeof(tmp.tag))
			return kc_diag_set(d, KC_EPARSE, "line %d: tag of %zu bytes (want 1..63)",
					   r->line, flen);
		memcpy(tmp.tag, f + 4, flen);
		tmp.tag[flen] = '\0';
	}
	double start = 0, length = 0, maxc = 0;
	if (!next_field(s, n, &pos, &f, &flen) || parse_seconds(f, flen, &start) != 0)
		return kc_diag_set(d, KC_EPARSE, "line %d: bad or missing StartTimestamp", r->line);
	if (!next_field(s, n, &pos, &f, &flen) || parse_seconds(f, flen, &length) != 0)
		return kc_diag_set(d, KC_EPARSE, "line %d: bad or missing Interval_Length", r->line);
	if (!next_field(s, n, &pos, &f, &flen) || parse_seconds(f, flen, &maxc) != 0)
		return kc_diag_set(d, KC_EPARSE, "line %d: bad or missing Interval_Max", r->line);
	if (!next_field(s, n, &pos, &f, &flen) || flen == 0)
		return kc_diag_set(d, KC_EPARSE, "line %d: missing histogram", r->line);
	if (pos <= n)
		return kc_diag_set(d, KC_EPARSE, "line %d: extra fields after the histogram",
				   r->line);
	uint8_t *bin = malloc(flen / 4 * 3 + 1);
	if (!bin)
		return kc_diag_set(d, KC_ENOMEM, "line %d: out of memory", r->line);
	long blen = b64_decode(f, flen, bin);
	int rc;
	struct kc_hdr *h = NULL;
	if (blen < 0) {
		rc = kc_diag_set(d, KC_EPARSE, "line %d: histogram is not valid base64", r->line);
		goto free_bin;
	}
	rc = kc_hlog_decode(bin, (size_t)blen, r->max_counts, &h, d);
	if (rc != 0) {
		char why[sizeof(d->msg)] = "";
		if (d)
			memcpy(why, d->msg, sizeof(why));
		rc = kc_diag_set(d, rc, "line %d: %s", r->line, why);
		goto free_bin;
	}
	/* HistogramLogReader: without a BaseTime, deduce whether times are absolute. */
	if (!r->have_base) {
		r->base_time_s = start < r->start_time_s - 365.0 * 24 * 3600 ? r->start_time_s : 0.0;
		r->have_base = true;
	}
	tmp.start_s = start + r->base_time_s;
	tmp.length_s = length;
	tmp.max_column = maxc;
	tmp.hist = h;
	if (kc_hdr_set_tag(h, tmp.tag[0] ? tmp.tag : NULL) != 0) {
		kc_hdr_free(h);
		rc = kc_diag_set(d, KC_EPARSE, "line %d: tag has spaces or control bytes", r->line);
		goto free_bin;
	}
	kc_hdr_set_times(h, llround(tmp.start_s * 1000.0),
			 llround((tmp.start_s + length) * 1000.0));
	*iv = tmp;
	rc = 1;
free_bin:
	free(bin);
	return rc;
}

int kc_hlog_reader_next(struct kc_hlog_reader *r, struct kc_hlog_interval *iv,
			struct kc_diag *d)
{
	KC_ASSERT(r && iv);
	/* Bounded: every pass consumes at least one byte of the input. */
	while (r->pos < r->len) {
		const char *s = r->data + r->pos;
		size_t left = r->len - r->pos;
		const char *nl = memchr(s, '\n', left);
		size_t n = nl ? (size_t)(nl - s) : left;
		r->pos += nl ? n + 1 : n;
		r->line++;
		if (n > 0 && s[n - 1] == '\r')
			n--;
		if (n > r->max_line_bytes)
			return kc_diag_set(d, KC_ELIMIT, "line %d: %zu bytes, over the limit of %zu",
					   r->line, n, r->max_line_bytes);
		if (n == 0)
			continue;
		if (starts_with(s, n, "#[StartTime:")) {
			if (header_time(s, n, 12, &r->start_time_s) != 0)
				return kc_diag_set(d, KC_EPARSE, "line %d: bad StartTime", r->line);
			r->have_start = true;
			continue;
		}
		if (starts_with(s, n, "#[BaseTime:")) {
			if (header_time(s, n, 11, &r->base_time_s) != 0)
				return kc_diag_set(d, KC_EPARSE, "line %d: bad BaseTime", r->line);
			r->have_base = true;
			continue;
		}
		if (s[0] == '#' || starts_with(s, n, "\"StartTimestamp\""))
			continue;
		return parse_interval(r, s, n, iv, d);
	}
	return 0;
}
