#!/bin/bash
# The double's sudo (/usr/local/bin/sudo in the guest). Like Ubuntu's with cloud-init's
# `ubuntu ALL=(ALL) NOPASSWD:ALL`: the default user (and root) may run any command as any
# user without a password; everybody else needs a password, which no user has. The switch
# itself is made by a set-user-ID root copy of setpriv that only root and group ubuntu may
# execute, so the kernel enforces who may use it. The environment is reset as sudo's
# env_reset does (secure_path, HOME of the target user, a few kept variables), plus the
# names given with --preserve-env; values never appear on a command line. The CA settings
# of a TLS-inspecting network (as on CI machines) are kept too, as an env_keep line in
# sudoers would keep them in a VM on such a network.
helper=/usr/local/lib/fake-multipass/setpriv
secure_path=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin:/snap/bin
target=root keep_all=
keep=(TERM LANG LANGUAGE LINGUAS TZ DISPLAY XAUTHORITY COLORS LS_COLORS)
keep+=(NODE_EXTRA_CA_CERTS SSL_CERT_FILE SSL_CERT_DIR REQUESTS_CA_BUNDLE)
usage() { echo "usage: sudo [-nHE] [-u user] [--preserve-env=list] [--] command [arg ...]" >&2; exit 1; }
while [ $# -gt 0 ]; do
  case $1 in
    -u) [ $# -ge 2 ] || usage; target=$2; shift 2 ;;
    -u?*) target=${1#-u}; shift ;;
    --user=*) target=${1#*=}; shift ;;
    -H | --set-home | -n | --non-interactive) shift ;;
    -E | --preserve-env) keep_all=1; shift ;;
    --preserve-env=*) IFS=, read -r -a more <<<"${1#*=}"; keep+=("${more[@]}"); shift ;;
    -nH | -Hn) shift ;;
    --) shift; break ;;
    -*) echo "sudo: invalid option -- '${1#-}'" >&2; usage ;;
    *) break ;;
  esac
done
[ $# -gt 0 ] || usage
if [ ! -x "$helper" ]; then
  echo "sudo: a password is required" >&2
  exit 1
fi
if ! entry=$(getent passwd "$target"); then
  echo "sudo: unknown user $target" >&2
  exit 1
fi
IFS=: read -r name _ uid gid _ home shell <<<"$entry"
caller=$(id -un) caller_uid=$(id -u) caller_gid=$(id -g)
if [ -z "$keep_all" ]; then
  declare -A kept=()
  for var in $(compgen -e); do
    [[ $var == LC_* ]] && kept[$var]=${!var}
  done
  for var in "${keep[@]}"; do
    [ -n "${!var+set}" ] && kept[$var]=${!var}
  done
  for var in $(compgen -e); do unset "$var"; done
  for var in "${!kept[@]}"; do export "$var=${kept[$var]}"; done
fi
export HOME=$home USER=$name LOGNAME=$name SHELL=$shell MAIL=/var/mail/$name PATH=$secure_path
export SUDO_USER=$caller SUDO_UID=$caller_uid SUDO_GID=$caller_gid SUDO_COMMAND="$*"
if ! command -v "$1" >/dev/null; then
  echo "sudo: $1: command not found" >&2
  exit 1
fi
if [ "$uid" = 0 ]; then
  exec "$helper" --reuid=0 --regid="$gid" --init-groups -- "$@"
fi
exec "$helper" --reuid="$uid" --regid="$gid" --init-groups --inh-caps=-all --ambient-caps=-all \
  --bounding-set=-all -- "$@"
