/*
 * cmd_report.c - `kneecap report`: render one result, or compare several
 * instance types, as plain text on the terminal and as one self-contained
 * HTML file.
 */
#include "cli.h"
#include "cli_price.h"
#include "kneecap/buf.h"
#include "kneecap/html.h"
#include "kneecap/resultdoc.h"
#include "kneecap/term.h"

#include <stdio.h>
#include <stdlib.h>
#include <errno.h>
#include <string.h>

#define MAX_FILES 32
#define HTML_MAX (64u << 20)

static const char usage_text[] =
	"usage: kneecap report RESULT.json... [-o report.html] [--prices FILE]\n"
	"\n"
	"Render one result, or compare several instance types, as text and HTML.\n"
	"\n"
	"  -o, --output FILE  where to write the HTML (default report.html; -: stdout,\n"
	"                     the text summary then goes to stderr)\n"
	"  --prices FILE      instance price table (default: $KNEECAP_PRICES, else\n"
	"                     data/instance-types.csv); an empty price prints\n"
	"                     \"price unknown\"\n"
	"\n"
	"Examples:\n"
	"  kneecap report out/result.json -o report.html\n"
	"  kneecap report g5/result.json c5/result.json --prices prices.csv -o compare.html\n";

struct report_args {
	const char *files[MAX_FILES];
	size_t nfiles;
	const char *output, *prices;
};

/* argv into a.  Returns -1 to go on, or an exit status (KC_EXIT_OK after --help). */
static int parse_args(int argc, char **argv, struct report_args *a)
{
	if (argc > 1 && cli_is_help(argv[1])) {
		fputs(usage_text, stdout);
		return KC_EXIT_OK;
	}
	a->output = "report.html";
	for (int i = 1; i < argc; i++) {
		const char *arg = argv[i];
		if (!strcmp(arg, "-o") || !strcmp(arg, "--output") || !strcmp(arg, "--prices")) {
			if (i + 1 >= argc) {
				cli_error("report: %s needs a value", arg);
				return KC_EXIT_USAGE;
			}
			if (!strcmp(arg, "--prices"))
				a->prices = argv[++i];
			else
				a->output = argv[++i];
		} else if (arg[0] == '-' && arg[1]) {
			cli_error("report: unknown option '%s' (see kneecap report --help)", arg);
			return KC_EXIT_USAGE;
		} else if (a->nfiles == MAX_FILES) {
			cli_error("report: at most %d result files", MAX_FILES);
			return KC_EXIT_USAGE;
		} else {
			a->files[a->nfiles++] = arg;
		}
	}
	if (a->nfiles == 0) {
		cli_error("report: give at least one RESULT.json (see kneecap report --help)");
		return KC_EXIT_USAGE;
	}
	return -1;
}

/* The text summary and the HTML to where -o says.  Returns an exit status. */
static int write_report(const char *output, const struct kc_buf *text, const struct kc_buf *html)
{
	if (!strcmp(output, "-")) {
		fputs(text->data ? text->data : "", stderr);
		/* Checked here and again by main: a full or closed stdout exits 4. */
		if (fwrite(html->data, 1, html->len, stdout) != html->len || fflush(stdout)) {
			cli_error("report: cannot write to stdout: %s", strerror(cli_stdout_errno()));
			clearerr(stdout);
			return KC_EXIT_WRITE;
		}
		return KC_EXIT_OK;
	}
	fputs(text->data ? text->data : "", stdout);
	if (kc_write_file(output, html->data, html->len)) {
		cli_error("report: cannot write %s: %s", output, strerror(errno));
		return KC_EXIT_WRITE;
	}
	printf("report: %s\n", output);
	return KC_EXIT_OK;
}

int kc_cmd_report(int argc, char **argv)
{
	struct report_args args = {0};
	int rc = parse_args(argc, argv, &args);
	if (rc >= 0)
		return rc;
	const char *const *files = args.files;
	size_t nfiles = args.nfiles;
	struct kc_resultdoc *docs = calloc(nfiles, sizeof(*docs));
	double *price = calloc(nfiles, sizeof(double));
	int status = KC_EXIT_USAGE;
	size_t loaded = 0;
	struct kc_buf text, html;
	kc_buf_init(&text, 1u << 20);
	kc_buf_init(&html, HTML_MAX);
	if (!docs || !price) {
		cli_error("report: out of memory");
		goto done;
	}
	for (; loaded < nfiles; loaded++) {
		struct kc_diag d;
		kc_diag_clear(&d);
		if (kc_resultdoc_load(&docs[loaded], files[loaded], &d)) {
			cli_diag_error("report", &d);
			goto done;
		}
		/* Reported, not refused: the steps measured are real; no knee is read from it. */
		if (docs[loaded].partial)
			cli_error("report: warning: %s is a partial result (%s): its steps are "
				  "what was measured before it stopped%s", files[loaded],
				  docs[loaded].interrupted[0] ? docs[loaded].interrupted
							      : "cut short or incomplete",
				  docs[loaded].knee_found ? "" : ", and it has no knee");
	}
	const char *ppath = cli_price_path(args.prices);
	for (size_t i = 0; i < nfiles; i++) {
		price[i] = cli_price_or_unknown(ppath, docs[i].instance_type);
		if (kc_term_verdict(&text, &docs[i], price[i]) || kc_buf_puts(&text, "\n"))
			goto nomem;
	}
	if (nfiles > 1 && kc_term_compare(&text, docs, nfiles, price))
		goto nomem;
	if (kc_html_report(&html, docs, nfiles, price))
		goto nomem;
	status = write_report(args.output, &text, &html);
	goto done;
nomem:
	cli_error("report: output too large or out of memory");
done:
	for (size_t i = 0; i < loaded; i++)
		kc_resultdoc_fini(&docs[i]);
	free(docs);
	free(price);
	kc_buf_fini(&text);
	kc_buf_fini(&html);
	return status;
}
