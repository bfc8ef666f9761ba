#!/usr/bin/env bash
# test_report_html.sh - `kneecap report` writes one self-contained HTML file
# that Debian's headless Chromium renders (a screenshot that is not blank),
# with no console errors and no network fetches; the same for `plan`.  A
# deliberately broken page proves the console and network checks can fail.
. "$(dirname "$0")/lib.sh"

R=$KC_SRCDIR/tests/data/results
T=$KC_SRCDIR/tests/data/traffic
PY=/usr/bin/python3
export KNEECAP_PRICES=$KC_SRCDIR/data/instance-types.csv

expect_rc 0 "report on three results" "$KNEECAP" report "$R/g5-xlarge-50rps.json" \
	"$R/c5-xlarge-cpu.json" "$R/streams-g5-2xlarge.json" -o "$TMP/report.html"
expect_grep '^instance type +ceiling/inst' "$TMP/out" "prints the comparison table"
expect_grep '^ml.g5.xlarge +50.0 +2400 +40.0 +1.4084 +9.781$' "$TMP/out" "g5 row: ceiling, target, price, cost/M"
expect_grep 'target:    2400 SageMakerVariantInvocationsPerInstance \(range 2100-2400' "$TMP/out" \
	"prints the verdict with the 70-80% range"
expect_grep "^report: $TMP/report.html\$" "$TMP/out" "prints the HTML path"
# An instance type whose price cell is empty: "price unknown", never a guess.
sed 's/ml\.c5\.xlarge/ml.g6.xlarge/g' "$R/c5-xlarge-cpu.json" >"$TMP/g6.json"
expect_rc 0 "report with an unknown price" "$KNEECAP" report "$TMP/g6.json" "$R/g5-xlarge-50rps.json" \
	-o "$TMP/g6.html"
expect_grep '^ml.g6.xlarge +135.0 +6075 +101.2 +unknown +price unknown$' "$TMP/out" "text: price unknown"
expect_grep '<td class="n">price unknown</td>' "$TMP/g6.html" "HTML: price unknown"
expect_rc 0 "plan for the seed" "$KNEECAP" plan "$R/g5-xlarge-50rps.json" \
	--traffic "$T/seed-day.ini" -o "$TMP/plan.html"
expect_rc 2 "report refuses another tool's result" "$KNEECAP" report "$R/other-tool.json" -o "$TMP/x.html"
expect_grep 'other-tool.json: not a kneecap result' "$TMP/err" "says whose it is"
expect_rc 2 "report refuses a newer schema" "$KNEECAP" report "$R/newer-schema.json" -o "$TMP/x.html"
expect_grep 'written by a newer kneecap' "$TMP/err" "says it is newer"

# Self-contained: nothing that could fetch, no scripts.
for f in report plan; do
	h=$TMP/$f.html
	if grep -Eiq '(src|href|xlink:href|action)[[:space:]]*=[[:space:]]*["'\'']?(https?:)?//' "$h" ||
	   grep -Eiq '<script|<link|<iframe|<img|@import|url\(' "$h"; then
		fail "$f.html has external references or scripts"
	else
		ok "$f.html has no external references or scripts"
	fi
	# URLs may appear as text (an endpoint in the config table); the only one
	# allowed in an attribute is the SVG namespace, which is never fetched.
	attrs=$(grep -Eo '[A-Za-z:-]+=["'\'']https?://[^"'\'']*' "$h" | sort -u | grep -v '^xmlns="http://www.w3.org/2000/svg$' || true)
	[ -z "$attrs" ] && ok "$f.html: no URL in any attribute but the SVG namespace" \
		|| fail "$f.html: URL attributes: $attrs"
done
# Escaping: markup in result strings arrives as text.
grep -q '&lt;script&gt;alert(&#39;host&#39;)' "$TMP/report.html" && ! grep -q "<script>alert" "$TMP/report.html" \
	&& ok "markup from result.json is escaped" || fail "markup from result.json is escaped"

command -v chromium >/dev/null || { fail "chromium is not installed (scripts/setup installs it)"; done_testing; exit; }

# chrome NAME ARGS...: headless Chromium with the network pointed nowhere
# (a dead proxy, every host unresolvable), its console on stderr and its
# network log in $TMP/net.NAME.json.
chrome() {
	local name=$1; shift
	timeout 90 chromium --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
		--disable-background-networking --disable-component-update --disable-sync \
		--user-data-dir="$TMP/prof.$name" --enable-logging=stderr --v=0 \
		--proxy-server=127.0.0.1:9 --host-resolver-rules="MAP * ~NOTFOUND" \
		--log-net-log="$TMP/net.$name.json" "$@" 2>"$TMP/log.$name"
}
# Hosts a page asked for, other than Chromium's own background services.
fetched() {
	grep -oE 'https?://[^/"\\ ;<>]+' "$TMP/net.$1.json" 2>/dev/null | sort -u |
		grep -vE '(google|googleapis|gstatic|gvt1)\.com$|~notfound' || true
}
console_errors() { grep -E 'Uncaught|ERROR:CONSOLE|CONSOLE.*[Ee]rror|Failed to load resource' "$TMP/log.$1" || true; }

# Negative control: a page with a script error and a remote image.
printf '<!DOCTYPE html><p>x</p><img src="http://example.invalid/a.png"><script>nope();</script>\n' >"$TMP/bad.html"
chrome bad --dump-dom "file://$TMP/bad.html" >/dev/null
[ -n "$(console_errors bad)" ] && ok "control: a script error is detected" || fail "control: a script error is detected"
fetched bad | grep -q example.invalid && ok "control: a remote fetch is detected" || fail "control: a remote fetch is detected"

for f in report plan; do
	chrome "$f" --screenshot="$TMP/$f.png" --window-size=1280,2000 "file://$TMP/$f.html" >/dev/null
	if [ -s "$TMP/$f.png" ]; then ok "$f: screenshot taken"; else fail "$f: screenshot taken"; sed 's/^/    /' "$TMP/log.$f" | tail -5; fi
	# Not blank: a rendered report has text, axes and coloured series, so many
	# distinct colours and no single colour covering almost everything.
	if $PY - "$TMP/$f.png" <<'PY'
import sys
from PIL import Image
im = Image.open(sys.argv[1]).convert("RGB")
assert im.size == (1280, 2000), im.size
cols = im.getcolors(1 << 24)
top = max(c for c, _ in cols) / (im.size[0] * im.size[1])
print("# %s: %d colours, most common covers %.1f%%" % (sys.argv[1].rsplit("/", 1)[-1], len(cols), top * 100))
sys.exit(0 if len(cols) >= 200 and top < 0.97 else 1)
PY
	then ok "$f: the page rendered (not blank)"; else fail "$f: the page rendered (not blank)"; fi
	c=$(console_errors "$f")
	[ -z "$c" ] && ok "$f: no console errors" || { fail "$f: no console errors"; echo "$c" | head -3; }
	n=$(fetched "$f")
	[ -z "$n" ] && ok "$f: no network fetches" || fail "$f: fetched $n"
done
[ -n "${KC_KEEP_SCREENSHOTS:-}" ] && cp "$TMP"/report.png "$TMP"/plan.png "$KC_KEEP_SCREENSHOTS"/ 2>/dev/null

chrome dom --dump-dom "file://$TMP/report.html" >"$TMP/dom.html"
grep -q 'Instance types compared' "$TMP/dom.html" && [ "$(grep -o '<svg' "$TMP/dom.html" | wc -l)" -ge 8 ] \
	&& ok "the DOM parsed: headings and charts present" || fail "the DOM parsed: headings and charts present"

# What the terminal says, the report carries (issue #15): per-step verdicts,
# every warning, why 70-80%, the SLO line; charts by load with re-measured
# steps as separate markers; no errors chart of zeros; a run reads as a run.
expect_rc 0 "report on a find and a run result" "$KNEECAP" report "$R/find-verdicts.json" \
	"$R/run-fixed-rate.json" -o "$TMP/verdicts.html"
expect_grep 'a noisy step may have ended the search early' "$TMP/out" "text: the noisy-step warning"
expect_grep 'fixed-rate run at 20.0 RPS' "$TMP/out" "text: a run reads as a fixed-rate run"
chrome verdicts --dump-dom "file://$TMP/verdicts.html" >"$TMP/dom.verdicts.html"
if $PY - "$TMP/dom.verdicts.html" >"$TMP/dom.check" 2>&1 <<'PY'
import re, sys
from html.parser import HTMLParser

class P(HTMLParser):
    # Collects table rows (cells as text), <li> texts, paragraphs, chart
    # titles and the d attribute of every <path>, per result <section>.
    def __init__(self):
        super().__init__()
        self.sections, self.stack, self.text = [], [], []
    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == 'section':
            self.sections.append({'rows': [], 'li': [], 'p': [], 'titles': [], 'paths': [],
                                  'circles': 0, 'headers': []})
        sec = self.sections[-1] if self.sections else None
        if sec is not None and tag == 'path' and a.get('d'):
            sec['paths'].append(a['d'])
        if sec is not None and tag == 'circle':
            sec['circles'] += 1
        if sec is not None and tag == 'tr':
            sec['rows'].append([])
        self.stack.append((tag, a))
        self.text.append('')
    def handle_endtag(self, tag):
        while self.stack:
            t, a = self.stack.pop()
            txt = self.text.pop()
            if self.text:
                self.text[-1] += txt
            sec = self.sections[-1] if self.sections else None
            if sec is not None:
                if t in ('td', 'th') and sec['rows']:
                    sec['rows'][-1].append(' '.join(txt.split()))
                elif t == 'li':
                    sec['li'].append(' '.join(txt.split()))
                elif t == 'p':
                    sec['p'].append(' '.join(txt.split()))
                elif t == 'text' and 'kc-title' in a.get('class', ''):
                    sec['titles'].append(txt)
            if t == tag:
                break
    def handle_data(self, data):
        if self.text:
            self.text[-1] += data

p = P()
p.feed(open(sys.argv[1]).read())
bad = []
def check(cond, what):
    print(('ok   ' if cond else 'FAIL ') + what)
    if not cond:
        bad.append(what)

check(len(p.sections) == 2, 'two result sections')
find, run = p.sections[0], p.sections[1]
# The steps table: a verdict column, one verdict per step, as the terminal printed them.
steps = [r for r in find['rows'] if r and r[0].isdigit()]
hdr = next((r for r in find['rows'] if r and r[0] == 'step'), [])
check('verdict' in hdr and 'arrived' in hdr, 'steps table has arrived and verdict columns')
vi, ai, ri = hdr.index('verdict'), hdr.index('achieved'), hdr.index('arrived')
verdicts = [r[vi] for r in steps]
check(verdicts == ['healthy', 'healthy', 'healthy', 'throughput', 'healthy (ambiguous)',
                   'healthy (re-measure 1)'], 'per-step verdicts: %s' % verdicts)
from decimal import Decimal as D
check(all(D(r[ai]) >= D('0.97') * D(r[ri]) for r in steps if r[vi].startswith('healthy')),
      'every healthy row: achieved >= 97% of arrived')
text = ' '.join(find['li'] + find['p'])
check('a noisy step may have ended the search early' in text, 'the noisy-step warning')
check('Mean latency at the knee is 2.64x the lowest-load step' in text, 'the latency inflation')
check('Why 70-80%' in text, 'why 70-80%')
check('Latency objective: p99 at most 3000 ms' in text, 'the SLO line is stated')
check(any('SLO p99 3000 ms' in t for t in [' '.join(find['p'])]) or
      'SLO p99 3000 ms' in open(sys.argv[1]).read(), 'the SLO line is drawn')
check('Ceiling: 49.2 RPS per instance' in text, 'the ceiling as the terminal rounds it')
check('Found in 6 steps (1 re-measured, 24 s of load), bracket within 1.5%.' in text,
      'how the search went, as the terminal says it')
# No chart of zeros: no step had an error, so no errors chart.
check(not any('Errors per step' in t for t in find['titles']) and 'No errors in any step.' in text,
      'no errors chart of zeros')
# Lines run left to right: every line's x coordinates never turn back.
def xs(d):
    return [float(x) for x in re.findall(r'[ML]([0-9.]+) ', d)]
lines = [xs(d) for d in find['paths'] if d.startswith('M') and len(xs(d)) >= 3]
check(lines and all(l == sorted(l) for l in lines), 'every line is ordered by load (%d lines)' % len(lines))
check(any('re-measured' in li for li in [open(sys.argv[1]).read()]), 're-measured markers in the legend')
# The run: a fixed-rate run, not a failed search.
rtext = ' '.join(run['p'])
check('Fixed-rate run at 20.0 RPS' in rtext, 'the run reads as a fixed-rate run')
check('did not find' not in rtext, 'the run does not say the search failed')
rsteps = [r for r in run['rows'] if r and r[0].isdigit()]
check(len(rsteps) == 1 and rsteps[0][-1] == 'not judged', 'the run step is not judged')
sys.exit(1 if bad else 0)
PY
then ok "report DOM: verdicts, warnings, why 70-80%, SLO, ordered charts, run"
else fail "report DOM: verdicts, warnings, why 70-80%, SLO, ordered charts, run"; fi
sed 's/^/    /' "$TMP/dom.check"
done_testing
