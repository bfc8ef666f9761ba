/*
 * scenario_find.h - how `kneecap find` reads a scenario, shared with the
 * commands that take the same files (serve checks them exactly as find
 * does, because it is the same code).
 */
#ifndef KNEECAP_CLI_SCENARIO_FIND_H
#define KNEECAP_CLI_SCENARIO_FIND_H

#include <stdbool.h>
#include <stdint.h>

#include "target.h"

#include "kneecap/emulator.h"
#include "kneecap/engine.h"
#include "kneecap/jpeg.h"
#include "kneecap/recommend.h"
#include "kneecap/search.h"

struct kc_diag;
struct kc_scenario;

/* Everything a find scenario configures. */
struct cli_find_cfg {
	struct kc_search_cfg search;
	struct kc_recommend_cfg rec;
	struct kc_emu_profile emu;
	struct cli_target_opts topts;
	struct kc_jpeg_opts jpeg;
	const char *payload_source; /* "jpeg", "dir", "body", "none" or NULL (default) */
	const char *payload_dir, *payload_body, *body_content_type;
	int64_t connections, max_inflight, timeout_ns, connect_timeout_ns;
	enum kc_http_version http;
	enum kc_client client;          /* [target] client = native | curl */
	enum kc_arrival arrival;
	bool insecure;
	const char *cacert;
	int64_t streams;            /* HTTP/2 streams per connection, 0: the engine's */
	const char *proxy, *client_cert, *client_key; /* libcurl only (--client curl) */
	const char *method;         /* [target] method (--method, -X); NULL: GET or POST */
	bool confirm;               /* [search] confirm: run the confirmation step (true) */
};

/*
 * Reads every section find reads ([search], [recommend], [emulator],
 * [target], [payload]; [traffic] and [plan] allowed) into c, with their
 * ranges, then fails on anything left unread: one error naming file, line
 * and key.  *target is set to the scenario's target unless already set.
 * Returns 0 or an error code with d set.
 */
int cli_find_cfg_read(struct kc_scenario *sc, struct cli_find_cfg *c, const char **target,
		      struct kc_diag *d);

/* Checks sc as find would (cli_find_cfg_read into scratch); stores nothing. */
int cli_scenario_check_as_find(struct kc_scenario *sc, struct kc_diag *d);

#endif
