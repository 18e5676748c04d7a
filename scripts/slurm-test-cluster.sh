#!/usr/bin/env bash
# A single-node Slurm cluster for tests and demos, on this machine, as root.
#
#   scripts/slurm-test-cluster.sh start   # prints `export SLURM_CONF=...` for the client commands
#   scripts/slurm-test-cluster.sh stop
#   scripts/slurm-test-cluster.sh status
#
# Needs Debian's slurmctld, slurmd, slurm-client and munge packages. Everything it
# writes is under $LABTASKER_SLURM_DIR (default /tmp/labtasker-slurm); the
# system's /etc/slurm is left alone (the commands find our config by SLURM_CONF).
# The node gets $LABTASKER_SLURM_GPUS fake GPUs (default 2): character devices
# that are /dev/null underneath, enough for Slurm's GRES to hand them out and
# set CUDA_VISIBLE_DEVICES.
set -euo pipefail

DIR="${LABTASKER_SLURM_DIR:-/tmp/labtasker-slurm}"
GPUS="${LABTASKER_SLURM_GPUS:-2}"
CPUS="${LABTASKER_SLURM_CPUS:-8}"  # more slots than cores: test workers mostly sleep
KILL_WAIT="${LABTASKER_SLURM_KILL_WAIT:-5}"
CTLD_PORT="${LABTASKER_SLURM_PORT:-6817}"
export SLURM_CONF="$DIR/slurm.conf"

die() {
    echo "slurm-test-cluster: $*" >&2
    exit 1
}

need() {
    for program in slurmctld slurmd sinfo munged; do
        command -v "$program" >/dev/null 2>&1 || [ -x "/usr/sbin/$program" ] ||
            die "$program not found; install Debian's slurmctld slurmd slurm-client munge"
    done
    [ "$(id -u)" = 0 ] || die "must run as root (slurmd runs jobs as their users)"
}

start_munge() {
    # One munged serves every cluster on the machine; start it only when none answers.
    if munge -n </dev/null 2>/dev/null | unmunge >/dev/null 2>&1; then
        return
    fi
    [ -s /etc/munge/munge.key ] || {
        dd if=/dev/urandom bs=1 count=1024 of=/etc/munge/munge.key 2>/dev/null
        chown munge:munge /etc/munge/munge.key
        chmod 400 /etc/munge/munge.key
    }
    mkdir -p /run/munge /var/log/munge /var/lib/munge
    chown munge:munge /run/munge /var/log/munge /var/lib/munge
    chmod 755 /run/munge
    runuser -u munge -- /usr/sbin/munged --force
    for _ in $(seq 50); do
        munge -n </dev/null 2>/dev/null | unmunge >/dev/null 2>&1 && return
        sleep 0.1
    done
    die "munged did not start"
}

write_config() {
    local host node_line gres=""
    host="$(hostname -s)"
    # The node as slurmd sees it, with more CPUs than cores (config_overrides lets that pass).
    node_line="$(/usr/sbin/slurmd -C | head -1 | sed -E \
        -e "s/CPUs=[0-9]+/CPUs=$CPUS/" \
        -e 's/ (Boards|SocketsPerBoard|CoresPerSocket|ThreadsPerCore)=[0-9]+//g')"
    mkdir -p "$DIR/state" "$DIR/spool" "$DIR/log"
    if [ "$GPUS" -gt 0 ]; then
        for i in $(seq 0 $((GPUS - 1))); do
            [ -e "/dev/fakegpu$i" ] || mknod "/dev/fakegpu$i" c 1 3
        done
        gres=" Gres=gpu:$GPUS"
        echo "Name=gpu File=/dev/fakegpu[0-$((GPUS - 1))]" >"$DIR/gres.conf"
    else
        : >"$DIR/gres.conf"
    fi
    cat >"$SLURM_CONF" <<EOF
ClusterName=labtasker-test
SlurmctldHost=$host(127.0.0.1)
SlurmUser=root
SlurmdUser=root
SlurmctldPort=$CTLD_PORT
SlurmdPort=$((CTLD_PORT + 1))
AuthType=auth/munge
StateSaveLocation=$DIR/state
SlurmdSpoolDir=$DIR/spool
SlurmctldPidFile=$DIR/slurmctld.pid
SlurmdPidFile=$DIR/slurmd.pid
SlurmctldLogFile=$DIR/log/slurmctld.log
SlurmdLogFile=$DIR/log/slurmd.log
SlurmdParameters=config_overrides
# pgid, not linuxproc (which leaves orphans); no cgroups needed in a container.
ProctrackType=proctrack/pgid
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
SchedulerType=sched/builtin
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
ReturnToService=2
KillWait=$KILL_WAIT
MinJobAge=300
InactiveLimit=0
MessageTimeout=10
GresTypes=gpu
NodeName=${node_line#NodeName=}$gres State=UNKNOWN NodeAddr=127.0.0.1
PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP
EOF
}

wait_ready() {
    for _ in $(seq 100); do
        if sinfo -h -o '%T' 2>/dev/null | grep -qE '^(idle|mixed|allocated)'; then
            return
        fi
        sleep 0.1
    done
    tail -20 "$DIR/log/slurmctld.log" "$DIR/log/slurmd.log" >&2 || true
    die "the node did not come up (logs above, in $DIR/log)"
}

start() {
    need
    if status >/dev/null 2>&1; then
        echo "export SLURM_CONF=$SLURM_CONF"
        return
    fi
    stop >/dev/null 2>&1 || true
    start_munge
    write_config
    /usr/sbin/slurmctld -c -i
    /usr/sbin/slurmd -c
    wait_ready
    echo "export SLURM_CONF=$SLURM_CONF"
}

stop() {
    local pidfile pid
    # Jobs first (their slurmstepd would outlive slurmd), but never wait on a controller that is down.
    if [ -f "$DIR/slurmctld.pid" ] && kill -0 "$(cat "$DIR/slurmctld.pid")" 2>/dev/null; then
        timeout 5 scancel --full --quiet -u "$(id -un)" 2>/dev/null || true
        for _ in $(seq 30); do
            [ -z "$(timeout 2 squeue -h -t running,completing -o %i 2>/dev/null)" ] && break
            sleep 0.2
        done
    fi
    for pidfile in "$DIR/slurmd.pid" "$DIR/slurmctld.pid"; do
        [ -f "$pidfile" ] || continue
        pid="$(cat "$pidfile")"
        kill "$pid" 2>/dev/null || true
        for _ in $(seq 50); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.1
        done
        kill -9 "$pid" 2>/dev/null || true
        rm -f "$pidfile"
    done
}

status() {
    [ -f "$SLURM_CONF" ] || return 1
    for pidfile in "$DIR/slurmd.pid" "$DIR/slurmctld.pid"; do
        [ -f "$pidfile" ] && kill -0 "$(cat "$pidfile")" 2>/dev/null || return 1
    done
    sinfo -h -o '%N %T %G'
}

case "${1:-}" in
start) start ;;
stop) stop ;;
status) status ;;
*) die "usage: $0 start|stop|status" ;;
esac
