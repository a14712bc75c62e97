#!/usr/bin/env bash
# Fetches Apache Kafka's broker jars (org.apache.kafka:kafka_2.13 and what it needs at run time)
# from Maven Central with Maven, once per Kafka version, into a cache outside the clone:
#   ${PETREL_KAFKA_CACHE:-~/.cache/petrel-kafka}/<version>/libs/*.jar
# test/support/kafka.ts runs one KRaft broker+controller from there with the machine's Java 17.
#
# PETREL_MAVEN_ARGS is added to Maven's arguments (e.g. "-s mirror-settings.xml" for a mirror).
#
# Exit codes: 0 cached (or fetched now); 2 Maven Central unreachable (the Kafka tests skip and say
# so); 1 anything else (Maven or Java missing, a broken download): the tests fail and say why.
set -euo pipefail
version="${KAFKA_VERSION:-4.1.1}"
cache="${PETREL_KAFKA_CACHE:-$HOME/.cache/petrel-kafka}/$version"
libs="$cache/libs"
if [ -f "$libs/.complete" ]; then
  [ "${1:-}" = --print-dir ] && echo "$libs"
  exit 0
fi
for tool in mvn java; do
  if ! command -v "$tool" >/dev/null 2>&1; then
    echo "kafka-jars: '$tool' is missing (install the Debian packages maven and openjdk-17-jre-headless)" >&2
    exit 1
  fi
done

echo "kafka-jars: fetching Kafka $version jars from Maven Central into $libs (once; about 40 MB)" >&2
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
# log4j's SLF4J binding is optional in kafka_2.13's pom; without it the broker logs nothing,
# and its log is what a failing test shows.
cat > "$work/pom.xml" <<POM
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>dev.petrel.test</groupId>
  <artifactId>kafka-jars</artifactId>
  <version>1</version>
  <packaging>pom</packaging>
  <dependencies>
    <dependency><groupId>org.apache.kafka</groupId><artifactId>kafka_2.13</artifactId><version>$version</version></dependency>
    <dependency><groupId>org.apache.logging.log4j</groupId><artifactId>log4j-slf4j-impl</artifactId><version>2.24.3</version></dependency>
    <dependency><groupId>org.apache.logging.log4j</groupId><artifactId>log4j-core</artifactId><version>2.24.3</version></dependency>
  </dependencies>
</project>
POM
start=$(date +%s)
rm -rf "$libs.partial"
set +e
# Each artifact Maven downloads is printed as it arrives, so a slow link shows progress.
# shellcheck disable=SC2086
mvn -B ${PETREL_MAVEN_ARGS:-} -f "$work/pom.xml" org.apache.maven.plugins:maven-dependency-plugin:3.8.1:copy-dependencies -DincludeScope=runtime \
  -DoutputDirectory="$libs.partial" 2>&1 | tee "$work/mvn.log" \
  | sed -n 's/^Downloaded from [^:]*: .*\/\([^/]*\.jar\) .*/  kafka-jars: got \1/p' >&2
rc=${PIPESTATUS[0]}
set -e
if [ "$rc" -ne 0 ]; then
  if grep -qiE 'UnknownHost|Connection refused|Network is unreachable|connect timed out|Could not transfer|No route to host|Temporary failure in name resolution' "$work/mvn.log"; then
    echo "kafka-jars: Maven Central is unreachable; the Kafka tests will be skipped" >&2
    grep -m3 "^\[ERROR\]" "$work/mvn.log" >&2 || true
    exit 2
  fi
  echo "kafka-jars: Maven failed (exit $rc); its last lines:" >&2
  tail -n 20 "$work/mvn.log" >&2
  exit 1
fi
rm -rf "$libs"
mv "$libs.partial" "$libs"
touch "$libs/.complete"
echo "kafka-jars: $(ls "$libs" | grep -c '\.jar$') jars in $libs ($(( $(date +%s) - start ))s)" >&2
[ "${1:-}" = --print-dir ] && echo "$libs"
exit 0
