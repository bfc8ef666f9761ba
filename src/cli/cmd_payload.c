/*
 * cmd_payload.c - `kneecap payload`: write the synthetic JPEG payloads to
 * disk, or check payloads from disk.
 *
 * Writing uses the same factory the pool uses (payload/jpeg), so the files
 * are byte for byte the bodies `--payload jpeg` would send with the same
 * options: useful to look at what kneecap sends, to feed other tools, and to
 * make the committed sample in payloads/.  Checking loads a --payload-dir or
 * --body exactly as a run would (payload/pool) and reports each body, so a
 * bad folder can be found and fixed before a run.
 */
#include "cli.h"
#include "kneecap/buf.h"
#include "kneecap/jpeg.h"
#include "kneecap/pool.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

static const char usage_text[] =
	"usage: kneecap payload --count N --out DIR [options]\n"
	"       kneecap payload --payload-dir DIR\n"
	"       kneecap payload --body FILE [--content-type TYPE]\n"
	"\n"
	"Write the synthetic JPEG payloads to disk as DIR/img-0000.jpg, ...: the\n"
	"same bytes `--payload jpeg` sends with the same options.  Or check\n"
	"payloads from disk as a run would load them, and print each one's size,\n"
	"dimensions and SHA-256: every file in a --payload-dir must be a complete\n"
	"JPEG; a --body may be any type, up to 6 MiB.\n"
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
	"  -q, --quiet         print only the summary line\n"
	"  --payload-dir DIR   check every file in DIR (instead of writing)\n"
	"  --body FILE         check one body file (instead of writing)\n"
	"  --content-type T    the body's type (default: from its extension)\n"
	"\n"
	"Examples:\n"
	"  kneecap payload --count 32 --out payloads/\n"
	"  kneecap payload --payload-dir payloads/\n";

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
	bool have_jpeg_opt;    /* any option of the writing mode */
	const char *out_dir;
	bool quiet;
	const char *payload_dir; /* checking mode */
	const char *body;
	const char *content_type;
};

/* The checking mode's flags, each with a value, and where it goes. */
static const char **check_flag(struct args *a, const char *arg, size_t *len)
{
	if (flag_is(arg, "--payload-dir", len))
		return &a->payload_dir;
	if (flag_is(arg, "--body", len))
		return &a->body;
	if (flag_is(arg, "--content-type", len))
		return &a->content_type;
	return NULL;
}

/* The modes exclude each other's options; says which is wrong. */
static int check_mode(const struct args *a)
{
	bool checking = a->payload_dir || a->body;
	if (a->payload_dir && a->body) {
		cli_error("payload: --payload-dir and --body exclude each other");
		return -1;
	}
	if (checking && (a->have_jpeg_opt || a->out_dir)) {
		cli_error("payload: --payload-dir/--body check files; they take no --count, --out or image options");
		return -1;
	}
	if (a->content_type && !a->body) {
		cli_error("payload: --content-type goes with --body");
		return -1;
	}
	if (!checking && (!a->have_count || !a->out_dir)) {
		cli_error("payload: --count and --out are required (see kneecap payload --help)");
		return -1;
	}
	return 0;
}

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
			a->have_jpeg_opt = true;
			continue;
		}
		const char **dst = check_flag(a, arg, &n);
		if (dst) {
			*dst = flag_value(argc, argv, &i, arg, n);
			if (!*dst || !**dst) {
				cli_error("payload: %.*s needs a value", (int)n, arg);
				return -1;
			}
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
			a->have_jpeg_opt = true;
			known = true;
			break;
		}
		if (!known) {
			cli_error("payload: unknown option '%s' (see kneecap payload --help)", arg);
			return -1;
		}
	}
	if (check_mode(a))
		return -1;
	if (!a->payload_dir && !a->body && kc_jpeg_opts_check(&a->o, &d) != KC_OK) {
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

/* Loads a --payload-dir or --body as a run would and reports it; returns an exit status. */
static int check_files(const struct args *a)
{
	struct kc_diag d;
	kc_diag_clear(&d);
	struct kc_pool *p = NULL;
	int rc = a->payload_dir ? kc_pool_load_dir(&p, a->payload_dir, &d)
				: kc_pool_load_body(&p, a->body, a->content_type, &d);
	if (rc) {
		cli_diag_error("payload", &d);
		return KC_EXIT_USAGE;
	}
	size_t n = kc_pool_count(p);
	for (size_t i = 0; i < n && !a->quiet; i++) {
		const struct kc_payload *e = kc_pool_get(p, i);
		if (e->width_px)
			printf("%s %dx%d %zu bytes %s sha256 %s\n", e->name, e->width_px,
			       e->height_px, e->len_bytes, e->content_type, e->sha256_hex);
		else
			printf("%s %zu bytes %s sha256 %s\n", e->name, e->len_bytes,
			       e->content_type, e->sha256_hex);
	}
	struct kc_pool_summary s;
	kc_pool_summary(p, &s);
	printf("%zu payload%s from %s: %s, mean %.0f bytes (min %zu, max %zu)\n",
	       s.count, s.count == 1 ? "" : "s",
	       a->payload_dir ? a->payload_dir : a->body, s.content_type,
	       s.bytes_mean, s.bytes_min, s.bytes_max);
	kc_pool_free(p);
	return KC_EXIT_OK;
}

int kc_cmd_payload(int argc, char **argv)
{
	struct args a = {0};
	kc_jpeg_opts_default(&a.o);
	int rc = parse_args(argc, argv, &a);
	if (rc)
		return rc > 0 ? KC_EXIT_OK : KC_EXIT_USAGE;
	if (a.payload_dir || a.body)
		return check_files(&a);
	return write_set(&a);
}
