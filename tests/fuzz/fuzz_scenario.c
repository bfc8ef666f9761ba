/* fuzz_scenario.c - the scenario parser and its typed getters over arbitrary text. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "kneecap/err.h"
#include "kneecap/scenario.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = malloc(size + 1);
	if (!text)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	struct kc_scenario *sc = NULL;
	struct kc_diag d;
	if (kc_scenario_parse(&sc, "fuzz.ini", text, &d) == KC_OK) {
		/* Exercise every getter on every entry, as the owners would. */
		for (size_t i = 0; i < kc_scenario_count(sc); i++) {
			struct kc_scenario_entry *e = kc_scenario_entry(sc, i);
			int64_t v;
			double x;
			bool b;
			const char *s;
			static const char *const ch[] = {"a", "b", NULL};
			int k;
			kc_scenario_get_i64(sc, e->section, e->key, -100, 100, &v, &d);
			kc_scenario_get_double(sc, e->section, e->key, 0, 1e9, &x, &d);
			kc_scenario_get_duration_ns(sc, e->section, e->key, 1000000, 0, INT64_MAX, &v, &d);
			kc_scenario_get_bool(sc, e->section, e->key, &b, &d);
			kc_scenario_get_enum(sc, e->section, e->key, ch, &k, &d);
			kc_scenario_get_str(sc, e->section, e->key, &s, &d);
		}
		kc_scenario_check_unused(sc, &d);
		kc_scenario_free(sc);
	}
	free(text);
	return 0;
}
