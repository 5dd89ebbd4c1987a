"""A stand-in for Multipass 1.16 on machines that cannot run it (no snap, no KVM).

It implements the subset agsekit uses with Multipass' own flags, messages, exit codes and
JSON shapes. State lives in the folder named by $AGSEKIT_FAKE_MULTIPASS_STATE:

    state.json            instances, their states, resources and mounts
    homes/NAME/           each instance's /home/ubuntu
    daemon-down           if present: every command fails as when multipassd is not running
    access-denied         if present: every command fails with "socket access denied"
    drop-mounts-on-start  if present: starting an instance drops its mounts (Multipass does
                          this silently when a mount fails to re-activate)
    broken-mounts         if present: mounts show up as empty folders inside the instance
    snap-confinement      if present: mount sources and cloud-init files outside /home or
                          under a hidden folder "do not exist", as with the Linux snap

`exec` and `shell` run for real in a bubblewrap sandbox: the instance's mounts appear at
their targets read-write; nothing else of the host's files is visible except read-only
system folders (/usr, /etc). Standard library only: it runs under any python3 >= 3.10.
"""

STATE_ENV = "AGSEKIT_FAKE_MULTIPASS_STATE"
VERSION = "1.16.3"
