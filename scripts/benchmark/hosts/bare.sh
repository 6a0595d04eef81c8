#!/bin/bash
# The bare baseline of the host phases: "the bare ssh commands doing the same starts in one run".
#   bare.sh KEY_FILE KNOWN_HOSTS CONNECT_TIMEOUT_S DEADLINE_S  ADDRESS PORT COMMAND LOG  [ADDRESS PORT COMMAND LOG]...
# For each host, all in parallel: one ssh with no master (a fresh connection and handshake, as sv's first
# `sv up` makes; otherwise the options sv's transport passes), which starts COMMAND detached the way sv's relay
# is started (setsid sh -c 'COMMAND' </dev/null >>LOG 2>&1 &); once that ssh is back, a wait until
# ADDRESS:PORT accepts a TCP connection (sv's implied tcp check for `port:`). Prints one line per host,
# "ADDRESS PORT SSH_US ACCEPT_US" (microseconds from the script's start: that ssh exited, the port accepted),
# and exits 0 once every port accepts; 1 when an ssh fails or a port does not accept within DEADLINE_S.
# bash, not sh: $EPOCHREALTIME and /dev/tcp, so neither the clock nor the connect costs a fork.
set -u
t0=${EPOCHREALTIME/./}
key=$1 known=$2 connect_timeout=$3 deadline_s=$4
shift 4
opts=(-F /dev/null -o BatchMode=yes -o StrictHostKeyChecking=yes -o "UserKnownHostsFile=$known" -o GlobalKnownHostsFile=/dev/null
  -o "ConnectTimeout=$connect_timeout" -o ServerAliveInterval=5 -o ServerAliveCountMax=2 -o ControlMaster=no -o ControlPath=none
  -p 22 -i "$key" -o IdentitiesOnly=yes -l root)
deadline=$((t0 + deadline_s * 1000000))

one() {
  local addr=$1 port=$2 cmd=$3 log=$4 q
  q=${cmd//\'/\'\\\'\'}
  if ! ssh "${opts[@]}" "$addr" "setsid sh -c '$q' </dev/null >>$log 2>&1 &"; then
    echo "bare: ssh to $addr failed" >&2
    return 1
  fi
  local sshed=$((${EPOCHREALTIME/./} - t0))
  # the probe: a connect (refused at once while nothing listens), then a 1 ms pause
  until { : <>"/dev/tcp/$addr/$port"; } 2>/dev/null; do
    if [ "${EPOCHREALTIME/./}" -gt "$deadline" ]; then
      echo "bare: $addr:$port did not accept a connection within ${deadline_s} s" >&2
      return 1
    fi
    sleep 0.001
  done
  echo "$addr $port $sshed $((${EPOCHREALTIME/./} - t0))"
}

pids=()
while [ $# -ge 4 ]; do
  one "$1" "$2" "$3" "$4" &
  pids+=($!)
  shift 4
done
code=0
for p in "${pids[@]}"; do wait "$p" || code=1; done
exit $code
