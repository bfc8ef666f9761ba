/*
 * jpeg_server.c - a test model server that does real CPU work per request:
 * it decodes the JPEG each POST carries (libjpeg-turbo) and resizes it to
 * 224x224 (box filter), like an image model's pre-processing, on ONE
 * worker: a single thread that serves its connections through epoll and
 * handles one request at a time.  Its capacity is therefore what that one
 * core does per second, which `wrk` measures closed-loop and `kneecap find`
 * must land just under (test_find_cpu.sh).
 *
 *     jpeg_server PORTFILE [LOGFILE]
 *
 * Listens on 127.0.0.1 on a port the kernel picks, writes it to PORTFILE,
 * and, given LOGFILE, appends one line per answered request: the wall clock
 * (as result.json's start_wall_ms) and the worker's CPU clock, in ns, when
 * the answer left, so a test can tell how fast the core was at any moment
 * (on a shared machine the same work takes more or less CPU time as
 * neighbours come and go), and serves until SIGTERM or SIGINT (or 10 minutes, a bound of its own).
 * HTTP/1.1 keep-alive with Content-Length bodies only (what kneecap and wrk
 * send); 200 with a small JSON body, 400 when the body is not a JPEG.
 */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <turbojpeg.h>
#include <unistd.h>

#define MAX_CONNS 4096
#define MAX_REQ (8u << 20)
#define OUT_W 224
#define OUT_H 224

struct conn {
	int fd;
	char *buf;
	size_t len, cap;
};

static volatile sig_atomic_t stop;
static FILE *reqlog;
static void on_signal(int sig) { (void)sig; stop = 1; }

static tjhandle tj;
static unsigned char *pixels;
static size_t pixels_cap;
static unsigned char out[OUT_W * OUT_H * 3];

/* Decodes and box-resizes one JPEG; returns the mean of the output (so the
 * work cannot be optimised away), or -1 when it is not a JPEG. */
static int model(const unsigned char *jpg, size_t n)
{
	int w, h, sub, cs;
	if (tjDecompressHeader3(tj, jpg, (unsigned long)n, &w, &h, &sub, &cs) || w <= 0 || h <= 0 ||
	    w > 8192 || h > 8192)
		return -1;
	size_t need = (size_t)w * (size_t)h * 3;
	if (need > pixels_cap) {
		unsigned char *p = realloc(pixels, need);
		if (!p)
			return -1;
		pixels = p;
		pixels_cap = need;
	}
	if (tjDecompress2(tj, jpg, (unsigned long)n, pixels, w, 0, h, TJPF_RGB, TJFLAG_ACCURATEDCT))
		return -1;
	uint64_t total = 0;
	for (int oy = 0; oy < OUT_H; oy++) {
		int y0 = oy * h / OUT_H, y1 = (oy + 1) * h / OUT_H;
		for (int ox = 0; ox < OUT_W; ox++) {
			int x0 = ox * w / OUT_W, x1 = (ox + 1) * w / OUT_W;
			for (int c = 0; c < 3; c++) {
				uint32_t sum = 0, cnt = 0;
				for (int y = y0; y < y1; y++)
					for (int x = x0; x < x1; x++, cnt++)
						sum += pixels[((size_t)y * (size_t)w + (size_t)x) * 3 + (size_t)c];
				out[(oy * OUT_W + ox) * 3 + c] = (unsigned char)(cnt ? sum / cnt : 0);
				total += cnt ? sum / cnt : 0;
			}
		}
	}
	return (int)(total / (OUT_W * OUT_H * 3));
}

static void reply(int fd, int status, const char *body)
{
	char head[256];
	int n = snprintf(head, sizeof(head),
			 "HTTP/1.1 %d %s\r\nContent-Type: application/json\r\n"
			 "Content-Length: %zu\r\n\r\n%s",
			 status, status == 200 ? "OK" : "Bad Request", strlen(body), body);
	const char *p = head;
	/* Small replies fit the socket buffer; a client that does not read
	 * them is dropped rather than waited on. */
	while (n > 0) {
		ssize_t w = send(fd, p, (size_t)n, MSG_NOSIGNAL);
		if (w <= 0)
			return;
		p += w;
		n -= (int)w;
	}
}

/* Handles every whole request in c's buffer; false when c must close. */
static bool serve(struct conn *c)
{
	for (;;) {
		char *end = memmem(c->buf, c->len, "\r\n\r\n", 4);
		if (!end)
			return c->len < 65536;
		size_t hlen = (size_t)(end - c->buf) + 4;
		size_t clen = 0;
		for (char *l = c->buf; l < end; l++) {
			if ((l == c->buf || l[-1] == '\n') && !strncasecmp(l, "Content-Length:", 15))
				clen = strtoul(l + 15, NULL, 10);
		}
		if (clen > MAX_REQ)
			return false;
		if (c->len < hlen + clen)
			return true;
		int r = clen ? model((unsigned char *)c->buf + hlen, clen) : -1;
		char body[64];
		if (r < 0)
			reply(c->fd, 400, "{\"error\":\"not a JPEG\"}");
		else {
			snprintf(body, sizeof(body), "{\"label\":%d}", r);
			reply(c->fd, 200, body);
		}
		if (reqlog) {
			struct timespec m, u;
			clock_gettime(CLOCK_REALTIME, &m);
			clock_gettime(CLOCK_THREAD_CPUTIME_ID, &u);
			fprintf(reqlog, "%lld %lld\n", (long long)m.tv_sec * 1000000000LL + m.tv_nsec,
				(long long)u.tv_sec * 1000000000LL + u.tv_nsec);
		}
		memmove(c->buf, c->buf + hlen + clen, c->len - hlen - clen);
		c->len -= hlen + clen;
	}
}

int main(int argc, char **argv)
{
	if (argc != 2 && argc != 3) {
		fprintf(stderr, "usage: jpeg_server PORTFILE [LOGFILE]\n");
		return 2;
	}
	if (argc == 3 && !(reqlog = fopen(argv[2], "w"))) {
		perror(argv[2]);
		return 1;
	}
	if (reqlog) /* whole lines, readable while it serves */
		setvbuf(reqlog, NULL, _IOLBF, 0);
	signal(SIGTERM, on_signal);
	signal(SIGINT, on_signal);
	tj = tjInitDecompress();
	int ls = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
	int one = 1;
	setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t alen = sizeof(a);
	if (!tj || ls < 0 || bind(ls, (struct sockaddr *)&a, sizeof(a)) || listen(ls, 1024) ||
	    getsockname(ls, (struct sockaddr *)&a, &alen)) {
		perror("jpeg_server");
		return 1;
	}
	FILE *pf = fopen(argv[1], "w");
	if (!pf || fprintf(pf, "%d\n", ntohs(a.sin_port)) < 0 || fclose(pf)) {
		perror(argv[1]);
		return 1;
	}
	int ep = epoll_create1(0);
	struct epoll_event ev = {.events = EPOLLIN, .data.ptr = NULL};
	epoll_ctl(ep, EPOLL_CTL_ADD, ls, &ev);
	time_t deadline = time(NULL) + 600;
	struct epoll_event evs[64];
	while (!stop && time(NULL) < deadline) {
		int n = epoll_wait(ep, evs, 64, 200);
		for (int i = 0; i < n; i++) {
			struct conn *c = evs[i].data.ptr;
			if (!c) {
				int fd;
				while ((fd = accept4(ls, NULL, NULL, SOCK_NONBLOCK)) >= 0) {
					setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
					c = calloc(1, sizeof(*c));
					if (!c) {
						close(fd);
						continue;
					}
					c->fd = fd;
					struct epoll_event ce = {.events = EPOLLIN, .data.ptr = c};
					epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ce);
				}
				continue;
			}
			bool keep = true;
			for (;;) {
				if (c->cap - c->len < 65536) {
					size_t cap = c->cap ? c->cap * 2 : 262144;
					char *b = cap <= 2 * (size_t)MAX_REQ ? realloc(c->buf, cap) : NULL;
					if (!b) {
						keep = false;
						break;
					}
					c->buf = b;
					c->cap = cap;
				}
				ssize_t r = recv(c->fd, c->buf + c->len, c->cap - c->len, 0);
				if (r > 0) {
					c->len += (size_t)r;
					continue;
				}
				if (r == 0 || (errno != EAGAIN && errno != EINTR))
					keep = false;
				if (r < 0 && errno == EINTR)
					continue;
				break;
			}
			/* One request at a time, in the order the loop reads them:
			 * the single worker.  A client that hung up gets no more
			 * work done for it (its requests were abandoned). */
			if (!keep || !serve(c)) {
				epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
				close(c->fd);
				free(c->buf);
				free(c);
			}
		}
	}
	tjDestroy(tj);
	free(pixels);
	if (reqlog)
		fclose(reqlog);
	return 0;
}
