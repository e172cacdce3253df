#!/usr/bin/env bash
# kafka.sh - a real Apache Kafka cluster (KRaft mode, no ZooKeeper) on 127.0.0.1 for tests.
#
# Usage:
#   scripts/kafka.sh fetch [--cache DIR]
#   scripts/kafka.sh start --dir DIR [--brokers 1|3] [--base-port P | --first-port P] [--cache DIR]
#                          [--sasl-users FILE]
#   scripts/kafka.sh stop --dir DIR
#   scripts/kafka.sh create-topics --dir DIR [--partitions N] [--replication-factor R]
#                                  [--config NAME=VALUE]... TOPIC...
#   scripts/kafka.sh kill-broker --dir DIR --node N
#   scripts/kafka.sh restart-broker --dir DIR --node N
#   scripts/kafka.sh tool CLASS [ARG...]
#
#   fetch           Install Java 17, Maven and kcat from Debian packages if missing, then copy
#                   the Kafka jars pinned in scripts/kafka/pom.xml from Maven Central into
#                   CACHE/lib. CACHE is $PATHWAY_KAFKA_CACHE or <repo>/build/kafka. Does
#                   nothing when the cache already matches the POM.
#   start           Fetch if needed, format and start N combined broker+controller nodes
#                   (default 1), wait until each node serves metadata listing all brokers,
#                   then print exactly one line on stdout, also written to DIR/bootstrap:
#                     bootstrap.servers=127.0.0.1:P1[,127.0.0.1:P2,...]
#                   Node i takes port P+2(i-1) for clients and the next one for the
#                   controller; without --base-port the first free block from --first-port P
#                   (default 19092, the tests' clusters; scripts/run.sh uses 29092) is used.
#                   On a running DIR it only prints the line again; a stopped DIR restarts
#                   with its data, ports and security settings.
#                   --sasl-users FILE: authenticated and authorized, as a production cluster
#                   is (deploy/README.md, "Partners and ACLs"). Every listener, the client one
#                   and the controllers', is SASL_PLAINTEXT with mechanism PLAIN; the
#                   StandardAuthorizer denies whatever no ACL allows. FILE has one NAME:PASSWORD
#                   a line (# comments); each is a user (principal User:NAME) that can log in,
#                   with no rights until ACLs grant some. Two super users: User:broker, the
#                   nodes themselves (reserved), and User:admin, whose password FILE may give
#                   (else a random one). DIR/admin.properties (for Kafka's tools:
#                   --command-config) and DIR/admin.librdkafka.conf (kcat -F, librdkafka and
#                   confluent-kafka properties) log in as admin; create-topics uses them.
#   stop            SIGTERM every node, SIGKILL after a bounded wait. Keeps data and logs.
#   create-topics   Create topics (if absent); defaults: 8 partitions, min(brokers, 3) replicas.
#                   Each --config is a topic setting, e.g. cleanup.policy=compact.
#   kill-broker     SIGKILL node N (1-based).
#   restart-broker  Stop node N gracefully if it runs, start it, wait until it has rejoined.
#   tool            Fetch if needed, then run a Kafka command-line class from the jars in the
#                   foreground as the same process (exec: its pid is the JVM's), with the
#                   arguments given, e.g. the console clients that bin/kafka-console-*.sh run:
#                     tool org.apache.kafka.tools.ConsoleProducer --bootstrap-server B --topic T
#                     tool org.apache.kafka.tools.consumer.ConsoleConsumer --bootstrap-server B ...
#                   (docs/devbroker.md: these Java clients need this real Kafka).
#
# DIR layout: cluster.env, bootstrap, nodeN/{server.properties,server.log,pid,data/}; with
# --sasl-users also admin.properties and admin.librdkafka.conf (mode 0600, as server.properties).
# Environment:
#   PATHWAY_KAFKA_CACHE          jar cache (default <repo>/build/kafka)
#   PATHWAY_KAFKA_JVM_OPTS       broker JVM options, default "-Xms128m -Xmx512m -XX:TieredStopAtLevel=1"
#                                (the C1-only JIT halves start-up on 2 cores; drop it for benchmarks)
#   PATHWAY_KAFKA_START_TIMEOUT  seconds start/restart-broker wait for the cluster (default 120)
# Progress and errors go to stderr; only `start` writes to stdout.

set -euo pipefail

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_ROOT=$(cd "$SCRIPT_DIR/.." && pwd)
POM="$SCRIPT_DIR/kafka/pom.xml"
LOG4J_CONFIG="$SCRIPT_DIR/kafka/log4j2.yaml"

CACHE="${PATHWAY_KAFKA_CACHE:-$REPO_ROOT/build/kafka}"
JVM_OPTS="${PATHWAY_KAFKA_JVM_OPTS:--Xms128m -Xmx512m -XX:TieredStopAtLevel=1}"
START_TIMEOUT="${PATHWAY_KAFKA_START_TIMEOUT:-120}"
STOP_TIMEOUT=30
DEFAULT_BASE_PORT=19092
MAX_NODES=9
START_LOCK="${TMPDIR:-/tmp}/pathway-kafka-start.lock"

# Options, filled in by parse_args.
DIR="" NODE="" OPT_BROKERS="" OPT_BASE_PORT="" OPT_FIRST_PORT="" PARTITIONS=8 REPLICATION=""
OPT_SASL_USERS=""
ARGS=() TOPIC_CONFIGS=()
# Cluster state, from DIR/cluster.env. SASL=1: SASL/PLAIN and ACLs (--sasl-users).
BROKERS="" BASE_PORT="" CLUSTER_ID="" LIB="" JAVA="" SASL=""
# With --sasl-users, while the nodes' configs are written: the users and the nodes' password.
SASL_USERS=() BROKER_PASSWORD=""

log() { printf 'kafka.sh: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }
usage() { sed -n '2,/^$/s/^# \{0,1\}//p' "${BASH_SOURCE[0]}" >&2; exit "${1:-2}"; }
is_uint() { [[ $1 =~ ^[0-9]+$ ]]; }
in_range() { is_uint "$1" && (( $1 >= $2 && $1 <= $3 )); }

# ---------------------------------------------------------------------------------------------
# Tools and jars

# Prints the path of a Java >= 17, or nothing.
find_java() {
  local j v
  for j in "$(command -v java || true)" /usr/lib/jvm/java-*-openjdk-*/bin/java; do
    [[ -n $j && -x $j ]] || continue
    v=$("$j" -version 2>&1 | sed -n '1s/.*version "\([0-9]*\).*/\1/p')
    if is_uint "$v" && (( v >= 17 )); then
      echo "$j"
      return 0
    fi
  done
}

apt_install() {
  local sudo=()
  (( EUID == 0 )) || sudo=(sudo)
  log "installing $* with apt-get"
  "${sudo[@]}" apt-get update -qq >&2
  "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive \
    apt-get install -y -qq --no-install-recommends "$@" >&2
}

ensure_tools() {
  local missing=()
  [[ -n $(find_java) ]] || missing+=(openjdk-17-jre-headless)
  command -v mvn >/dev/null || missing+=(maven)
  command -v kcat >/dev/null || missing+=(kcat)
  (( ${#missing[@]} == 0 )) || apt_install "${missing[@]}"
  JAVA=$(find_java)
  [[ -n $JAVA ]] || die "no Java >= 17 found after installing openjdk-17-jre-headless"
}

pom_kafka_version() {
  sed -n 's:.*<kafka.version>\(.*\)</kafka.version>.*:\1:p' "$POM"
}

cache_is_current() {
  local lib=$1 stamp=$2 version=$3
  [[ -f $lib/kafka_2.13-$version.jar && -f $lib/.pom-sha256 && $(<"$lib/.pom-sha256") == "$stamp" ]]
}

cmd_fetch() {
  ensure_tools
  local version stamp lib="$CACHE/lib"
  version=$(pom_kafka_version)
  stamp=$(sha256sum "$POM" | cut -d' ' -f1)
  LIB=$lib
  cache_is_current "$lib" "$stamp" "$version" && return 0

  mkdir -p "$CACHE"
  (
    flock -w 600 9 || die "timed out waiting for $CACHE/.fetch.lock"
    cache_is_current "$lib" "$stamp" "$version" && exit 0  # fetched meanwhile
    log "fetching Kafka $version from Maven Central into $lib"
    local tmp="$CACHE/lib.tmp.$$"
    rm -rf "$tmp"
    if ! mvn -q -B -f "$POM" dependency:copy-dependencies -DoutputDirectory="$tmp" \
        >"$CACHE/fetch.log" 2>&1; then
      cat "$CACHE/fetch.log" >&2
      rm -rf "$tmp"
      die "maven could not fetch the Kafka jars (see above)"
    fi
    echo "$stamp" >"$tmp/.pom-sha256"
    rm -rf "$lib"
    mv "$tmp" "$lib"
  ) 9>"$CACHE/.fetch.lock"
}

# Runs a short-lived Kafka command-line class (log4j falls back to errors only).
kafka_tool() {
  "$JAVA" -Xmx256m -XX:TieredStopAtLevel=1 -XX:+UseSerialGC -cp "$LIB/*" "$@"
}

# ---------------------------------------------------------------------------------------------
# Cluster directory

broker_port() { echo $(( BASE_PORT + 2 * ($1 - 1) )); }
controller_port() { echo $(( BASE_PORT + 2 * ($1 - 1) + 1 )); }
node_dir() { echo "$DIR/node$1"; }

bootstrap_servers() {
  local n list=""
  for (( n = 1; n <= BROKERS; n++ )); do list+="${list:+,}127.0.0.1:$(broker_port "$n")"; done
  echo "$list"
}

require_dir() {
  [[ -n $DIR ]] || die "--dir is required"
  DIR=$(realpath -m "$DIR")
}

load_cluster() {
  require_dir
  [[ -f $DIR/cluster.env ]] || die "$DIR holds no cluster (run start first)"
  # shellcheck source=/dev/null
  source "$DIR/cluster.env"
}

save_cluster() {
  {
    printf 'BROKERS=%q\n' "$BROKERS"
    printf 'BASE_PORT=%q\n' "$BASE_PORT"
    printf 'CLUSTER_ID=%q\n' "$CLUSTER_ID"
    printf 'LIB=%q\n' "$LIB"
    printf 'JAVA=%q\n' "$JAVA"
    printf 'SASL=%q\n' "$SASL"
  } >"$DIR/cluster.env"
}

require_node() {
  in_range "$NODE" 1 "$BROKERS" || die "--node must be in 1..$BROKERS"
}

# Prints the pid of node $1 and succeeds if that node's broker process is alive.
node_pid() {
  local pidfile pid
  pidfile="$(node_dir "$1")/pid"
  [[ -f $pidfile ]] || return 1
  pid=$(<"$pidfile")
  is_uint "$pid" && [[ -r /proc/$pid/cmdline ]] || return 1
  # Guard against a recycled pid: the command line must name this node's config.
  tr '\0' ' ' <"/proc/$pid/cmdline" | grep -qF "$(node_dir "$1")/server.properties" || return 1
  echo "$pid"
}

port_in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# Prints the first base port >= --first-port (default DEFAULT_BASE_PORT) whose 2*$1 ports
# are all free.
pick_base_port() {
  local first=${OPT_FIRST_PORT:-$DEFAULT_BASE_PORT} base p
  for (( base = first; base < first + 1000; base += 2 * MAX_NODES )); do
    for (( p = base; p < base + 2 * $1; p++ )); do
      port_in_use "$p" && continue 2
    done
    echo "$base"
    return 0
  done
  die "no free block of $(( 2 * $1 )) ports in ${first}..$(( first + 999 ))"
}

write_node_config() {
  local n=$1 dir i voters="" rf min_isr
  dir=$(node_dir "$n")
  rf=$(( BROKERS < 3 ? BROKERS : 3 ))
  min_isr=$(( rf >= 3 ? 2 : 1 ))
  for (( i = 1; i <= BROKERS; i++ )); do
    voters+="${voters:+,}$i@127.0.0.1:$(controller_port "$i")"
  done
  mkdir -p "$dir/data"
  {
    cat <<EOF
# Generated by scripts/kafka.sh: node $n of a $BROKERS-node test cluster.
process.roles=broker,controller
node.id=$n
controller.quorum.voters=$voters
EOF
    if [[ -n $SASL ]]; then
      sasl_listener_config "$n"
    else
      cat <<EOF
listeners=PLAINTEXT://127.0.0.1:$(broker_port "$n"),CONTROLLER://127.0.0.1:$(controller_port "$n")
advertised.listeners=PLAINTEXT://127.0.0.1:$(broker_port "$n")
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
EOF
    fi
    cat <<EOF
log.dirs=$dir/data

auto.create.topics.enable=true
num.partitions=8
default.replication.factor=$rf
min.insync.replicas=$min_isr
offsets.topic.replication.factor=$rf
offsets.topic.num.partitions=8
transaction.state.log.replication.factor=$rf
transaction.state.log.min.isr=$min_isr
transaction.state.log.num.partitions=8
share.coordinator.state.topic.replication.factor=$rf
share.coordinator.state.topic.min.isr=$min_isr
group.initial.rebalance.delay.ms=0

# Small footprint: several nodes share a 2-core machine.
num.network.threads=2
num.io.threads=4
num.recovery.threads.per.data.dir=1
log.segment.bytes=16777216
log.cleaner.dedupe.buffer.size=16777216
EOF
  } >"$dir/server.properties"
  [[ -z $SASL ]] || chmod 600 "$dir/server.properties"  # it holds every password
}

# --sasl-users: reads FILE into SASL_USERS (NAME:PASSWORD, admin included, with a random
# password unless FILE gives one) and picks the nodes' own password.
read_sasl_users() {
  local file=$1 line name password lineno=0 admin=""
  local -A seen=()
  [[ -f $file && -r $file ]] || die "--sasl-users: cannot read $file"
  SASL_USERS=()
  while IFS= read -r line || [[ -n $line ]]; do
    lineno=$(( lineno + 1 ))
    line=${line%$'\r'}
    [[ $line =~ ^[[:space:]]*(#.*)?$ ]] && continue
    [[ $line == *:* ]] || die "$file:$lineno: expected NAME:PASSWORD"
    name=${line%%:*} password=${line#*:}
    # Both go into a JAAS config between double quotes: no quotes, backslashes or spaces.
    [[ $name =~ ^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$ ]] \
      || die "$file:$lineno: user name '$name' must be 1-64 of A-Z a-z 0-9 . _ - (first a letter or digit)"
    [[ $password =~ ^[A-Za-z0-9._~+/=@%-]{1,128}$ ]] \
      || die "$file:$lineno: the password of '$name' must be 1-128 of A-Z a-z 0-9 . _ ~ + / = @ % -"
    [[ $name != broker ]] || die "$file:$lineno: user 'broker' is reserved (the nodes themselves)"
    [[ -z ${seen[$name]:-} ]] || die "$file:$lineno: user '$name' given twice"
    seen[$name]=1
    [[ $name != admin ]] || admin=1
    SASL_USERS+=("$name:$password")
  done <"$file"
  [[ -n $admin ]] || SASL_USERS+=("admin:$(random_password)")
  BROKER_PASSWORD=$(random_password)
}

random_password() { od -An -tx1 -N16 /dev/urandom | tr -d ' \n'; }

# The listeners of node $1 with --sasl-users. Every listener is SASL_PLAINTEXT/PLAIN, the
# controllers' too: a PLAINTEXT controller listener would need User:ANONYMOUS as a super
# user (brokers register and heartbeat there as that principal), and an admin client can
# talk to a controller directly (KIP-919), so whoever could connect to that port would be
# a super user. The nodes log in to each other as User:broker.
sasl_listener_config() {
  local n=$1 user users="" login=org.apache.kafka.common.security.plain.PlainLoginModule
  for user in "${SASL_USERS[@]}"; do users+=" user_${user%%:*}=\"${user#*:}\""; done
  cat <<EOF
listeners=SASL_PLAINTEXT://127.0.0.1:$(broker_port "$n"),CONTROLLER://127.0.0.1:$(controller_port "$n")
advertised.listeners=SASL_PLAINTEXT://127.0.0.1:$(broker_port "$n")
listener.security.protocol.map=SASL_PLAINTEXT:SASL_PLAINTEXT,CONTROLLER:SASL_PLAINTEXT
controller.listener.names=CONTROLLER
inter.broker.listener.name=SASL_PLAINTEXT
sasl.enabled.mechanisms=PLAIN
sasl.mechanism.inter.broker.protocol=PLAIN
sasl.mechanism.controller.protocol=PLAIN
listener.name.sasl_plaintext.plain.sasl.jaas.config=$login required username="broker" password="$BROKER_PASSWORD" user_broker="$BROKER_PASSWORD"$users;
listener.name.controller.plain.sasl.jaas.config=$login required username="broker" password="$BROKER_PASSWORD" user_broker="$BROKER_PASSWORD";
authorizer.class.name=org.apache.kafka.metadata.authorizer.StandardAuthorizer
allow.everyone.if.no.acl.found=false
super.users=User:broker;User:admin
EOF
}

# Writes DIR/admin.properties (Kafka's tools, --command-config) and DIR/admin.librdkafka.conf
# (kcat -F, librdkafka, confluent-kafka), both logging in as admin.
write_admin_configs() {
  local user password=""
  for user in "${SASL_USERS[@]}"; do [[ ${user%%:*} != admin ]] || password=${user#*:}; done
  (
    umask 077
    cat >"$DIR/admin.properties" <<EOF
security.protocol=SASL_PLAINTEXT
sasl.mechanism=PLAIN
sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required username="admin" password="$password";
EOF
    cat >"$DIR/admin.librdkafka.conf" <<EOF
security.protocol=SASL_PLAINTEXT
sasl.mechanisms=PLAIN
sasl.username=admin
sasl.password=$password
EOF
  )
}

# Formats the storage of every node that has none yet, in parallel.
format_nodes() {
  local n dir failed=0
  local -A formatting=()
  for n in $(all_nodes); do
    dir=$(node_dir "$n")
    [[ -f $dir/data/meta.properties ]] && continue
    kafka_tool kafka.tools.StorageTool format \
      --cluster-id "$CLUSTER_ID" --config "$dir/server.properties" >>"$dir/server.log" 2>&1 &
    formatting[$n]=$!
  done
  for n in "${!formatting[@]}"; do
    if ! wait "${formatting[$n]}"; then
      show_log_tail "$n"
      failed=1
    fi
  done
  (( failed == 0 )) || die "formatting the storage in $DIR failed"
}

launch_node() {
  local n=$1 dir p
  dir=$(node_dir "$n")
  node_pid "$n" >/dev/null && return 0
  for p in "$(broker_port "$n")" "$(controller_port "$n")"; do
    port_in_use "$p" && die "port $p of node $n is already in use"
  done
  log "starting node $n on 127.0.0.1:$(broker_port "$n") (controller :$(controller_port "$n"))"
  # shellcheck disable=SC2086  # JVM_OPTS is a list of words
  "$JAVA" $JVM_OPTS -XX:+ExitOnOutOfMemoryError -Djava.awt.headless=true \
    -Dlog4j2.configurationFile="$LOG4J_CONFIG" -cp "$LIB/*" \
    kafka.Kafka "$dir/server.properties" </dev/null >>"$dir/server.log" 2>&1 9>&- &
  local pid=$! deadline=$(( SECONDS + 10 ))
  echo "$pid" >"$dir/pid"
  # Until the child has exec'd the JVM its command line is this script's, which node_pid
  # does not recognize: on a loaded machine wait_ready then took a starting node for an
  # exited one. Wait (bounded) for the exec.
  while ! node_pid "$n" >/dev/null && pid_alive "$pid" && (( SECONDS < deadline )); do
    sleep 0.05
  done
}

show_log_tail() {
  local log
  log="$(node_dir "$1")/server.log"
  [[ -f $log ]] || return 0
  log "---- last lines of $log"
  tail -n 30 "$log" >&2
}

# Prints how many brokers the metadata served by node $1 lists (0 if it does not answer).
metadata_broker_count() {
  local count
  local auth=()
  [[ -z $SASL ]] || auth=(-F "$DIR/admin.librdkafka.conf")
  count=$(timeout 10 kcat "${auth[@]}" -b "127.0.0.1:$(broker_port "$1")" -L -m 3 2>/dev/null \
    | awk '/^ [0-9]+ brokers:/ { print $1; exit }') || true
  echo "${count:-0}"
}

# Waits until every node in "$@" runs and serves metadata listing at least that many brokers.
wait_ready() {
  local deadline=$(( SECONDS + START_TIMEOUT )) n ready
  while (( SECONDS < deadline )); do
    ready=1
    for n in "$@"; do
      if ! node_pid "$n" >/dev/null; then
        show_log_tail "$n"
        die "node $n exited during startup"
      fi
      if ! port_in_use "$(broker_port "$n")" || (( $(metadata_broker_count "$n") < $# )); then
        ready=0
        break
      fi
    done
    (( ready )) && return 0
    sleep 0.5
  done
  for n in "$@"; do show_log_tail "$n"; done
  die "cluster in $DIR not ready after ${START_TIMEOUT}s"
}

# Succeeds if process $1 exists and is not a zombie.
pid_alive() { grep -q '^State:[[:space:]]*[^Z]' "/proc/$1/status" 2>/dev/null; }

# Waits up to $1 seconds for the pids in "${@:2}" to exit; succeeds if they all did.
wait_exit() {
  local deadline=$(( SECONDS + $1 )) pid alive
  shift
  while :; do
    alive=0
    for pid in "$@"; do pid_alive "$pid" && alive=1; done
    (( alive )) || return 0
    (( SECONDS < deadline )) || return 1
    sleep 0.2
  done
}

# Stops the given nodes: SIGTERM, then SIGKILL after STOP_TIMEOUT seconds.
stop_nodes() {
  local n pid pids=()
  for n in "$@"; do
    if pid=$(node_pid "$n"); then pids+=("$pid"); fi
  done
  if (( ${#pids[@]} > 0 )); then
    log "stopping node(s) $* in $DIR"
    kill -TERM "${pids[@]}" 2>/dev/null || true
    if ! wait_exit "$STOP_TIMEOUT" "${pids[@]}"; then
      log "still running after ${STOP_TIMEOUT}s, sending SIGKILL"
      kill -KILL "${pids[@]}" 2>/dev/null || true
      wait_exit 10 "${pids[@]}" || die "could not kill pid(s) ${pids[*]}"
    fi
  fi
  for n in "$@"; do rm -f "$(node_dir "$n")/pid"; done
}

all_nodes() { seq 1 "$BROKERS"; }

running_nodes() {
  local n
  for n in $(all_nodes); do node_pid "$n" >/dev/null && echo "$n"; done
  return 0
}

# ---------------------------------------------------------------------------------------------
# Commands

cmd_start() {
  require_dir
  [[ -z $OPT_BROKERS ]] || in_range "$OPT_BROKERS" 1 "$MAX_NODES" \
    || die "--brokers must be in 1..$MAX_NODES"
  [[ -z $OPT_BASE_PORT ]] || in_range "$OPT_BASE_PORT" 1024 64000 \
    || die "--base-port must be in 1024..64000"
  [[ -z $OPT_FIRST_PORT ]] || in_range "$OPT_FIRST_PORT" 1024 64000 \
    || die "--first-port must be in 1024..64000"
  [[ -z $OPT_BASE_PORT || -z $OPT_FIRST_PORT ]] || die "give --base-port or --first-port, not both"
  cmd_fetch
  mkdir -p "$DIR"
  # A broker maps every log index into memory; under a virtual memory limit (ulimit -v,
  # e.g. one set for a build in the same shell) those maps fail once topics have been
  # recreated a few times ("IOException: Map failed" in server.log) and acks=all writes
  # time out. Say so: the tests then fail far from the cause.
  local vlimit
  vlimit=$(ulimit -v)
  [[ $vlimit == unlimited ]] \
    || log "warning: virtual memory is limited to ${vlimit} KiB (ulimit -v): the brokers' index maps may fail; start Kafka without it"

  # Serialize starts on this machine so concurrent ones do not pick the same free ports.
  exec 9>"$START_LOCK"
  flock -w $(( START_TIMEOUT + 60 )) 9 || die "timed out waiting for $START_LOCK"

  local lib=$LIB java=$JAVA n
  if [[ -f $DIR/cluster.env ]]; then
    # shellcheck source=/dev/null
    source "$DIR/cluster.env"
    [[ -z $OPT_BROKERS || $OPT_BROKERS == "$BROKERS" ]] \
      || die "$DIR holds a $BROKERS-node cluster; use a fresh --dir for $OPT_BROKERS nodes"
    [[ -z $OPT_BASE_PORT || $OPT_BASE_PORT == "$BASE_PORT" ]] \
      || die "$DIR uses base port $BASE_PORT; use a fresh --dir for $OPT_BASE_PORT"
    [[ -z $OPT_SASL_USERS || -n $SASL ]] \
      || die "$DIR holds a cluster without SASL; use a fresh --dir for --sasl-users"
    [[ -z $OPT_SASL_USERS ]] \
      || log "note: $DIR keeps the users of its first start; $OPT_SASL_USERS is not read again"
    LIB=$lib JAVA=$java
  else
    BROKERS=${OPT_BROKERS:-1}
    BASE_PORT=${OPT_BASE_PORT:-$(pick_base_port "$BROKERS")}
    CLUSTER_ID=$(kafka_tool kafka.tools.StorageTool random-uuid | tail -n 1)
    [[ $CLUSTER_ID =~ ^[A-Za-z0-9_-]{22}$ ]] || die "StorageTool random-uuid printed '$CLUSTER_ID'"
    if [[ -n $OPT_SASL_USERS ]]; then
      SASL=1
      read_sasl_users "$OPT_SASL_USERS"
      write_admin_configs
    fi
    for n in $(all_nodes); do write_node_config "$n"; done
  fi
  save_cluster

  format_nodes
  trap abort_start EXIT
  for n in $(all_nodes); do launch_node "$n"; done
  # shellcheck disable=SC2046
  wait_ready $(all_nodes)
  trap - EXIT
  exec 9>&-

  echo "bootstrap.servers=$(bootstrap_servers)" | tee "$DIR/bootstrap"
}

# EXIT trap of a failing start: leave no half-started cluster behind.
abort_start() {
  local rc=$?
  (( rc != 0 )) || return 0
  log "start failed, stopping the nodes in $DIR"
  # shellcheck disable=SC2046
  stop_nodes $(all_nodes) || true
  exit "$rc"
}

cmd_stop() {
  require_dir
  if [[ ! -f $DIR/cluster.env ]]; then
    log "no cluster in $DIR, nothing to stop"
    return 0
  fi
  load_cluster
  # shellcheck disable=SC2046
  stop_nodes $(all_nodes)
}

cmd_create_topics() {
  load_cluster
  (( ${#ARGS[@]} > 0 )) || die "create-topics needs at least one topic name"
  local rf=${REPLICATION:-$(( BROKERS < 3 ? BROKERS : 3 ))} topic auth=()
  [[ -z $SASL ]] || auth=(--command-config "$DIR/admin.properties")
  in_range "$PARTITIONS" 1 100000 || die "--partitions must be in 1..100000"
  in_range "$rf" 1 "$BROKERS" || die "--replication-factor must be in 1..$BROKERS"
  [[ -n $(running_nodes) ]] || die "the cluster in $DIR is not running"
  for topic in "${ARGS[@]}"; do
    kafka_tool org.apache.kafka.tools.TopicCommand --bootstrap-server "$(bootstrap_servers)" \
      --create --if-not-exists --topic "$topic" "${auth[@]}" \
      --partitions "$PARTITIONS" --replication-factor "$rf" "${TOPIC_CONFIGS[@]}" >&2
  done
}

cmd_kill_broker() {
  load_cluster
  require_node
  local pid
  if ! pid=$(node_pid "$NODE"); then
    log "node $NODE is not running"
    return 0
  fi
  log "killing node $NODE (pid $pid)"
  kill -KILL "$pid"
  wait_exit 10 "$pid" || die "node $NODE (pid $pid) survived SIGKILL"
  rm -f "$(node_dir "$NODE")/pid"
}

cmd_restart_broker() {
  load_cluster
  require_node
  stop_nodes "$NODE"
  launch_node "$NODE"
  # shellcheck disable=SC2046
  wait_ready $(running_nodes)
}

parse_args() {
  while (( $# > 0 )); do
    case $1 in
      --dir) DIR=${2:?--dir needs a value}; shift 2 ;;
      --cache) CACHE=${2:?--cache needs a value}; shift 2 ;;
      --brokers) OPT_BROKERS=${2:?--brokers needs a value}; shift 2 ;;
      --base-port) OPT_BASE_PORT=${2:?--base-port needs a value}; shift 2 ;;
      --first-port) OPT_FIRST_PORT=${2:?--first-port needs a value}; shift 2 ;;
      --node) NODE=${2:?--node needs a value}; shift 2 ;;
      --sasl-users) OPT_SASL_USERS=${2:?--sasl-users needs a value}; shift 2 ;;
      --partitions) PARTITIONS=${2:?--partitions needs a value}; shift 2 ;;
      --replication-factor) REPLICATION=${2:?--replication-factor needs a value}; shift 2 ;;
      --config)
        [[ ${2:-} == ?*=* ]] || die "--config needs NAME=VALUE"
        TOPIC_CONFIGS+=(--config "$2"); shift 2 ;;
      -h | --help) usage 0 ;;
      --) shift; ARGS+=("$@"); break ;;
      -*) die "unknown option $1 (see --help)" ;;
      *) ARGS+=("$1"); shift ;;
    esac
  done
}

main() {
  (( $# > 0 )) || usage
  local cmd=$1
  shift
  if [[ $cmd == tool ]]; then  # the arguments are the tool's own
    (( $# > 0 )) || die "tool needs a class name"
    CACHE=$(realpath -m "$CACHE")
    cmd_fetch
    exec "$JAVA" -Xmx256m -XX:TieredStopAtLevel=1 -XX:+UseSerialGC -cp "$LIB/*" "$@"
  fi
  parse_args "$@"
  CACHE=$(realpath -m "$CACHE")
  [[ $cmd == create-topics || ${#ARGS[@]} -eq 0 ]] || die "unexpected argument(s): ${ARGS[*]}"
  case $cmd in
    fetch) cmd_fetch ;;
    start) cmd_start ;;
    stop) cmd_stop ;;
    create-topics) cmd_create_topics ;;
    kill-broker) cmd_kill_broker ;;
    restart-broker) cmd_restart_broker ;;
    -h | --help | help) usage 0 ;;
    *) die "unknown command '$cmd' (see --help)" ;;
  esac
}

main "$@"
