#!/usr/bin/env bash
# System packages the tests start for real: slurm + munge (a single-node cluster), bubblewrap (the sandbox),
# chromium (the eval report is opened in headless Chromium through playwright; never `playwright install`).
# Installs only what is missing, so a warm machine spends no time here. CI runs as root.
set -euo pipefail
need=()
command -v slurmctld >/dev/null || need+=(slurm-wlm)
command -v munged >/dev/null || need+=(munge)
command -v bwrap >/dev/null || need+=(bubblewrap)
[ -x /usr/bin/chromium ] || need+=(chromium)
if ((${#need[@]})); then
  echo "installing: ${need[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq "${need[@]}" >/dev/null
fi
