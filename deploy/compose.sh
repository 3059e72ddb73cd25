# shellcheck shell=bash
# Sourced by deploy/backup.sh and deploy/restore.sh: how they reach the stack.
#   HBI_ENV_FILE        the stack's env file (default: deploy/.env)
#   HBI_COMPOSE_FILES   the compose files, `:`-separated, absolute or relative to deploy/
#                       (default: docker-compose.yml; deploy/e2e.sh adds docker-compose.local.yml)

deploy_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
env_file="${HBI_ENV_FILE:-$deploy_dir/.env}"
[ -f "$env_file" ] || { echo "no $env_file; copy deploy/.env.example there and fill it in" >&2; exit 1; }

# The volumes that hold state, by the fixed names docker-compose.yml gives them. Neo4j's logs
# (hbi_neo4j_logs) are not state and are left out.
# shellcheck disable=SC2034  # used by the scripts that source this file
STATE_VOLUMES=(hbi_postgres_data hbi_minio_data hbi_neo4j_data hbi_data hbi_dagster_storage)

compose_files=()
IFS=: read -r -a compose_names <<< "${HBI_COMPOSE_FILES:-docker-compose.yml}"
for name in "${compose_names[@]}"; do
  case "$name" in /*) compose_files+=(-f "$name") ;; *) compose_files+=(-f "$deploy_dir/$name") ;; esac
done

compose() {
  if docker compose version >/dev/null 2>&1; then
    docker compose --env-file "$env_file" "${compose_files[@]}" "$@"
  else
    docker-compose --env-file "$env_file" "${compose_files[@]}" "$@"
  fi
}

# The HBI image archives and unpacks the volumes (it has tar), so nothing else is pulled.
hbi_image() {
  local image
  image="$(sed -n 's/^HBI_IMAGE=//p' "$env_file" | tail -n 1)"
  echo "${image:-hbi:0.1.0}"
}

# Runs launched by the daemon are containers outside Compose, labelled by deploy/dagster.yaml.
running_runs() {
  docker ps -q --filter label=org.hbi.role=run-worker | wc -l | tr -d ' '
}

# Stops the daemon (no new runs start; queued ones stay queued) and waits for running runs.
drain_runs() {
  local waited=0 limit="${HBI_DRAIN_TIMEOUT:-3600}"
  compose stop dagster-daemon
  while [ "$(running_runs)" -gt 0 ]; do
    if [ "$waited" -ge "$limit" ]; then
      echo "runs still running after ${limit}s; terminate them in the Dagster UI, or raise HBI_DRAIN_TIMEOUT" >&2
      compose start dagster-daemon
      exit 1
    fi
    echo "waiting for $(running_runs) run(s) to finish..."
    sleep 10
    waited=$((waited + 10))
  done
}
