/*
 * model.c - the emulator's instance model: round-robin over instances, each
 * a FIFO queue in front of `slots` identical servers (G/G/k per instance).
 *
 * It is pure logic with time as a parameter, so the unit tests can drive it
 * with a simulated clock.  It is not the HTTP server and keeps no clock.
 *
 * Key invariant: each instance keeps a min-heap of the times its slots
 * become free.  A request admitted at `now` starts at max(now, earliest free
 * slot) and holds that slot for a service time drawn at admission.  Start
 * times are therefore non-decreasing in admission order (FIFO), and no slot
 * idles while a request waits (work-conserving), so:
 *   in_service = min(slots, admitted-and-not-left),
 *   queue      = the rest,
 * and throughput equals instances * slots / mean service time exactly
 * whenever the queues are non-empty, whatever the timer jitter of the
 * server that delivers the answers.
 */
#include "model_int.h"

#include "kneecap/err.h"

#include <math.h>
#include <stdlib.h>

struct instance {
	int64_t *slot_free_ns; /* min-heap, `slots` entries */
	int64_t serving;       /* SERVE admissions not yet left */
	int64_t doomed;        /* TIMEOUT admissions not yet left */
};

struct kc_emu_model {
	int n_instances;
	int slots;
	int next;              /* round-robin cursor */
	int64_t queue_limit;   /* per instance, >= 1 */
	enum kc_emu_dist dist;
	int64_t mean_ns;
	double ln_mu, ln_sigma; /* lognormal parameters of the service time */
	struct kc_rng rng;
	struct instance *inst;
};

double kc_emu_rng_normal(struct kc_rng *r)
{
	/* Box-Muller; u1 in (0, 1] keeps log() finite. */
	double u1 = 1.0 - kc_rng_double(r);
	double u2 = kc_rng_double(r);
	return sqrt(-2.0 * log(u1)) * cos(2.0 * M_PI * u2);
}

static void heap_sift_down(int64_t *h, int n, int i)
{
	for (;;) {
		int l = 2 * i + 1, r = l + 1, m = i;
		if (l < n && h[l] < h[m])
			m = l;
		if (r < n && h[r] < h[m])
			m = r;
		if (m == i)
			return;
		int64_t t = h[i];
		h[i] = h[m];
		h[m] = t;
		i = m;
	}
}

int kc_emu_model_new(struct kc_emu_model **out, const struct kc_emu_profile *p)
{
	KC_ASSERT(out && p);
	if (p->instances < 1 || p->instances > 1024 || p->slots < 1 ||
	    p->slots > 65536 || p->service_ns_mean < 1 ||
	    !(p->service_cv >= 0.0 && p->service_cv <= 4.0) ||
	    p->queue_limit < 0)
		return KC_EINVAL;
	struct kc_emu_model *m = calloc(1, sizeof(*m));
	if (!m)
		return KC_ENOMEM;
	m->n_instances = p->instances;
	m->slots = p->slots;
	m->queue_limit = p->queue_limit > 0 ? p->queue_limit : KC_EMU_QUEUE_HARD_MAX;
	m->dist = p->service_dist;
	m->mean_ns = p->service_ns_mean;
	/* For a lognormal X with mean E and CV c: sigma^2 = ln(1 + c^2),
	 * mu = ln(E) - sigma^2 / 2, so E[X] is exactly the configured mean. */
	double s2 = log1p(p->service_cv * p->service_cv);
	m->ln_sigma = sqrt(s2);
	m->ln_mu = log((double)p->service_ns_mean) - s2 / 2.0;
	kc_rng_seed(&m->rng, p->seed);
	m->inst = calloc((size_t)m->n_instances, sizeof(*m->inst));
	if (!m->inst)
		goto fail_inst;
	for (int i = 0; i < m->n_instances; i++) {
		m->inst[i].slot_free_ns = calloc((size_t)m->slots, sizeof(int64_t));
		if (!m->inst[i].slot_free_ns)
			goto fail_slots;
		/* All slots free since the beginning of time. */
		for (int k = 0; k < m->slots; k++)
			m->inst[i].slot_free_ns[k] = INT64_MIN;
	}
	*out = m;
	return KC_OK;
fail_slots:
	for (int i = 0; i < m->n_instances; i++)
		free(m->inst[i].slot_free_ns);
	free(m->inst);
fail_inst:
	free(m);
	return KC_ENOMEM;
}

void kc_emu_model_free(struct kc_emu_model *m)
{
	if (!m)
		return;
	for (int i = 0; i < m->n_instances; i++)
		free(m->inst[i].slot_free_ns);
	free(m->inst);
	free(m);
}

int64_t kc_emu_model_draw_service_ns(struct kc_emu_model *m)
{
	if (m->dist == KC_EMU_DIST_FIXED || m->ln_sigma == 0.0)
		return m->mean_ns;
	double v = exp(m->ln_mu + m->ln_sigma * kc_emu_rng_normal(&m->rng));
	/* |z| < 8.6 and cv <= 4 bound v below ~1.3e6 * mean; mean <= 60 s
	 * keeps that inside int64 ns, but clamp anyway against a bad profile. */
	if (!(v >= 1.0))
		return 1;
	if (v > 9.0e18)
		return INT64_C(9000000000000000000);
	return (int64_t)v;
}

static int64_t waiting(const struct kc_emu_model *m, const struct instance *in)
{
	int64_t q = in->serving > m->slots ? in->serving - m->slots : 0;
	return q + in->doomed;
}

void kc_emu_model_admit(struct kc_emu_model *m, int64_t now_ns,
			int64_t deadline_ns, struct kc_emu_admit *a)
{
	kc_emu_model_admit_extra(m, now_ns, deadline_ns, 0, a);
}

void kc_emu_model_admit_extra(struct kc_emu_model *m, int64_t now_ns,
			      int64_t deadline_ns, int64_t extra_ns, struct kc_emu_admit *a)
{
	KC_ASSERT(m && a);
	int i = m->next;
	m->next = (m->next + 1) % m->n_instances;
	struct instance *in = &m->inst[i];

	a->instance = i;
	a->arrival_ns = now_ns;
	a->service_ns = 0;
	a->start_ns = now_ns;
	a->done_ns = now_ns;
	/* A request that would have to wait joins the queue only if there is
	 * room; one that gets a slot at once never counts against the limit. */
	int64_t free_at = in->slot_free_ns[0];
	if (free_at > now_ns && waiting(m, in) >= m->queue_limit) {
		a->kind = KC_EMU_ADMIT_OVERLOAD;
		return;
	}
	int64_t service = kc_emu_model_draw_service_ns(m) + extra_ns;
	int64_t start = free_at > now_ns ? free_at : now_ns;
	a->service_ns = service;
	a->start_ns = start;
	if (start > deadline_ns || service > deadline_ns - start) {
		a->kind = KC_EMU_ADMIT_TIMEOUT;
		a->done_ns = deadline_ns;
		in->doomed++;
		return;
	}
	a->kind = KC_EMU_ADMIT_SERVE;
	a->done_ns = start + service;
	in->slot_free_ns[0] = a->done_ns;
	heap_sift_down(in->slot_free_ns, m->slots, 0);
	in->serving++;
}

void kc_emu_model_leave(struct kc_emu_model *m, const struct kc_emu_admit *a)
{
	KC_ASSERT(m && a && a->instance >= 0 && a->instance < m->n_instances);
	struct instance *in = &m->inst[a->instance];
	if (a->kind == KC_EMU_ADMIT_SERVE) {
		KC_ASSERT(in->serving > 0);
		in->serving--;
	} else if (a->kind == KC_EMU_ADMIT_TIMEOUT) {
		KC_ASSERT(in->doomed > 0);
		in->doomed--;
	}
}

static void counts_of(const struct kc_emu_model *m, const struct instance *in,
		      struct kc_emu_model_counts *c)
{
	c->in_system = in->serving + in->doomed;
	c->in_service = in->serving < m->slots ? in->serving : m->slots;
	c->queue_depth = waiting(m, in);
}

void kc_emu_model_instance_counts(const struct kc_emu_model *m, int i,
				  struct kc_emu_model_counts *c)
{
	KC_ASSERT(m && c && i >= 0 && i < m->n_instances);
	counts_of(m, &m->inst[i], c);
}

void kc_emu_model_counts(const struct kc_emu_model *m,
			 struct kc_emu_model_counts *c)
{
	KC_ASSERT(m && c);
	c->in_system = c->in_service = c->queue_depth = 0;
	for (int i = 0; i < m->n_instances; i++) {
		struct kc_emu_model_counts one;
		counts_of(m, &m->inst[i], &one);
		c->in_system += one.in_system;
		c->in_service += one.in_service;
		c->queue_depth += one.queue_depth;
	}
}
