#!/bin/sh
# Make the password file and the ACL of a Mosquitto broker for the bench's
# telemetry (docs/telemetry.md, "Security").
#
#   deploy/mosquitto/make-users.sh DIR NAME:ROLE [NAME:ROLE ...]
#
# ROLE is bench (a HIL bench: publishes telemetry, takes commands), operator
# (may publish commands) or viewer (may only subscribe). Each user gets a
# fresh random password, printed once on standard output as
# "NAME ROLE PASSWORD"; set PASSWORD_<NAME>=... in the environment to choose
# one instead. Writes DIR/passwd (mosquitto_passwd's hashes, mode 600) and
# DIR/acl (mode 644); point mosquitto.conf's password_file and acl_file at
# them. Needs mosquitto_passwd (Debian: apt-get install mosquitto).
set -eu

usage() { echo "usage: $0 DIR NAME:ROLE [NAME:ROLE ...]   (ROLE: bench | operator | viewer)" >&2; exit 2; }
[ $# -ge 2 ] || usage
dir=$1; shift
command -v mosquitto_passwd >/dev/null || { echo "mosquitto_passwd not found (apt-get install mosquitto)" >&2; exit 2; }
mkdir -p "$dir"
umask 077
: > "$dir/passwd.new"
acl="$dir/acl.new"
{
  echo "# Mosquitto ACL of the hemosorb telemetry, made by $0."
  echo "# Topics: hemosorb/<board_id>/{online,info,status,alarms,events,cmd,cmd/result} (docs/telemetry.md)."
  echo "# No line for anonymous clients: mosquitto.conf has allow_anonymous false."
} > "$acl"

for spec in "$@"; do
  name=${spec%%:*}; role=${spec#*:}
  case $name in ''|*[!A-Za-z0-9_.-]*) echo "bad user name: '$name' (letters, digits, _ . -)" >&2; exit 2;; esac
  var="PASSWORD_$(printf %s "$name" | tr -c 'A-Za-z0-9_\n' '_')"
  eval "pw=\${$var:-}"
  if [ -z "$pw" ]; then
    pw=$(head -c 18 /dev/urandom | base64 | tr -d '/+=\n' | cut -c1-16)
  fi
  mosquitto_passwd -b "$dir/passwd.new" "$name" "$pw"
  {
    echo ""
    echo "# $name: $role"
    echo "user $name"
    case $role in
      bench)
        echo "topic read hemosorb/#"
        for kind in online info status alarms events cmd/result; do echo "topic write hemosorb/+/$kind"; done ;;
      operator)
        echo "topic read hemosorb/#"
        echo "topic write hemosorb/+/cmd" ;;
      viewer)
        echo "topic read hemosorb/#" ;;
      *) echo "unknown role '$role' for $name (bench | operator | viewer)" >&2; exit 2 ;;
    esac
  } >> "$acl"
  echo "$name $role $pw"
done

mv "$dir/passwd.new" "$dir/passwd"
mv "$acl" "$dir/acl"
chmod 600 "$dir/passwd"
chmod 644 "$dir/acl"
# Run as root, Mosquitto reads these files as its own user.
if [ "$(id -u)" = 0 ] && id mosquitto >/dev/null 2>&1; then
  chown mosquitto: "$dir/passwd" "$dir/acl"
fi
