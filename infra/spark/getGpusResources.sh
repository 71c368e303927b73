#!/usr/bin/env bash
# Spark's GPU discovery script (spark.{worker,executor,driver}.resource.gpu.discoveryScript):
# prints the GPUs nvidia-smi sees on this machine as Spark's resource JSON, e.g.
#   {"name": "gpu", "addresses": ["0","1"]}
# pip's pyspark does not ship Spark's example script, so brandlake ships its own (the Spark
# image carries it too). Exits non-zero, saying why, when there is no NVIDIA GPU.
set -euo pipefail
if ! command -v nvidia-smi >/dev/null 2>&1; then
  echo "getGpusResources.sh: nvidia-smi not found: no NVIDIA driver on this machine" >&2
  exit 1
fi
addresses=$(nvidia-smi --query-gpu=index --format=csv,noheader | tr -d ' ' | paste -sd, -)
if [ -z "$addresses" ]; then
  echo "getGpusResources.sh: nvidia-smi lists no GPU" >&2
  exit 1
fi
echo "{\"name\": \"gpu\", \"addresses\": [\"${addresses//,/\",\"}\"]}"
