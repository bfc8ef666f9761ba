/*
 * scenario_find.h - the checks `kneecap find` makes of a scenario file,
 * for the commands that take the same files (serve).
 */
#ifndef KNEECAP_CLI_SCENARIO_FIND_H
#define KNEECAP_CLI_SCENARIO_FIND_H

struct kc_diag;
struct kc_scenario;

/*
 * Reads every section find reads, with find's layers, ranges and order
 * ([search], [recommend], [emulator], [target], [payload]; [traffic] and
 * [plan] allowed), then fails on anything left unread: the same one-line
 * error find gives (file, line, key).  Marks what it read as used; stores
 * nothing.  Returns 0 or KC_EINVAL with d set.
 */
int cli_scenario_check_as_find(struct kc_scenario *sc, struct kc_diag *d);

#endif
