#!/bin/bash
# Writes neo4j.conf from NEO4J_<setting> variables as the official image does (`_` is `.`, `__`
# is `_`), sets the initial password from NEO4J_AUTH=neo4j/<password> before the first start (or
# turns authentication off for NEO4J_AUTH=none), then runs the server in the foreground.
set -euo pipefail
conf="$NEO4J_CONF/neo4j.conf"
java_flags=(--add-opens=java.base/java.nio=ALL-UNNAMED --add-opens=java.base/java.lang=ALL-UNNAMED
  --add-opens=java.base/sun.nio.ch=ALL-UNNAMED -cp "$NEO4J_HOME/lib/*")

{
  echo "server.default_listen_address=0.0.0.0"
  echo "server.directories.data=/data"
  echo "server.directories.logs=/logs"
  echo "server.directories.run=$NEO4J_HOME/run"
  echo "server.directories.import=$NEO4J_HOME/import"
  echo "dbms.usage_report.enabled=false"
  while IFS='=' read -r name value; do
    case "$name" in NEO4J_AUTH|NEO4J_HOME|NEO4J_CONF) continue ;; esac
    key="${name#NEO4J_}"; key="${key//__/@}"; key="${key//_/.}"; key="${key//@/_}"
    echo "$key=$value"
  done < <(env | grep '^NEO4J_')
  [ "${NEO4J_AUTH:-}" = "none" ] && echo "dbms.security.auth_enabled=false"
} > "$conf"

if [ "${NEO4J_AUTH:-none}" != "none" ] && [ ! -e /data/dbms/auth.ini ] && [ ! -e /data/databases ]; then
  [ "${NEO4J_AUTH%%/*}" = "neo4j" ] || { echo "NEO4J_AUTH must be neo4j/<password> or none" >&2; exit 1; }
  # Through picocli's @file, so the password never shows on a command line.
  arguments="$(mktemp)"
  password="${NEO4J_AUTH#neo4j/}"; password="${password//\\/\\\\}"; password="${password//\"/\\\"}"
  printf '"%s"\n' "$password" > "$arguments"
  java "${java_flags[@]}" org.neo4j.cli.AdminTool dbms set-initial-password "@$arguments" >/dev/null
  rm -f "$arguments"
fi

# Run in-process, Neo4j's heap settings do not size the JVM; the same values become -Xms/-Xmx.
setting() { sed -n "s/^$1=//p" "$conf" | tail -n 1; }
heap=()
[ -n "$(setting server.memory.heap.initial_size)" ] && heap+=("-Xms$(setting server.memory.heap.initial_size)")
[ -n "$(setting server.memory.heap.max_size)" ] && heap+=("-Xmx$(setting server.memory.heap.max_size)")
exec java "${heap[@]}" "${java_flags[@]}" org.neo4j.server.CommunityEntryPoint \
  --home-dir="$NEO4J_HOME" --config-dir="$NEO4J_CONF"
