#!/usr/bin/env bash
# Starts N ranks of ./lstm on this machine under Open MPI's mpirun, with the flags one machine,
# root and containers need:
#   scripts/mpirun-local.sh N train --config medium --distributed [...]
#   scripts/mpirun-local.sh N bench --config medium --distributed --json
# --allow-run-as-root   mpirun refuses root otherwise (containers, CI)
# --oversubscribe       more ranks than the slots Open MPI counts
# --bind-to none        each rank runs its own threads (--threads), which core binding would squeeze onto one core
# btl_vader_single_copy_mechanism none   CMA (process_vm_readv) is refused in many containers
# odls_base_sigkill_timeout 120          mpirun kills ranks 1 s after forwarding a SIGTERM by default,
#                                        too soon for them to finish a window and save a checkpoint
# Across machines use your own hostfile and mpirun flags; every rank needs the data and, to resume,
# the checkpoint folder (a shared file system, or a copy).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
n="${1:?usage: scripts/mpirun-local.sh N lstm-arguments...}"
shift
"$here/lstm" --version >/dev/null # builds the jar once, before the ranks start
exec mpirun -np "$n" --allow-run-as-root --oversubscribe --bind-to none \
  --mca btl_vader_single_copy_mechanism none --mca odls_base_sigkill_timeout 120 \
  "$here/lstm" "$@"
