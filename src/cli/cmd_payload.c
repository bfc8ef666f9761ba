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
	{"--count", "variety"},     {"--width", "width"},       {"--height", "height"},
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

struct args {
	struct kc_jpeg_opts o; /* o.variety is --count */
	bool have_count;
	const char *out_dir;
	bool quiet;
};

/*
 * Parses argv into a.  Returns -1 after printing a one-line error, 1 after
 * printing the help, 0 when the options are complete and consistent.
 */
static int parse_args(int argc, char **argv, struct args *a)
{
	struct kc_diag d;
	kc_diag_clear(&d);
	for (int i = 1; i < argc; i++) {
		const char *arg = argv[i];
		size_t n = 0;
		if (cli_is_help(arg)) {
			fputs(usage_text, stdout);
			return 1;
		}
		if (!strcmp(arg, "--progressive")) {
			a->o.progressive = true;
			continue;
		}
		if (!strcmp(arg, "-q") || !strcmp(arg, "--quiet")) {
			a->quiet = true;
			continue;
		}
		if (flag_is(arg, "--out", &n)) {
			a->out_dir = flag_value(argc, argv, &i, arg, n);
			if (!a->out_dir || !*a->out_dir) {
				cli_error("payload: --out needs a folder");
				return -1;
			}
			continue;
		}
		bool known = false;
		for (size_t k = 0; k < sizeof(jpeg_flags) / sizeof(jpeg_flags[0]); k++) {
			if (!flag_is(arg, jpeg_flags[k].flag, &n))
				continue;
			const char *v = flag_value(argc, argv, &i, arg, n);
			if (!v) {
				cli_error("payload: %s needs a value", jpeg_flags[k].flag);
				return -1;
			}
			if (kc_jpeg_opts_set(&a->o, jpeg_flags[k].key, v, &d) != KC_OK) {
				cli_error("payload: %s: %s", jpeg_flags[k].flag, d.msg);
				return -1;
			}
			a->have_count |= !strcmp(jpeg_flags[k].key, "variety");
			known = true;
			break;
		}
		if (!known) {
			cli_error("payload: unknown option '%s' (see kneecap payload --help)", arg);
			return -1;
		}
	}
	if (!a->have_count || !a->out_dir) {
		cli_error("payload: --count and --out are required (see kneecap payload --help)");
		return -1;
	}
	if (kc_jpeg_opts_check(&a->o, &d) != KC_OK) {
		cli_diag_error("payload", &d);
		return -1;
	}
	return 0;
}

/* Makes and writes the set; returns an exit status. */
static int write_set(const struct args *a)
{
	/* Every failure here is about the input (options, disk): exit 2. */
	struct kc_diag d;
	kc_diag_clear(&d);
	struct kc_jpeg_gen *g = NULL;
	if (kc_jpeg_gen_new(&g, &a->o, &d) != KC_OK) {
		cli_diag_error("payload", &d);
		return KC_EXIT_USAGE;
	}
	/* Options are good and the target size reachable: only now touch the disk. */
	if (make_dir(a->out_dir)) {
		kc_jpeg_gen_free(g);
		return KC_EXIT_USAGE;
	}
	int status = KC_EXIT_OK, count = a->o.variety;
	size_t lo = SIZE_MAX, hi = 0;
	double sum = 0;
	for (int i = 0; i < count && status == KC_EXIT_OK; i++) {
		struct kc_jpeg_image img;
		if (kc_jpeg_gen_make(g, (uint64_t)i, &img, &d) != KC_OK) {
			cli_diag_error("payload", &d);
			status = KC_EXIT_USAGE;
			break;
		}
		char path[4096];
		int w = snprintf(path, sizeof(path), "%s/img-%04d.jpg", a->out_dir, i);
		if (w < 0 || (size_t)w >= sizeof(path) ||
		    kc_write_file(path, img.bytes, img.len_bytes) != KC_OK) {
			cli_error("payload: %s: cannot write: %s", path, strerror(errno));
			status = KC_EXIT_USAGE;
		} else if (!a->quiet) {
			printf("%s %dx%d %zu bytes quality %d detail %d\n", path,
			       img.width_px, img.height_px, img.len_bytes,
			       img.quality, img.detail);
		}
		lo = img.len_bytes < lo ? img.len_bytes : lo;
		hi = img.len_bytes > hi ? img.len_bytes : hi;
		sum += (double)img.len_bytes;
		kc_jpeg_image_fini(&img);
	}
	kc_jpeg_gen_free(g);
	if (status == KC_EXIT_OK)
		printf("wrote %d images to %s: %dx%d %s%s, mean %.0f bytes (min %zu, max %zu)\n",
		       count, a->out_dir, a->o.width_px, a->o.height_px,
		       kc_jpeg_subsamp_name(a->o.subsamp),
		       a->o.progressive ? " progressive" : "", sum / count, lo, hi);
	return status;
}

int kc_cmd_payload(int argc, char **argv)
{
	struct args a = {0};
	kc_jpeg_opts_default(&a.o);
	int rc = parse_args(argc, argv, &a);
	if (rc)
		return rc > 0 ? KC_EXIT_OK : KC_EXIT_USAGE;
	return write_set(&a);
}
