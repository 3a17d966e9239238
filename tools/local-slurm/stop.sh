#!/usr/bin/env bash
# Stop the cluster started by start.sh: cancel jobs, then end exactly the recorded PIDs.
set -u
SLURM_BASE=${SLURM_BASE:-/tmp/glioma-slurm}
SLURM_PIDFILE=${SLURM_PIDFILE:-$SLURM_BASE/pids}
[ -f "$SLURM_PIDFILE" ] || { echo "[local-slurm] nothing to stop"; exit 0; }
if command -v scancel >/dev/null; then
  timeout 10 scancel -u "$(id -un)" >/dev/null 2>&1 || true
  for _ in $(seq 20); do timeout 5 squeue -h -t PD,R,CG 2>/dev/null | grep -q . || break; sleep 0.5; done
fi
pids=$(tac "$SLURM_PIDFILE")
for pid in $pids; do kill -TERM "$pid" 2>/dev/null || true; done
for pid in $pids; do
  for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
  kill -0 "$pid" 2>/dev/null && kill -KILL "$pid" 2>/dev/null
done
rm -f "$SLURM_PIDFILE"
[ "${SLURM_KEEP_STATE:-0}" = 1 ] || rm -rf "$SLURM_BASE"/state "$SLURM_BASE"/spool
echo "[local-slurm] stopped"
