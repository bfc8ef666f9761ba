# aws_validate.sh - sourced by the integration scripts: runs an apply.sh with
# every `aws` call sent through the Debian AWS CLI's own parameter
# validation towards an unreachable endpoint (127.0.0.1:9), fake
# credentials, no config files, no retries.  A put-scaling-policy asked for
# its PolicyARN (--query PolicyARN) prints a placeholder ARN.  "Could not connect" from a
# call means its parameters were valid; "Parameter validation failed", a
# usage error or any other answer fails the check.
AWS_CLI=${AWS_CLI:-/usr/bin/aws}

# aws_validate SCRIPT WANT_CALLS: 0 when the script made WANT_CALLS aws calls
# and each one got as far as connecting; prints one line per call.
aws_validate() {
	local script=$1 want=$2 dir
	dir=$(mktemp -d "$TMP/awsv.XXXXXX")
	mkdir -p "$dir/bin"
	# AWS_VALIDATE_MODELS: service models newer than the CLI's own (what
	# `aws configure add-model` installs), read from ~/.aws/models.
	if [ -n "${AWS_VALIDATE_MODELS:-}" ]; then
		mkdir -p "$dir/.aws" && cp -r "$AWS_VALIDATE_MODELS" "$dir/.aws/models"
	fi
	cat >"$dir/bin/aws" <<EOS
#!/bin/sh
out=\$("$AWS_CLI" "\$@" --endpoint-url http://127.0.0.1:9 --cli-connect-timeout 2 2>&1)
printf '%s\n' "\$out" | tr '\n' ' ' >>"$dir/log"
printf '\t%s\n' "\$2" >>"$dir/log"
# A call whose output the script captures (put-scaling-policy --query
# PolicyARN) gets a placeholder ARN, as AWS would answer.
case " \$* " in *" PolicyARN "*)
	echo 'arn:aws:autoscaling:us-east-1:000000000000:scalingPolicy:00000000-0000-0000-0000-000000000000:resource/sagemaker/inference-component/x:policyName/p' ;;
esac
exit 0
EOS
	chmod +x "$dir/bin/aws"
	(cd "$(dirname "$script")" &&
	 timeout 120 env -i PATH="$dir/bin:/usr/bin:/bin" HOME="$dir" AWS_ACCESS_KEY_ID=AKIDEXAMPLE \
		AWS_SECRET_ACCESS_KEY=not-a-secret AWS_DEFAULT_REGION=us-east-1 \
		AWS_EC2_METADATA_DISABLED=true AWS_MAX_ATTEMPTS=1 AWS_CONFIG_FILE=/dev/null \
		AWS_SHARED_CREDENTIALS_FILE=/dev/null sh "$script") >"$dir/out" 2>&1
	local rc=$? calls good
	calls=$(wc -l <"$dir/log" 2>/dev/null || echo 0)
	good=$(grep -c 'Could not connect to the endpoint URL' "$dir/log" 2>/dev/null || echo 0)
	sed 's/^/    # /' "$dir/log" 2>/dev/null | cut -c1-200
	[ "$rc" = 0 ] && [ "$calls" = "$want" ] && [ "$good" = "$want" ] &&
		! grep -qE 'Parameter validation failed|usage:|Unknown options|Invalid' "$dir/log"
}
