#!/usr/bin/env bash
# test_cli.sh - the command-line contract: help, version, dispatch, exit codes.
. "$(dirname "$0")/lib.sh"

expect_rc 0 "--help exits 0" "$KNEECAP" --help
expect_grep '^usage: kneecap COMMAND' "$TMP/out" "--help prints usage on stdout"
expect_rc 0 "--version exits 0" "$KNEECAP" --version
expect_grep '^kneecap [0-9]+\.[0-9]+\.[0-9]+$' "$TMP/out" "--version prints the version"
expect_rc 2 "no command is a usage error" "$KNEECAP"
expect_rc 2 "unknown command is a usage error" "$KNEECAP" frobnicate
expect_grep "unknown command 'frobnicate'" "$TMP/err" "unknown command is named"
for c in find run streams plan report serve payload; do
	expect_rc 0 "$c --help exits 0" "$KNEECAP" "$c" --help
	expect_grep "^usage: kneecap $c" "$TMP/out" "$c --help prints its usage"
done
done_testing
