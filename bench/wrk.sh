#!/usr/bin/env bash
# Whole-server throughput with wrk, as ratios to a trivial net/http handler
# measured in the same run. Run by hand on a quiet machine:
#   bash bench/wrk.sh            (DURATION=10s CONNS=32 by default)
# Needs wrk, redis-server, PostgreSQL on 127.0.0.1:5432 (trust) and nginx.
set -euo pipefail
cd "$(dirname "$0")/.."
D=${DURATION:-10s}; C=${CONNS:-32}; T=${THREADS:-2}
W=$(mktemp -d); trap 'kill $(jobs -p) 2>/dev/null; sleep 0.5; rm -rf "$W"' EXIT
go build -o "$W/sessiond" ./cmd/sessiond
go build -o "$W/trivial" ./bench/trivial

rps() { awk '/Requests\/sec/{print $2}'; }
p99() { awk '/ 99%/{print $2}'; }
bench() { # name url [wrk args...]
  local name=$1 url=$2; shift 2
  local out; out=$(wrk -t"$T" -c"$C" -d"$D" --latency "$@" "$url")
  local r p; r=$(echo "$out" | rps); p=$(echo "$out" | p99)
  if echo "$out" | grep -q "Non-2xx"; then echo "WARNING: $name had non-2xx answers: $(echo "$out" | grep Non-2xx)" >&2; fi
  printf '%s\t%s\t%s\n' "$name" "$r" "$p"
}
wait_http() { for _ in $(seq 100); do curl -fs "$1" >/dev/null 2>&1 && return; sleep 0.1; done; echo "no answer from $1" >&2; exit 1; }

"$W/trivial" -addr 127.0.0.1:18090 & wait_http http://127.0.0.1:18090/
"$W/sessiond" serve --dev --data "$W/data" --addr 127.0.0.1:18091 >"$W/dev.out" 2>/dev/null &
wait_http http://127.0.0.1:18091/healthz
PW=$(sed -n 's/.*one-time password: //p' "$W/dev.out")
curl -fs -c "$W/jar" -H 'Content-Type: application/json' -d "{\"email\":\"demo@example.com\",\"password\":\"$PW\"}" http://127.0.0.1:18091/v1/login >/dev/null
COOKIE="sessiond=$(awk '$6=="sessiond"{print $7}' "$W/jar")"
TOK=$(curl -fs -d grant_type=password -d username=demo@example.com -d "password=$PW" http://127.0.0.1:18091/v1/token)
AT=$(echo "$TOK" | sed 's/.*"access_token":"\([^"]*\)".*/\1/')
for i in $(seq 1 "$T"); do
  export "RT_$i=$(curl -fs -d grant_type=password -d username=demo@example.com -d "password=$PW" http://127.0.0.1:18091/v1/token | sed 's/.*"refresh_token":"\([^"]*\)".*/\1/')"
done

results=()
results+=("$(bench trivial http://127.0.0.1:18090/)")
results+=("$(bench 'whoami cookie (SQLite)' http://127.0.0.1:18091/v1/whoami -H "Cookie: $COOKIE")")
results+=("$(bench 'whoami bearer EdDSA (SQLite)' http://127.0.0.1:18091/v1/whoami -H "Authorization: Bearer $AT")")
results+=("$(C=$T bench 'refresh rotation (SQLite)' http://127.0.0.1:18091/v1/token -c "$T" -s bench/refresh.lua)")

if command -v redis-server >/dev/null && command -v nginx >/dev/null && pg_isready -q -h 127.0.0.1; then
  redis-server --port 16379 --save '' --appendonly no --daemonize no >/dev/null &
  DB=sessiond_bench_$$; psql -q -h 127.0.0.1 -U postgres -c "CREATE DATABASE $DB" >/dev/null
  trap 'kill $(jobs -p) 2>/dev/null; sleep 0.5; psql -q -h 127.0.0.1 -U postgres -c "DROP DATABASE IF EXISTS $DB WITH (FORCE)" >/dev/null; rm -rf "$W"' EXIT
  KEK=$(head -c32 /dev/urandom | base64)
  cat >"$W/cluster.yaml" <<YAML
store:
  users: postgres://postgres@127.0.0.1:5432/$DB?sslmode=disable
  sessions: redis://127.0.0.1:16379
token:
  key_encryption_key: "$KEK"
  issuer: http://127.0.0.1:18100
trusted_proxies: [127.0.0.1/32]
YAML
  "$W/sessiond" migrate --config "$W/cluster.yaml" --data "$W/c" >/dev/null 2>&1
  echo 'a long enough pass' | "$W/sessiond" user add --config "$W/cluster.yaml" --data "$W/c" --email b@example.com --password-stdin >/dev/null 2>&1
  for p in 18101 18102 18103; do "$W/sessiond" serve --config "$W/cluster.yaml" --data "$W/c" --addr 127.0.0.1:$p >/dev/null 2>&1 & done
  for p in 18101 18102 18103; do wait_http http://127.0.0.1:$p/healthz; done
  mk_nginx() { # port upstream-servers...
    local port=$1; shift
    local ups=""; for s in "$@"; do ups="$ups server $s;"; done
    mkdir -p "$W/ng$port"
    cat >"$W/ng$port/nginx.conf" <<NGINX
worker_processes 1; daemon off; pid $W/ng$port/pid; error_log $W/ng$port/error.log;
events { worker_connections 1024; }
http { access_log off; upstream s { $ups keepalive 64; }
  server { listen 127.0.0.1:$port; location / { proxy_pass http://s; proxy_http_version 1.1; proxy_set_header Connection "";
    proxy_set_header X-Forwarded-For \$remote_addr; } } }
NGINX
    nginx -c "$W/ng$port/nginx.conf" -p "$W/ng$port" &
  }
  mk_nginx 18100 127.0.0.1:18101 127.0.0.1:18102 127.0.0.1:18103
  mk_nginx 18099 127.0.0.1:18101
  wait_http http://127.0.0.1:18100/healthz; wait_http http://127.0.0.1:18099/healthz
  curl -fs -c "$W/jar2" -H 'Content-Type: application/json' -d '{"email":"b@example.com","password":"a long enough pass"}' http://127.0.0.1:18100/v1/login >/dev/null
  C2="sessiond=$(awk '$6=="sessiond"{print $7}' "$W/jar2")"
  results+=("$(bench 'whoami cookie, 1 node via nginx (Redis+PG)' http://127.0.0.1:18099/v1/whoami -H "Cookie: $C2")")
  results+=("$(bench 'whoami cookie, 3 nodes via nginx (Redis+PG)' http://127.0.0.1:18100/v1/whoami -H "Cookie: $C2")")
fi

base=$(echo "${results[0]}" | cut -f2)
echo "wrk -t$T -c$C -d$D on $(nproc) cores ($(uname -m)), $(date -u +%Y-%m-%dT%H:%MZ)"
echo
echo "| scenario | requests/s | p99 | ratio to trivial |"
echo "|---|---|---|---|"
for r in "${results[@]}"; do
  IFS=$'\t' read -r n v p <<<"$r"
  printf '| %s | %s | %s | %.1f%% |\n' "$n" "$v" "$p" "$(echo "$v $base" | awk '{print 100*$1/$2}')"
done
