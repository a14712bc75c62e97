#!/usr/bin/env bash
# Installs (as root) or names (otherwise) the Debian packages that the integration tests
# and the benchmark run for real: Mosquitto and its clients, etcd, the access-control
# backends (Redis, PostgreSQL, MariaDB), the rule engine's sink targets (RabbitMQ; Kafka
# runs from Maven Central jars, fetched with Maven and run with Java 17), and Chromium for the
# dashboard's browser tests.
set -euo pipefail
need=()
command -v mosquitto >/dev/null 2>&1 || [ -x /usr/sbin/mosquitto ] || need+=(mosquitto)
command -v mosquitto_pub >/dev/null 2>&1 || need+=(mosquitto-clients)
command -v etcd >/dev/null 2>&1 || need+=(etcd-server)
command -v openssl >/dev/null 2>&1 || need+=(openssl)
command -v unzip >/dev/null 2>&1 || need+=(unzip)
command -v redis-server >/dev/null 2>&1 || need+=(redis-server)
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || need+=(postgresql)
command -v mariadbd >/dev/null 2>&1 || [ -x /usr/sbin/mariadbd ] || need+=(mariadb-server)
[ -x /usr/lib/rabbitmq/bin/rabbitmq-server ] || need+=(rabbitmq-server)
command -v mvn >/dev/null 2>&1 || need+=(maven)
command -v java >/dev/null 2>&1 || need+=(openjdk-17-jre-headless)
python3 -c 'import ensurepip' >/dev/null 2>&1 || need+=(python3-venv)
# coap-client-notls: the CoAP gateway's third-party peer (test/integration/56-coap*).
command -v coap-client-notls >/dev/null 2>&1 || need+=(libcoap3-bin)
# The dashboard's browser tests drive Debian's Chromium with playwright-core.
command -v chromium >/dev/null 2>&1 || need+=(chromium)
if [ ${#need[@]} -eq 0 ]; then exit 0; fi
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "installing Debian packages: ${need[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
  # Debian starts services it installs; the tests start their own on free ports.
  for s in mosquitto etcd redis-server postgresql mariadb rabbitmq-server; do
    (systemctl stop "$s" || service "$s" stop) >/dev/null 2>&1 || true
    systemctl disable "$s" >/dev/null 2>&1 || true
  done
  # rabbitmq-server's install leaves an epmd daemon on port 4369; the tests run their own.
  if [[ " ${need[*]} " == *" rabbitmq-server "* ]]; then epmd -kill >/dev/null 2>&1 || true; fi
else
  echo "missing Debian packages: ${need[*]}" >&2
  echo "install them with: sudo apt-get install -y ${need[*]}" >&2
  [ "${1:-}" = bench ] && exit 1
  echo "(tests that need them will fail and name the package)" >&2
fi
