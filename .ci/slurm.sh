#!/usr/bin/env bash
# A single-node SLURM cluster on this machine, for the tests marked `slurm` (tests/test_slurm.py):
# installs munge and SLURM (Debian packages), writes a munge key and a slurm.conf naming this
# host with all its CPUs, starts munged, slurmctld and slurmd, and returns once `sinfo` shows
# the node idle. Run it as root on Debian/Ubuntu; a second run while the cluster is up returns
# at once. Jobs take one CPU per task and nothing more: two 2-task jobs on a 2-CPU machine run
# one after the other. Jobs may be requeued (JobRequeue=1). Nothing is started unless asked.
#   .ci/slurm.sh          start (or check) the cluster
#   .ci/slurm.sh stop     stop the three daemons (the packages and configuration stay)
set -euo pipefail

HOST="$(hostname -s)"
CONF=/etc/slurm/slurm.conf
PIDS=(/run/slurmd.pid /run/slurmctld.pid /run/munge/munged.pid)  # slurmd first: it needs the others

fail() { echo "slurm.sh: $*" >&2; exit 2; }

node_state() { sinfo -h -n "$HOST" -o %T 2>/dev/null | head -n 1; }

running() { [[ -s "$1" ]] && kill -0 "$(cat "$1")" 2>/dev/null; }

install_packages() {
    command -v apt-get >/dev/null || fail "no apt-get here: install munge, slurmctld, slurmd and slurm-client yourself"
    echo "slurm.sh: installing munge and SLURM (apt-get)"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
        munge slurmctld slurmd slurm-client >/dev/null
}

start_munge() {
    if [[ ! -s /etc/munge/munge.key ]]; then
        mungekey --create --keyfile=/etc/munge/munge.key
    fi
    chown munge:munge /etc/munge/munge.key && chmod 400 /etc/munge/munge.key
    install -d -o munge -g munge -m 0755 /run/munge
    install -d -o munge -g munge -m 0700 /var/lib/munge /var/log/munge
    running /run/munge/munged.pid || runuser -u munge -- /usr/sbin/munged
    munge -n | unmunge >/dev/null || fail "munge does not answer: see /var/log/munge/munged.log"
}

# The node as SLURM sees it: every CPU, 90 % of the memory; one CPU per task (CR_CPU), memory
# not a consumable (a job asks for it only where it gives --mem), so jobs queue on CPUs alone.
write_config() {
    local cpus memory_mb
    cpus="$(nproc)"
    memory_mb="$(awk '/^MemTotal:/ {printf "%d", $2 / 1024 * 0.9}' /proc/meminfo)"
    install -d /etc/slurm /var/spool/slurmctld /var/spool/slurmd /var/log/slurm
    cat >"$CONF.new" <<EOF
# written by jointsr's .ci/slurm.sh: one node, this host
ClusterName=jointsr-ci
SlurmctldHost=$HOST
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
StateSaveLocation=/var/spool/slurmctld
SlurmdSpoolDir=/var/spool/slurmd
SlurmctldPidFile=/run/slurmctld.pid
SlurmdPidFile=/run/slurmd.pid
SlurmctldLogFile=/var/log/slurm/slurmctld.log
SlurmdLogFile=/var/log/slurm/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
MpiDefault=none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
JobRequeue=1
ReturnToService=2
KillWait=10
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
NodeName=$HOST NodeAddr=$HOST CPUs=$cpus RealMemory=$memory_mb State=UNKNOWN
PartitionName=ci Nodes=$HOST Default=YES MaxTime=INFINITE OverSubscribe=NO State=UP
EOF
    if cmp -s "$CONF.new" "$CONF"; then
        rm "$CONF.new"
        return 1
    fi
    mv "$CONF.new" "$CONF"
}

start_slurm() {
    local changed=0
    write_config && changed=1
    if ((changed)); then  # a new configuration: the daemons start again with it
        stop_pid /run/slurmd.pid
        stop_pid /run/slurmctld.pid
    fi
    running /run/slurmctld.pid || slurmctld
    running /run/slurmd.pid || slurmd
    wait_idle
}

wait_idle() {
    local state
    for _ in $(seq 60); do
        state="$(node_state)"
        case "$state" in
            idle) sinfo; return 0 ;;
            down*|drain*) scontrol update NodeName="$HOST" State=RESUME || true ;;
        esac
        sleep 1
    done
    fail "node $HOST is '${state:-not known}' after 60 s: see /var/log/slurm/slurmctld.log and slurmd.log"
}

stop_pid() {
    local pid
    running "$1" || return 0
    pid="$(cat "$1")"
    kill "$pid"
    while kill -0 "$pid" 2>/dev/null; do sleep 0.2; done
}

main() {
    [[ "$(id -u)" == 0 ]] || fail "run it as root (it installs packages and starts daemons)"
    if [[ "${1:-start}" == stop ]]; then
        for pidfile in "${PIDS[@]}"; do stop_pid "$pidfile"; done
        echo "slurm.sh: stopped"
        return 0
    fi
    [[ "${1:-start}" == start ]] || fail "unknown argument '$1': use start (the default) or stop"
    if [[ "$(node_state)" =~ ^(idle|mixed|allocated)$ ]]; then
        echo "slurm.sh: already up ($HOST $(node_state))"
        return 0
    fi
    command -v slurmctld >/dev/null && command -v slurmd >/dev/null && command -v srun >/dev/null \
        && command -v munged >/dev/null || install_packages
    start_munge
    start_slurm
}

main "$@"
