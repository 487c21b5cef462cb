#!/bin/bash
# prefrank rerank as a Slurm job array: array task i is rank i of SLURM_ARRAY_TASK_COUNT.
#
# Storage assumed: a shared POSIX file system (NFS, Lustre, GPFS, BeeGFS) mounted at the same path
# on every node, holding the input and the output folder. prefrank writes every shard and
# completion record under a temporary name and renames it, which is atomic on these file systems.
#
# Submit, then merge once every task has finished:
#   jid=$(sbatch --parsable examples/slurm/rerank-array.sh /shared/in /shared/out)
#   sbatch --dependency=afterok:$jid --wrap "node dist/src/cli/main.js merge /shared/out"
#
# Rank and world size come from SLURM_ARRAY_TASK_ID and SLURM_ARRAY_TASK_COUNT, so the array must be
# numbered from 0 (--array=0-N). A throttle (--array=0-31%8) is fine.
#
# Resume: a task that fails (timeout, preemption, node failure) is resubmitted with the same command
# and index, e.g. `sbatch --array=5 examples/slurm/rerank-array.sh /shared/in /shared/out`; it skips
# the parts that have a completion record and redoes the rest. `prefrank merge` lists the missing
# parts with their rank when something is left. With --requeue, Slurm does this by itself.
#
#SBATCH --job-name=prefrank-rerank
#SBATCH --array=0-31
#SBATCH --cpus-per-task=8
#SBATCH --mem=8G
#SBATCH --time=04:00:00
#SBATCH --requeue
#SBATCH --output=logs/prefrank-%A_%a.log

set -euo pipefail
IN=${1:?usage: rerank-array.sh INPUT OUT}
OUT=${2:?usage: rerank-array.sh INPUT OUT}
cd "${PREFRANK_HOME:-$SLURM_SUBMIT_DIR}"

# One process per task, using all its CPUs for onnxruntime. Where one process cannot keep every
# core busy, add --workers K: the task runs K worker processes, each its own rank (r + i*n of n*K),
# so the array's parts are still each done exactly once, whatever K is.
exec node dist/src/cli/main.js rerank "$IN" --out "$OUT" \
  --threads "${SLURM_CPUS_PER_TASK:-1}" \
  --log-format json
