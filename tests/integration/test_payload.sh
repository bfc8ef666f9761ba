#!/usr/bin/env bash
# test_payload.sh - `kneecap payload`: files that decode everywhere, the same
# bytes for the same seed, sizes on target, one-line errors for bad input,
# and the committed sample in payloads/ reproducible from its README.
. "$(dirname "$0")/lib.sh"
PY=/usr/bin/python3

# decode_all DIR W H [MODE]: every file decodes fully with PIL and djpeg
# (two decoders independent of TurboJPEG's API) to W x H.
decode_all() {
	local dir=$1 w=$2 h=$3 mode=${4:-RGB}
	if "$PY" - "$dir" "$w" "$h" "$mode" >"$TMP/py" 2>&1 <<'PY'
import os, sys
from PIL import Image
d, w, h, mode = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
names = sorted(os.listdir(d))
assert names, "no files"
for n in names:
    im = Image.open(os.path.join(d, n))
    assert im.format == "JPEG", (n, im.format)
    im.load()  # full decode; raises on a truncated file
    assert im.size == (w, h), (n, im.size)
    assert im.mode == mode, (n, im.mode)
    lo, hi = im.convert("L").getextrema()
    assert hi - lo > 64, (n, "flat picture", lo, hi)
print(len(names))
PY
	then ok "PIL decodes $(cat "$TMP/py") files in $(basename "$dir") to ${w}x${h} $mode"
	else fail "PIL decode of $dir"; sed 's/^/    /' "$TMP/py" | tail -5; fi
	if command -v djpeg >/dev/null; then
		local bad=0 f
		for f in "$dir"/*; do
			# djpeg exits non-zero on errors and on warnings (e.g. premature end).
			djpeg -pnm "$f" >"$TMP/djpeg.pnm" 2>"$TMP/djpeg.err" || { bad=1; echo "    $f: $(cat "$TMP/djpeg.err")"; }
			head -c 20 "$TMP/djpeg.pnm" | tr '\n' ' ' | grep -q "^P[56] $w $h " || { bad=1; echo "    $f: djpeg size"; }
		done
		[ $bad = 0 ] && ok "djpeg decodes every file in $(basename "$dir")" || fail "djpeg decode of $dir"
	else
		fail "djpeg missing (libjpeg-turbo-progs; scripts/setup installs it)"
	fi
}

# in_range DIR KB: every file within 15% of KB KiB.
in_range() {
	local dir=$1 kb=$2 bad=0 f n
	for f in "$dir"/*.jpg; do
		n=$(stat -c %s "$f")
		if [ $((n * 100)) -lt $((kb * 1024 * 85)) ] || [ $((n * 100)) -gt $((kb * 1024 * 115)) ]; then
			bad=1; echo "    $f: $n bytes"
		fi
	done
	[ $bad = 0 ] && ok "--size-kb $kb: every file within 15% of $kb KB" || fail "--size-kb $kb: sizes off"
}

expect_rc 0 "payload --help" "$KNEECAP" payload --help
expect_grep '^usage: kneecap payload' "$TMP/out" "help prints usage"

# Defaults: 1024x1024, 4:2:0, baseline.
expect_rc 0 "three default images" "$KNEECAP" payload --count 3 --out "$TMP/a"
expect_grep "img-0002.jpg 1024x1024 [0-9]+ bytes" "$TMP/out" "a line per file"
expect_grep "^wrote 3 images to" "$TMP/out" "a summary line"
[ "$(ls "$TMP/a" | wc -l)" = 3 ] && ok "three files written" || fail "file count: $(ls "$TMP/a")"
decode_all "$TMP/a" 1024 1024

# Determinism: same seed, same bytes; indices and seeds differ.
expect_rc 0 "same options again" "$KNEECAP" payload --count 3 --out "$TMP/b" -q
if cmp -s "$TMP/a/img-0000.jpg" "$TMP/b/img-0000.jpg" && cmp -s "$TMP/a/img-0002.jpg" "$TMP/b/img-0002.jpg"
then ok "same seed, identical bytes"; else fail "same seed gave different bytes"; fi
[ "$(sha256sum "$TMP"/a/*.jpg | cut -d' ' -f1 | sort -u | wc -l)" = 3 ] \
	&& ok "different indices, different bytes" || fail "indices collide"
expect_rc 0 "another seed" "$KNEECAP" payload --count 1 --seed 99 --out "$TMP/c" -q
cmp -s "$TMP/a/img-0000.jpg" "$TMP/c/img-0000.jpg" && fail "seed ignored" || ok "different seed, different bytes"

# Other shapes: grey progressive, 4:4:4 odd size.
expect_rc 0 "gray progressive 640x480" "$KNEECAP" payload --count 2 --out "$TMP/g" \
	--width 640 --height 480 --subsampling gray --progressive --quality 90
decode_all "$TMP/g" 640 480 L
"$PY" -c "import sys; from PIL import Image; sys.exit(0 if Image.open(sys.argv[1]).info.get('progressive') else 1)" \
	"$TMP/g/img-0001.jpg" && ok "progressive flag set" || fail "not progressive"
expect_rc 0 "444 333x257" "$KNEECAP" payload --count 2 --out "$TMP/o" --width=333 --height=257 --subsampling=444
decode_all "$TMP/o" 333 257

# Size targets.
for kb in 80 200 600; do
	expect_rc 0 "--size-kb $kb" "$KNEECAP" payload --count 3 --size-kb $kb --out "$TMP/s$kb" -q
	in_range "$TMP/s$kb" $kb
done
decode_all "$TMP/s600" 1024 1024

# Bad input: one line on stderr, exit 2, nothing written.
bad() { # desc, expected message pattern, args...
	local desc=$1 pat=$2; shift 2
	expect_rc 2 "$desc" "$KNEECAP" payload "$@"
	expect_grep "$pat" "$TMP/err" "$desc: says why"
	[ "$(wc -l <"$TMP/err")" = 1 ] && ok "$desc: one line" || fail "$desc: $(wc -l <"$TMP/err") lines"
}
bad "0x0" "width: '0' is out of range" --count 1 --out "$TMP/bad" --width 0 --height 0
bad "100000x100000" "width: '100000' is out of range" --count 1 --out "$TMP/bad" --width 100000 --height 100000
bad "16384x16384" "more than .* pixels" --count 1 --out "$TMP/bad" --width 16384 --height 16384
bad "no --out" "--count and --out are required" --count 2
bad "no --count" "--count and --out are required" --out "$TMP/bad"
bad "--count 0" "--count: '0'" --count 0 --out "$TMP/bad"
bad "--count 5000" "--count: '5000'" --count 5000 --out "$TMP/bad"
bad "--quality 101" "quality: '101' is out of range" --count 1 --quality 101 --out "$TMP/bad"
bad "--subsampling 411" "'411' is not 444, 422, 420 or gray" --count 1 --subsampling 411 --out "$TMP/bad"
bad "unknown flag" "unknown option '--colour'" --count 1 --colour red --out "$TMP/bad"
bad "missing value" "--width needs a value" --count 1 --out "$TMP/bad" --width
bad "size and detail" "exclude each other" --count 1 --size-kb 100 --detail 50 --out "$TMP/bad"
bad "unreachable size" "out of reach" --count 1 --size-kb 500 --width 64 --height 64 --out "$TMP/bad"
[ ! -e "$TMP/bad" ] && ok "bad input writes nothing" || fail "bad input created $TMP/bad"
touch "$TMP/file"
bad "--out is a file" "not a folder|cannot create" --count 1 --out "$TMP/file"

# Checking payloads from disk: reported when good, a one-line error naming
# the file when not, before any load could be sent.
expect_rc 0 "--payload-dir of generated files" "$KNEECAP" payload --payload-dir "$TMP/a"
expect_grep "^img-0001.jpg 1024x1024 [0-9]+ bytes image/jpeg sha256 [0-9a-f]{64}$" "$TMP/out" "size, dimensions, hash per file"
expect_grep "^3 payloads from .*: image/jpeg, mean [0-9]+ bytes" "$TMP/out" "folder summary"
want=$(sha256sum "$TMP/a/img-0001.jpg" | cut -d' ' -f1)
expect_grep "img-0001.jpg .* sha256 $want" "$TMP/out" "hash agrees with sha256sum"
mkdir -p "$TMP/d_empty" "$TMP/d_cut" "$TMP/d_png" "$TMP/d_link"
bad "empty folder" "d_empty: folder has no files" --payload-dir "$TMP/d_empty"
bad "missing folder" "nope: cannot open folder" --payload-dir "$TMP/nope"
cp "$TMP/a/img-0000.jpg" "$TMP/d_cut/"
head -c 100000 "$TMP/a/img-0001.jpg" >"$TMP/d_cut/cut.jpg"
bad "truncated JPEG" "cut.jpg: corrupt or truncated JPEG" --payload-dir "$TMP/d_cut"
"$PY" -c "from PIL import Image; Image.new('RGB', (64, 64), (9, 99, 199)).save('$TMP/d_png/photo.jpg', 'PNG')"
bad "PNG renamed .jpg" "photo.jpg: not a JPEG" --payload-dir "$TMP/d_png"
ln -s /nonexistent/kc.jpg "$TMP/d_link/gone.jpg"
bad "unreadable entry (dangling link)" "gone.jpg: cannot read" --payload-dir "$TMP/d_link"
if [ "$(id -u)" != 0 ]; then
	mkdir -p "$TMP/d_perm"; cp "$TMP/a/img-0000.jpg" "$TMP/d_perm/locked.jpg"; chmod 000 "$TMP/d_perm/locked.jpg"
	bad "unreadable file" "locked.jpg: cannot open" --payload-dir "$TMP/d_perm"
fi
printf '{"inputs": [1, 2, 3]}' >"$TMP/req.json"
expect_rc 0 "--body json" "$KNEECAP" payload --body "$TMP/req.json"
expect_grep "^req.json $(stat -c %s "$TMP/req.json") bytes application/json sha256 $(sha256sum "$TMP/req.json" | cut -d' ' -f1)$" "$TMP/out" "body: size, guessed type, hash"
expect_rc 0 "--body with --content-type" "$KNEECAP" payload --body "$TMP/req.json" --content-type text/plain
expect_grep "text/plain" "$TMP/out" "body: given type wins"
head -c $((6 * 1024 * 1024 + 1)) /dev/zero >"$TMP/big.bin"
bad "body over 6 MiB" "big.bin: 6291457 bytes is over the 6 MiB body limit" --body "$TMP/big.bin"
: >"$TMP/empty.json"
bad "empty body" "empty.json: file is empty" --body "$TMP/empty.json"
bad "check and write at once" "take no --count" --payload-dir "$TMP/a" --count 2

# The committed sample is what its README says.
readme="$KC_SRCDIR/payloads/README.md"
line=$(grep -m1 '^kneecap payload ' "$readme")
if [ -n "$line" ]; then
	args=${line#kneecap payload }
	args=${args/--out payloads\/jpeg-1024/--out $TMP/sample}
	# shellcheck disable=SC2086
	expect_rc 0 "README command runs" "$KNEECAP" payload $args -q
	if diff -r "$KC_SRCDIR/payloads/jpeg-1024" "$TMP/sample" >/dev/null
	then ok "README command reproduces payloads/jpeg-1024 byte for byte"
	else fail "payloads/jpeg-1024 differs from the README command's output"; fi
	decode_all "$KC_SRCDIR/payloads/jpeg-1024" 1024 1024
	total=$(cat "$KC_SRCDIR"/payloads/jpeg-1024/* | wc -c)
	[ "$total" -lt 2000000 ] && ok "sample is small ($total bytes)" || fail "sample is $total bytes"
else
	fail "no 'kneecap payload' line in $readme"
fi
done_testing
