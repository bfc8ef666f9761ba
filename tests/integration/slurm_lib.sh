# slurm_lib.sh - a one-node Slurm cluster for one test (sourced after lib.sh):
# munged with its own key and socket, slurmctld and slurmd as root without
# cgroups (proctrack/linuxproc, task/none), every file under $SLURM_DIR,
# ports picked free.  slurm_start returns 0 when `sinfo` sees the node idle,
# else 1 with SLURM_WHY set; slurm_stop ends the three daemons by their pids.
SLURM_PIDS=""
SLURM_WHY=""

# free_port: a TCP port nobody listens on now.
free_port() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

slurm_start() {
	SLURM_DIR="$TMP/slurm"
	mkdir -p "$SLURM_DIR"/{state,spool,log,run,munge}
	chmod 700 "$SLURM_DIR/munge"
	local m
	for m in munged slurmctld slurmd srun sinfo; do
		command -v "$m" >/dev/null 2>&1 || [ -x "/usr/sbin/$m" ] ||
			{ SLURM_WHY="$m is not installed (scripts/setup --test)"; return 1; }
	done
	if [ "$(id -u)" != 0 ]; then
		SLURM_WHY="slurmd needs root here (SlurmdUser=root, no cgroups)"; return 1
	fi
	dd if=/dev/urandom of="$SLURM_DIR/munge/munge.key" bs=1024 count=1 2>/dev/null
	chmod 400 "$SLURM_DIR/munge/munge.key"
	local sock="$SLURM_DIR/munge/munge.socket"
	/usr/sbin/munged --force --key-file="$SLURM_DIR/munge/munge.key" --socket="$sock" \
		--pid-file="$SLURM_DIR/munge/munged.pid" --log-file="$SLURM_DIR/log/munged.log" \
		--seed-file="$SLURM_DIR/munge/munge.seed" 2>"$SLURM_DIR/log/munged.err" ||
		{ SLURM_WHY="munged did not start: $(head -c 300 "$SLURM_DIR/log/munged.err")"; return 1; }
	SLURM_PIDS="$(cat "$SLURM_DIR/munge/munged.pid" 2>/dev/null)"
	local host ctl_port d_port
	host=$(hostname -s)
	ctl_port=$(free_port); d_port=$(free_port)
	cat >"$SLURM_DIR/slurm.conf" <<CONF
ClusterName=kctest
SlurmctldHost=$host
SlurmctldPort=$ctl_port
SlurmdPort=$d_port
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$sock
SlurmUser=root
SlurmdUser=root
StateSaveLocation=$SLURM_DIR/state
SlurmdSpoolDir=$SLURM_DIR/spool
SlurmctldPidFile=$SLURM_DIR/run/slurmctld.pid
SlurmdPidFile=$SLURM_DIR/run/slurmd.pid
SlurmctldLogFile=$SLURM_DIR/log/slurmctld.log
SlurmdLogFile=$SLURM_DIR/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
MpiDefault=none
SchedulerType=sched/builtin
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
ReturnToService=2
SlurmctldTimeout=30
SlurmdTimeout=30
NodeName=$host CPUs=2 State=UNKNOWN
PartitionName=test Nodes=$host Default=YES MaxTime=10 State=UP OverSubscribe=FORCE:8
CONF
	export SLURM_CONF="$SLURM_DIR/slurm.conf"
	/usr/sbin/slurmctld -i -f "$SLURM_CONF" 2>"$SLURM_DIR/log/slurmctld.err" ||
		{ SLURM_WHY="slurmctld did not start: $(tail -c 300 "$SLURM_DIR/log/slurmctld.log" 2>/dev/null)"; return 1; }
	/usr/sbin/slurmd -f "$SLURM_CONF" 2>"$SLURM_DIR/log/slurmd.err" ||
		{ SLURM_WHY="slurmd did not start: $(tail -c 300 "$SLURM_DIR/log/slurmd.log" 2>/dev/null)"; return 1; }
	local _
	for _ in $(seq 100); do
		[ -s "$SLURM_DIR/run/slurmctld.pid" ] && [ -s "$SLURM_DIR/run/slurmd.pid" ] && break
		sleep 0.1
	done
	SLURM_PIDS="$SLURM_PIDS $(cat "$SLURM_DIR/run/slurmctld.pid" 2>/dev/null) $(cat "$SLURM_DIR/run/slurmd.pid" 2>/dev/null)"
	for _ in $(seq 150); do
		if sinfo -h -o '%t' 2>/dev/null | grep -q '^idle'; then return 0; fi
		sleep 0.1
	done
	SLURM_WHY="the node never became idle: $(sinfo -h -o '%t %E' 2>&1 | head -1); slurmd: $(tail -n 3 "$SLURM_DIR/log/slurmd.log" 2>/dev/null | tr '\n' ' ')"
	return 1
}

slurm_stop() {
	local p
	for p in $SLURM_PIDS; do kill -TERM "$p" 2>/dev/null; done
	for _ in $(seq 50); do
		local alive=0
		for p in $SLURM_PIDS; do kill -0 "$p" 2>/dev/null && alive=1; done
		[ "$alive" = 0 ] && break
		sleep 0.1
	done
	for p in $SLURM_PIDS; do kill -KILL "$p" 2>/dev/null; done
	SLURM_PIDS=""
}
