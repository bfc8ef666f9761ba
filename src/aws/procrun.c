/*
 * procrun.c - the credential_process source: a command line split the way
 * a shell would (without one), run with a time limit in its own process
 * group, its JSON answer read as a credential document.
 *
 * What the helper says on stderr may hold secrets kneecap never loaded:
 * the one line a failure quotes is scrubbed, opaque-looking words
 * included.  Its stdout is wiped before it is freed.
 */
#include "procrun_int.h"
#include "awsini_int.h"
#include "creds_int.h"
#include "kneecap/buf.h"
#include "kneecap/clock.h"
#include "kneecap/err.h"
#include "kneecap/log.h"
#include "kneecap/scrub.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

#define PROCESS_OUT_MAX (64u * 1024)
#define PROCESS_ERR_MAX (4u * 1024)

/*
 * Copies the quoted text at *pp (just past the opening quote q) into
 * store at *w, up to the closing quote, and leaves *pp past it.  Inside,
 * a backslash quotes the next character when it is one of escapable
 * (NULL: none, as between single quotes); an escaped newline is a line
 * continuation and copies nothing.  Returns 0, KC_EPARSE (no closing
 * quote) or KC_ELIMIT (store full).
 */
static int copy_quoted(const char **pp, char q, const char *escapable,
		       char *store, size_t *w, size_t storesz)
{
	const char *p = *pp;
	while (*p && *p != q) {
		if (escapable && *p == '\\' && p[1] && strchr(escapable, p[1])) {
			p++;
			if (*p == '\n') { /* line continuation */
				p++;
				continue;
			}
		}
		if (*w + 1 >= storesz)
			return KC_ELIMIT;
		store[(*w)++] = *p++;
	}
	if (!*p)
		return KC_EPARSE;
	*pp = p + 1;
	return KC_OK;
}

int kc_creds_shell_split(const char *cmd, char **argv, int maxargs,
			 char *store, size_t storesz)
{
	KC_ASSERT(cmd && argv && maxargs >= 2 && store && storesz > 0);
	int argc = 0;
	size_t w = 0;
	const char *p = cmd;
	for (;;) {
		while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')
			p++;
		if (!*p)
			break;
		if (argc == maxargs - 1)
			return KC_ELIMIT;
		argv[argc++] = store + w;
		while (*p && *p != ' ' && *p != '\t' && *p != '\n' && *p != '\r') {
			char c = *p++;
			if (c == '\'' || c == '"') {
				int rc = copy_quoted(&p, c, c == '"' ? "\\\"$`\n" : NULL,
						     store, &w, storesz);
				if (rc < 0)
					return rc;
				continue;
			}
			if (c == '\\') {
				if (!*p)
					return KC_EPARSE;
				c = *p++;
				if (c == '\n')
					continue;
			}
			if (w + 1 >= storesz)
				return KC_ELIMIT;
			store[w++] = c;
		}
		if (w + 1 >= storesz)
			return KC_ELIMIT;
		store[w++] = '\0';
	}
	argv[argc] = NULL;
	return argc ? argc : KC_EPARSE;
}

/* Kills pid's process group (helpers a credential_process started die
 * with it) and reaps pid. */
static void reap_kill(pid_t pid)
{
	kill(-pid, SIGKILL);
	while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
		;
}

/*
 * Reads stdout into out and the first errb->max bytes of stderr into errb
 * until both pipes close or deadline (kc_clock_ns) passes; closes both.
 * Returns 0, KC_ETIMEOUT, KC_ELIMIT (stdout over out->max) or KC_EIO.
 */
static int collect_output(int fdout, int fderr, int64_t deadline,
			  struct kc_buf *out, struct kc_buf *errb)
{
	int rc = KC_OK;
	struct pollfd pf[2] = {{.fd = fdout, .events = POLLIN}, {.fd = fderr, .events = POLLIN}};
	int open_fds = 2;
	char chunk[4096];
	while (open_fds > 0) {
		int64_t left = deadline - kc_clock_ns();
		if (left <= 0) {
			rc = KC_ETIMEOUT;
			break;
		}
		int pr = poll(pf, 2, (int)(left / KC_NS_PER_MS) + 1);
		if (pr < 0 && errno == EINTR)
			continue;
		if (pr < 0) {
			rc = KC_EIO;
			break;
		}
		for (int i = 0; i < 2; i++) {
			if (pf[i].fd < 0 || !(pf[i].revents & (POLLIN | POLLHUP | POLLERR)))
				continue;
			ssize_t r = read(pf[i].fd, chunk, sizeof(chunk));
			if (r < 0 && errno == EINTR)
				continue;
			if (r <= 0) {
				close(pf[i].fd);
				pf[i].fd = -1;
				open_fds--;
				continue;
			}
			if (i == 0) {
				if (kc_buf_append(out, chunk, (size_t)r) < 0) {
					rc = KC_ELIMIT;
					break;
				}
			} else if (errb->len < errb->max) {
				size_t room = errb->max - errb->len;
				kc_buf_append(errb, chunk, (size_t)r < room ? (size_t)r : room);
			}
		}
		explicit_bzero(chunk, sizeof(chunk));
		if (rc)
			break;
	}
	for (int i = 0; i < 2; i++)
		if (pf[i].fd >= 0)
			close(pf[i].fd);
	return rc;
}

/*
 * Runs argv with stdin from /dev/null, collecting stdout (<= out->max) and
 * the first PROCESS_ERR_MAX bytes of stderr, for at most timeout_ns.
 * Returns 0 with *status the wait status, or KC_ETIMEOUT, KC_ELIMIT, KC_EIO.
 */
static int run_process(char **argv, int64_t timeout_ns, struct kc_buf *out,
		       struct kc_buf *errb, int *status, struct kc_diag *d,
		       const char *what)
{
	int po[2] = {-1, -1}, pe[2] = {-1, -1};
	if (pipe2(po, O_CLOEXEC) < 0 || pipe2(pe, O_CLOEXEC) < 0) {
		int e = errno;
		if (po[0] >= 0) {
			close(po[0]);
			close(po[1]);
		}
		return kc_diag_set(d, KC_EIO, "%s: pipe: %s", what, strerror(e));
	}
	posix_spawn_file_actions_t fa;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_adddup2(&fa, po[1], 1);
	posix_spawn_file_actions_adddup2(&fa, pe[1], 2);
	/* Its own process group, so a timeout can kill everything it started. */
	posix_spawnattr_t at;
	posix_spawnattr_init(&at);
	posix_spawnattr_setflags(&at, POSIX_SPAWN_SETPGROUP);
	posix_spawnattr_setpgroup(&at, 0);
	pid_t pid;
	int se = posix_spawnp(&pid, argv[0], &fa, &at, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	posix_spawnattr_destroy(&at);
	close(po[1]);
	close(pe[1]);
	if (se) {
		close(po[0]);
		close(pe[0]);
		return kc_diag_set(d, KC_EIO, "%s: cannot run '%.200s': %s", what, argv[0],
				   strerror(se));
	}
	int64_t deadline = kc_clock_ns() + timeout_ns;
	int rc = collect_output(po[0], pe[0], deadline, out, errb);
	if (rc) {
		reap_kill(pid);
		if (rc == KC_ETIMEOUT)
			return kc_diag_set(d, rc, "%s: no answer within %lld ms (killed)", what,
					   (long long)(timeout_ns / KC_NS_PER_MS));
		if (rc == KC_ELIMIT)
			return kc_diag_set(d, rc, "%s: more than %zu bytes of output (killed)",
					   what, out->max);
		return kc_diag_set(d, rc, "%s: reading its output failed", what);
	}
	/* Both pipes are closed; the process may linger, bound the wait too. */
	for (;;) {
		pid_t w = waitpid(pid, status, WNOHANG);
		if (w == pid)
			return KC_OK;
		if (w < 0 && errno != EINTR)
			return kc_diag_set(d, KC_EIO, "%s: waitpid: %s", what, strerror(errno));
		if (kc_clock_ns() >= deadline) {
			reap_kill(pid);
			return kc_diag_set(d, KC_ETIMEOUT, "%s: did not exit within %lld ms "
					   "(killed)", what, (long long)(timeout_ns / KC_NS_PER_MS));
		}
		kc_sleep_ns(2 * KC_NS_PER_MS);
	}
}

int kc_creds_from_process(struct kc_creds *out, const struct kc_creds_opts *o,
			  const char *profile, const struct kc_awsini_entry *cp,
			  const char *file, struct kc_diag *d)
{
	char what[640];
	snprintf(what, sizeof(what), "%s:%d: credential_process of profile '%s'", file,
		 cp->line, profile);
	char *argv[64];
	char store[4096];
	int argc = kc_creds_shell_split(cp->value, argv, 64, store, sizeof(store));
	if (argc == KC_EPARSE)
		return kc_diag_set_at(d, KC_EPARSE, file, cp->line, "credential_process",
				      "empty command or unterminated quote");
	if (argc < 0)
		return kc_diag_set_at(d, KC_ELIMIT, file, cp->line, "credential_process",
				      "command longer than %zu bytes or 63 words", sizeof(store));
	kc_log(KC_LOG_DEBUG, "aws credentials: running credential_process '%.200s' "
	       "(%d words) for profile '%s'", argv[0], argc, profile);
	int64_t tmo = o->process_timeout_ns > 0 ? o->process_timeout_ns : 60 * KC_NS_PER_S;
	struct kc_buf ob, eb;
	kc_buf_init(&ob, PROCESS_OUT_MAX);
	kc_buf_init(&eb, PROCESS_ERR_MAX);
	int status = 0;
	int rc = run_process(argv, tmo, &ob, &eb, &status, d, what);
	if (rc == KC_OK) {
		if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
			/* The AWS CLI shows the process's stderr; show its first line. */
			char first[200] = "";
			if (eb.data) {
				/* Scrubbed before the cut, so no run of a secret is left
				 * half-matched at the edge; the helper may print secrets
				 * kneecap never loaded, hence the opaque-word rule. */
				size_t k = strcspn(eb.data, "\r\n");
				kc_scrub_copy(eb.data, k, first, sizeof(first), KC_SCRUB_OPAQUE);
			}
			if (WIFEXITED(status))
				rc = kc_diag_set(d, KC_EAUTH, "%s: exited with status %d%s%s", what,
						 WEXITSTATUS(status), first[0] ? ": " : "", first);
			else
				rc = kc_diag_set(d, KC_EAUTH, "%s: killed by signal %d", what,
						 WTERMSIG(status));
		} else {
			static const struct kc_creds_json_names nm = {"AccessKeyId", "SecretAccessKey",
								      "SessionToken", true};
			rc = kc_creds_from_json(out, o, KC_CREDS_PROCESS, profile, file,
						ob.data ? ob.data : "", ob.len, &nm, what, d);
		}
	}
	if (ob.data)
		explicit_bzero(ob.data, ob.len);
	kc_buf_fini(&ob);
	kc_buf_fini(&eb);
	return rc;
}
