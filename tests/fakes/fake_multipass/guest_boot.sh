#!/bin/bash
# The double's guest boot, run as guest root by enter.py for every `exec` and `shell`:
# mount the classic mounts the way Multipass does (`sudo sshfs -o slave ...` talking SFTP to
# the host over a channel), then run the command as the default user, like ssh would.
# Arguments: FD SOURCE TARGET ... -- LINE (FD -1: a broken mount, shown as an empty folder)
set -u
make_target() {  # like Multipass: create what is missing and give it to the default user
  local path=$1 missing=()
  while [ ! -e "$path" ]; do missing=("$path" "${missing[@]}"); path=$(dirname "$path"); done
  for path in "${missing[@]}"; do mkdir "$path" && chown 1000:1000 "$path"; done
}
while [ "$1" != -- ]; do
  fd=$1 source=$2 target=$3
  shift 3
  make_target "$target"
  if [ "$fd" -ge 0 ]; then
    sshfs -f -o slave -o transform_symlinks -o allow_other -o dir_cache=no \
      ":$source" "$target" <&"$fd" >&"$fd" 2>/dev/null &
    eval "exec $fd>&-"
    for _ in $(seq 200); do mountpoint -q "$target" && break; sleep 0.01; done
  fi
done
shift
exec /usr/bin/setpriv --reuid=1000 --regid=1000 --init-groups --inh-caps=-all \
  --ambient-caps=-all -- /usr/bin/env --default-signal=INT /bin/bash -c "$1"
