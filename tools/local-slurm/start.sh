#!/usr/bin/env bash
# Start a throwaway single-node SLURM cluster on localhost for the project's tests.
# Debian 12, run as root, no systemd or cgroups needed. Installs slurmctld, slurmd, slurm-client
# and munge with apt if missing; starts munged, slurmctld and slurmd in the background and records
# their PIDs in $SLURM_PIDFILE so that stop.sh ends exactly those processes.
# No accounting (slurmdbd): profiles must use `slurm-status-command: squeue`.
#   SLURM_PIDFILE (default /tmp/glioma-slurm/pids)   SLURM_BASE (default /tmp/glioma-slurm)
#   MIN_JOB_AGE   seconds finished jobs stay in squeue (>= 3 x the plugin's initial wait; default 300)
set -euo pipefail
SLURM_BASE=${SLURM_BASE:-/tmp/glioma-slurm}
SLURM_PIDFILE=${SLURM_PIDFILE:-$SLURM_BASE/pids}
MIN_JOB_AGE=${MIN_JOB_AGE:-300}
say() { echo "[local-slurm] $*"; }

need=""
for p in slurmctld slurmd slurm-client munge; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || need="$need $p"
done
if [ -n "$need" ]; then
  say "apt-get install$need"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends $need >/dev/null
fi

if [ -s "$SLURM_PIDFILE" ]; then
  for pid in $(cat "$SLURM_PIDFILE"); do
    if kill -0 "$pid" 2>/dev/null; then say "already running (PID $pid); run stop.sh first" >&2; exit 1; fi
  done
fi
mkdir -p "$SLURM_BASE"/{state,spool,log} /etc/slurm
: > "$SLURM_PIDFILE"
# the node as slurmd sees it (not `nproc`, which follows OMP_NUM_THREADS: a node configured
# with fewer CPUs than it has runs fewer jobs, and the 2-task test job never starts)
NODE_CPUS=${NODE_CPUS:-$(slurmd -C | sed -n 's/.*CPUs=\([0-9]*\).*/\1/p')}
NODE_MEM_MB=${NODE_MEM_MB:-$(( $(slurmd -C | sed -n 's/.*RealMemory=\([0-9]*\).*/\1/p') * 9 / 10 ))}

# munge: key, runtime dirs, daemon in the foreground as user munge (setpriv execs, so $! is munged)
if [ ! -s /etc/munge/munge.key ]; then
  mkdir -p /etc/munge
  dd if=/dev/urandom of=/etc/munge/munge.key bs=1024 count=1 status=none
fi
mkdir -p /run/munge /var/log/munge /var/lib/munge
chown munge:munge /etc/munge /etc/munge/munge.key /run/munge /var/log/munge /var/lib/munge
chmod 700 /etc/munge; chmod 400 /etc/munge/munge.key; chmod 755 /run/munge
setpriv --reuid=munge --regid=munge --init-groups /usr/sbin/munged -F >"$SLURM_BASE/log/munged.out" 2>&1 &
echo $! >> "$SLURM_PIDFILE"
for _ in $(seq 100); do munge -n </dev/null 2>/dev/null | unmunge >/dev/null 2>&1 && break; sleep 0.1; done
munge -n </dev/null | unmunge >/dev/null || { say "munged failed" >&2; cat "$SLURM_BASE/log/munged.out" >&2; exit 1; }

cat > /etc/slurm/slurm.conf <<CONF
ClusterName=glioma-local
SlurmctldHost=localhost
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
MpiDefault=none
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SwitchType=switch/none
JobCompType=jobcomp/none
MailProg=/bin/true
AccountingStorageType=accounting_storage/none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
DefMemPerCPU=256
ReturnToService=2
MinJobAge=${MIN_JOB_AGE}
StateSaveLocation=${SLURM_BASE}/state
SlurmdSpoolDir=${SLURM_BASE}/spool
SlurmctldPidFile=${SLURM_BASE}/slurmctld.pid
SlurmdPidFile=${SLURM_BASE}/slurmd.pid
SlurmctldLogFile=${SLURM_BASE}/log/slurmctld.log
SlurmdLogFile=${SLURM_BASE}/log/slurmd.log
NodeName=localhost NodeAddr=127.0.0.1 CPUs=${NODE_CPUS} RealMemory=${NODE_MEM_MB} State=UNKNOWN
PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP
CONF

/usr/sbin/slurmctld -D -i >"$SLURM_BASE/log/slurmctld.out" 2>&1 &
echo $! >> "$SLURM_PIDFILE"
/usr/sbin/slurmd -D -N localhost >"$SLURM_BASE/log/slurmd.out" 2>&1 &
echo $! >> "$SLURM_PIDFILE"
state=""
for _ in $(seq 120); do
  state=$(sinfo -h -N -o %T 2>/dev/null | head -1 || true)
  [ "$state" = "idle" ] && break
  sleep 0.25
done
if [ "$state" != "idle" ]; then
  say "node did not become idle (state '$state')" >&2; tail -n 30 "$SLURM_BASE"/log/* >&2 || true; exit 1
fi
say "up: $(paste -sd' ' "$SLURM_PIDFILE")"
