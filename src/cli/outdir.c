/*
 * outdir.c - the --out directory of run, find and streams: one owner, temp
 * names renamed into place, every write checked (outdir.h says why).
 */
#include "outdir.h"
#include "cli.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "kneecap/hdr.h"
#include "kneecap/policy.h"
#include "kneecap/recommend.h"
#include "kneecap/verdict.h"
#include "kneecap/result.h"

static const char *const names[OUT_NFILES] = {
	[OUT_RESULT] = "result.json", [OUT_STEPS] = "steps.csv", [OUT_HLOG] = "latency.hlog",
	[OUT_POLICY] = "scaling-policy.json", [OUT_APPLY] = "apply.sh",
};

const char *outdir_name(enum out_file f)
{
	return f < OUT_NFILES ? names[f] : "?";
}

static void path_of(const struct outdir *o, enum out_file f, bool tmp, char *buf, size_t n)
{
	snprintf(buf, n, "%s/%s%s", o->dir, names[f], tmp ? ".tmp" : "");
}

/* Records and prints the first failure; later ones are consequences. */
static int failure(struct outdir *o, const char *what, int err)
{
	if (!o->err) {
		o->err = err ? err : EIO;
		snprintf(o->failed, sizeof(o->failed), "%s: %s", what, strerror(o->err));
		cli_error("%s: %s", o->cmd, o->failed);
	}
	return -1;
}

/* mkdir -p: each missing component, tolerating one made meanwhile. */
static int make_dirs(const char *dir)
{
	char p[4096];
	size_t n = strlen(dir);
	if (n == 0 || n >= sizeof(p)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	memcpy(p, dir, n + 1);
	for (size_t i = 1; i <= n; i++) {
		if (p[i] != '/' && p[i] != '\0')
			continue;
		char c = p[i];
		p[i] = '\0';
		if (mkdir(p, 0777) != 0 && errno != EEXIST)
			return -1;
		p[i] = c;
	}
	struct stat st;
	if (stat(dir, &st) != 0)
		return -1;
	if (!S_ISDIR(st.st_mode)) {
		errno = ENOTDIR;
		return -1;
	}
	return 0;
}

int outdir_open(struct outdir *o, const char *cmd, const char *dir)
{
	memset(o, 0, sizeof(*o));
	o->cmd = cmd;
	o->dir = dir;
	o->hlog_fd = -1;
	if (!dir)
		return 0;
	if (make_dirs(dir) != 0) {
		char what[4200];
		snprintf(what, sizeof(what), "--out '%s': cannot create the directory", dir);
		failure(o, what, errno);
		return KC_EXIT_WRITE;
	}
	/* What an older run left must not pass for this run's output. */
	for (int f = 0; f < OUT_NFILES; f++) {
		for (int tmp = 0; tmp < 2; tmp++) {
			char path[4200];
			path_of(o, (enum out_file)f, tmp, path, sizeof(path));
			if (unlink(path) != 0 && errno != ENOENT) {
				char what[4300];
				snprintf(what, sizeof(what), "%s: cannot remove the previous run's file",
					 path);
				failure(o, what, errno);
				return KC_EXIT_WRITE;
			}
		}
	}
	return 0;
}

/* The interval log's end: fsync, close and rename tmp into place; on
 * failure removes tmp.  (Whole files go through kc_write_file_via.) */
static int commit(struct outdir *o, enum out_file f, int fd)
{
	char tmp[4200], path[4200];
	path_of(o, f, true, tmp, sizeof(tmp));
	path_of(o, f, false, path, sizeof(path));
	if (kc_file_commit(fd, tmp, path))
		return failure(o, path, errno);
	o->present |= 1u << f;
	return 0;
}

int outdir_write(struct outdir *o, enum out_file f, const void *p, size_t n)
{
	if (!o->dir)
		return 0;
	char tmp[4200], path[4200];
	path_of(o, f, true, tmp, sizeof(tmp));
	path_of(o, f, false, path, sizeof(path));
	if (kc_write_file_via(path, tmp, p, n, f == OUT_APPLY ? 0755 : 0644) != 0)
		return failure(o, path, errno);
	o->present |= 1u << f;
	return 0;
}

/* A rendering failure (out of memory) is recorded like a write failure. */
static int render_failure(struct outdir *o, enum out_file f)
{
	char what[64];
	snprintf(what, sizeof(what), "%s: cannot render", names[f]);
	return failure(o, what, ENOMEM);
}

static int write_policy(struct outdir *o, const struct kc_recommend_cfg *c,
			const struct kc_recommendation *rec)
{
	if (!o->dir)
		return 0;
	struct kc_buf pol, sh;
	kc_buf_init(&pol, 1 << 20);
	kc_buf_init(&sh, 1 << 20);
	struct kc_diag d;
	kc_diag_clear(&d);
	int rc = 0;
	if (kc_recommend_policy_text(c, rec, &pol) || kc_recommend_apply_sh(c, rec, &sh, &d) ||
	    (o->alarm && kc_alarm_apply_sh(o->alarm, &sh))) {
		/* A rendering failure is the recommender's, not the disk's. */
		cli_error("%s: cannot render the policy: %s", o->cmd,
			  d.msg[0] ? d.msg : "out of memory");
		if (!o->err) {
			o->err = EINVAL;
			snprintf(o->failed, sizeof(o->failed), "scaling-policy.json: not rendered");
		}
		rc = -1;
	} else if (outdir_write(o, OUT_POLICY, pol.data, pol.len) ||
		   outdir_write(o, OUT_APPLY, sh.data, sh.len)) {
		if (o->present & (1u << OUT_POLICY)) {
			char path[4200];
			path_of(o, OUT_POLICY, false, path, sizeof(path));
			unlink(path);
			o->present &= ~(1u << OUT_POLICY);
		}
		rc = -1;
	}
	kc_buf_fini(&pol);
	kc_buf_fini(&sh);
	return rc;
}

/* The document on stdout, checked: a reader that went away is a failed run. */
static int print_stdout(struct outdir *o, const struct kc_buf *b)
{
	if (fwrite(b->data, 1, b->len, stdout) == b->len && fflush(stdout) == 0)
		return 0;
	failure(o, "stdout", cli_stdout_errno());
	/* Reported here, once; the exit status carries it from now on. */
	clearerr(stdout);
	return -1;
}

int outdir_write_result(struct outdir *o, struct kc_result *res, bool print_json,
			const struct kc_recommend_cfg *c, const struct kc_recommendation *rec)
{
	if (o->err) {
		res->partial = true;
		res->incomplete = o->failed;
	}
	struct kc_buf b, csv;
	kc_buf_init(&b, (size_t)256 << 20);
	kc_buf_init(&csv, (size_t)256 << 20);
	int rc = 0;
	/* result.json first: it is the record, and says why the rest may be missing. */
	bool rendered = kc_result_json_text(res, &b) == 0;
	if (!rendered)
		rc = render_failure(o, OUT_RESULT);
	else if (o->dir && outdir_write(o, OUT_RESULT, b.data, b.len))
		rc = -1;
	if (o->dir) {
		if (kc_result_csv_text(res, &csv) != 0)
			rc = render_failure(o, OUT_STEPS);
		else if (outdir_write(o, OUT_STEPS, csv.data ? csv.data : "", csv.len))
			rc = -1;
	}
	if (rec && !o->err && write_policy(o, c, rec))
		rc = -1;
	/* stdout last: a reader that quits early (| head) must not cost the files. */
	if (print_json && rendered && print_stdout(o, &b))
		rc = -1;
	kc_buf_fini(&csv);
	kc_buf_fini(&b);
	return rc;
}

/* Writes what the hlog writer put in hlog_buf. */
static int hlog_flush(struct outdir *o)
{
	int rc = kc_write_all(o->hlog_fd, o->hlog_buf.data, o->hlog_buf.len);
	kc_buf_reset(&o->hlog_buf);
	if (rc != 0) {
		char path[4200];
		path_of(o, OUT_HLOG, false, path, sizeof(path));
		return failure(o, path, errno);
	}
	return 0;
}

int outdir_hlog_open(struct outdir *o, int64_t start_ms)
{
	if (!o->dir)
		return 0;
	char tmp[4200], path[4200];
	path_of(o, OUT_HLOG, true, tmp, sizeof(tmp));
	path_of(o, OUT_HLOG, false, path, sizeof(path));
	/* outdir_open removed any stale tmp: O_EXCL|O_NOFOLLOW never follow a planted link. */
	o->hlog_fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
	if (o->hlog_fd < 0)
		return failure(o, path, errno);
	kc_buf_init(&o->hlog_buf, (size_t)16 << 20);
	o->hlog_open = true;
	/* Values are microseconds; the max column in milliseconds. */
	if (kc_hlog_writer_init(&o->hlog, &o->hlog_buf, NULL, 1000.0) ||
	    kc_hlog_write_header(&o->hlog, start_ms, start_ms))
		return failure(o, path, ENOMEM);
	return hlog_flush(o);
}

int outdir_hlog_interval(struct outdir *o, const struct kc_hdr *h)
{
	if (!o->hlog_open || o->err)
		return o->err ? -1 : 0;
	if (kc_hlog_write_interval(&o->hlog, h)) {
		char path[4200];
		path_of(o, OUT_HLOG, false, path, sizeof(path));
		kc_buf_reset(&o->hlog_buf);
		return failure(o, path, ENOMEM);
	}
	return hlog_flush(o);
}

int outdir_hlog_close(struct outdir *o, bool keep)
{
	if (!o->hlog_open)
		return 0;
	kc_hlog_writer_fini(&o->hlog);
	kc_buf_fini(&o->hlog_buf);
	o->hlog_open = false;
	int fd = o->hlog_fd;
	o->hlog_fd = -1;
	if (keep && !o->err)
		return commit(o, OUT_HLOG, fd);
	/* Dropping the broken log also frees the space result.json may need. */
	char tmp[4200];
	path_of(o, OUT_HLOG, true, tmp, sizeof(tmp));
	close(fd);
	unlink(tmp);
	return o->err ? -1 : 0;
}

bool outdir_failed(const struct outdir *o)
{
	return o->err != 0;
}

void outdir_list(const struct outdir *o, FILE *f)
{
	if (!o->dir)
		return;
	if (!o->present) {
		fprintf(f, "wrote nothing to %s\n", o->dir);
		return;
	}
	fprintf(f, "wrote %s/{", o->dir);
	const char *sep = "";
	for (int i = 0; i < OUT_NFILES; i++) {
		if (o->present & (1u << i)) {
			fprintf(f, "%s%s", sep, names[i]);
			sep = ",";
		}
	}
	fputs("}\n", f);
}

void outdir_close(struct outdir *o)
{
	if (o->hlog_open)
		outdir_hlog_close(o, false);
}
