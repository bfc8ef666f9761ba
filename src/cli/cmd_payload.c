/*
 * cmd_payload.c - `kneecap payload`: write the synthetic JPEG payloads to disk.
 *
 * The same factory the pool uses (payload/jpeg), so the files on disk are
 * byte for byte the bodies `--payload jpeg` would send with the same
 * options.  Useful to look at what kneecap sends, to feed other tools, and
 * to make the committed sample in payloads/.
 */
#include "cli.h"
#include "kneecap/buf.h"
#include "kneecap/jpeg.h"
#include "kneecap/parse.h"
#include "kneecap/pool.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

static const char usage_text[] =
	"usage: kneecap payload --count N --out DIR [options]\n"
	"\n"
	"Write the synthetic JPEG payloads to disk as DIR/img-0000.jpg, ...: the\n"
	"same bytes `--payload jpeg` sends with the same options.\n"
	"\n"
	"options:\n"
	"  --count N           how many distinct images (1..4096; required)\n"
	"  --out DIR           folder to write to, created with its parents if missing\n"
	"                      (required)\n"
	"  --width PX          image width (8..16384, default 1024)\n"
	"  --height PX         image height (8..16384, default 1024)\n"
	"  --quality Q         JPEG quality 1..100 (default: 85, or searched with --size-kb)\n"
	"  --size-kb KB        target size of each image; detail (and quality, unless\n"
	"                      given) are tuned to land within 15%\n"
	"  --detail D          texture and noise, 0..1000 (default 250; not with --size-kb)\n"
	"  --subsampling S     chroma subsampling: 444, 422, 420 (default) or gray\n"
	"  --progressive       progressive JPEG (default baseline)\n"
	"  --seed N            seed (default 1); same seed and options, same bytes\n"
	"  -q, --quiet         print only the summary line\n";

/* The flags that map onto kc_jpeg_opts_set keys; each takes a value. */
static const struct {
	const char *flag;
	const char *key;
} jpeg_flags[] = {
	{"--width", "width"},       {"--height", "height"},
	{"--quality", "quality"},   {"--size-kb", "size-kb"},
	{"--detail", "detail"},     {"--subsampling", "subsampling"},
	{"--seed", "seed"},
};

/* Splits "--flag=value" or takes the next argument; NULL when missing. */
static const char *flag_value(int argc, char **argv, int *i, const char *arg,
			      size_t flag_len)
{
	if (arg[flag_len] == '=')
		return arg + flag_len + 1;
	if (*i + 1 >= argc)
		return NULL;
	return argv[++*i];
}

static bool flag_is(const char *arg, const char *flag, size_t *len)
{
	size_t n = strlen(flag);
	if (strncmp(arg, flag, n) != 0 || (arg[n] != '\0' && arg[n] != '='))
		return false;
	*len = n;
	return true;
}

/* mkdir -p: creates dir and any missing parents; prints the error itself. */
static int make_dir(const char *dir)
{
	char path[4096];
	size_t n = strlen(dir);
	if (n >= sizeof(path)) {
		cli_error("payload: --out: path too long");
		return -1;
	}
	memcpy(path, dir, n + 1);
	/* Each component once, left to right: bounded by the path's length. */
	for (size_t i = 1; i <= n; i++) {
		if (path[i] != '/' && path[i] != '\0')
			continue;
		char c = path[i];
		path[i] = '\0';
		if (mkdir(path, 0777) != 0 && errno != EEXIST) {
			cli_error("payload: --out %s: cannot create %s: %s", dir, path,
				  strerror(errno));
			return -1;
		}
		path[i] = c;
	}
	struct stat st;
	if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
		cli_error("payload: --out %s: not a folder", dir);
		return -1;
	}
	return 0;
}

int kc_cmd_payload(int argc, char **argv)
{
	struct kc_jpeg_opts o;
	kc_jpeg_opts_default(&o);
	struct kc_diag d;
	kc_diag_clear(&d);
	int64_t count = 0;
	const char *out_dir = NULL;
	bool quiet = false;

	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		size_t n = 0;
		if (cli_is_help(a)) {
			fputs(usage_text, stdout);
			return KC_EXIT_OK;
		}
		if (!strcmp(a, "--progressive")) {
			o.progressive = true;
			continue;
		}
		if (!strcmp(a, "-q") || !strcmp(a, "--quiet")) {
			quiet = true;
			continue;
		}
		if (flag_is(a, "--count", &n)) {
			const char *v = flag_value(argc, argv, &i, a, n);
			if (!v || kc_parse_i64(v, 1, KC_POOL_ENTRIES_MAX, &count) != KC_OK) {
				cli_error("payload: --count: '%s' is not a whole number in 1..%d",
					  v ? v : "", KC_POOL_ENTRIES_MAX);
				return KC_EXIT_USAGE;
			}
			continue;
		}
		if (flag_is(a, "--out", &n)) {
			out_dir = flag_value(argc, argv, &i, a, n);
			if (!out_dir || !*out_dir) {
				cli_error("payload: --out needs a folder");
				return KC_EXIT_USAGE;
			}
			continue;
		}
		bool known = false;
		for (size_t k = 0; k < sizeof(jpeg_flags) / sizeof(jpeg_flags[0]); k++) {
			if (!flag_is(a, jpeg_flags[k].flag, &n))
				continue;
			const char *v = flag_value(argc, argv, &i, a, n);
			if (!v) {
				cli_error("payload: %s needs a value", jpeg_flags[k].flag);
				return KC_EXIT_USAGE;
			}
			if (kc_jpeg_opts_set(&o, jpeg_flags[k].key, v, &d) != KC_OK) {
				cli_error("payload: --%s: %s", d.key, d.msg);
				return KC_EXIT_USAGE;
			}
			known = true;
			break;
		}
		if (!known) {
			cli_error("payload: unknown option '%s' (see kneecap payload --help)", a);
			return KC_EXIT_USAGE;
		}
	}
	if (!count || !out_dir) {
		cli_error("payload: --count and --out are required (see kneecap payload --help)");
		return KC_EXIT_USAGE;
	}
	if (kc_jpeg_opts_check(&o, &d) != KC_OK) {
		cli_diag_error("payload", &d);
		return KC_EXIT_USAGE;
	}

	/* Options are good: only now touch the disk and spend the CPU. */
	/* Every failure below is about the input (options, disk): exit 2. */
	struct kc_jpeg_gen *g = NULL;
	int rc = kc_jpeg_gen_new(&g, &o, &d);
	if (rc) {
		cli_diag_error("payload", &d);
		return KC_EXIT_USAGE;
	}
	if (make_dir(out_dir)) {
		kc_jpeg_gen_free(g);
		return KC_EXIT_USAGE;
	}
	int status = KC_EXIT_OK;
	size_t lo = SIZE_MAX, hi = 0;
	double sum = 0;
	for (int64_t i = 0; i < count; i++) {
		struct kc_jpeg_image img;
		rc = kc_jpeg_gen_make(g, (uint64_t)i, &img, &d);
		if (rc) {
			cli_diag_error("payload", &d);
			status = KC_EXIT_USAGE;
			break;
		}
		char path[4096];
		int w = snprintf(path, sizeof(path), "%s/img-%04lld.jpg", out_dir, (long long)i);
		if (w < 0 || (size_t)w >= sizeof(path) ||
		    kc_write_file(path, img.bytes, img.len_bytes) != KC_OK) {
			cli_error("payload: %s: cannot write: %s", path, strerror(errno));
			kc_jpeg_image_fini(&img);
			status = KC_EXIT_USAGE;
			break;
		}
		if (!quiet)
			printf("%s %dx%d %zu bytes quality %d detail %d\n", path,
			       img.width_px, img.height_px, img.len_bytes,
			       img.quality, img.detail);
		lo = img.len_bytes < lo ? img.len_bytes : lo;
		hi = img.len_bytes > hi ? img.len_bytes : hi;
		sum += (double)img.len_bytes;
		kc_jpeg_image_fini(&img);
	}
	kc_jpeg_gen_free(g);
	if (status == KC_EXIT_OK)
		printf("wrote %lld images to %s: %dx%d %s%s, mean %.0f bytes (min %zu, max %zu)\n",
		       (long long)count, out_dir, o.width_px, o.height_px,
		       kc_jpeg_subsamp_name(o.subsamp),
		       o.progressive ? " progressive" : "", sum / (double)count, lo, hi);
	return status;
}
