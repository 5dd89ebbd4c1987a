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
    ipv4/NAME             if present: the address `list` and `info` report for NAME (a
                          test's sshd on loopback stands in for the instance's)
    snap-confinement      if present: mount sources and cloud-init files outside /home or
                          under a hidden folder "do not exist", as with the Linux snap

`exec` and `shell` run for real. As host root (the tests here and on CI; see guest.py)
the guest is modelled closely: users and a root with sudo for the default user only, one
process table per running instance, persistent /etc, /home, /opt, /root, /var, /tmp and
/usr/local, and classic mounts made by a real sshfs in the guest that talks SFTP to a
server on the host applying Multipass' rules (sftp.py). Without root, a bubblewrap sandbox
runs everything as the one guest user, with the mounts bound directly (no sudo, no other
users). Either way nothing of the host's files is visible except read-only system folders.

    guests/NAME/          the modelled guest's other folders, its keeper's pid file
    single-user-guest     if present: use the bubblewrap sandbox even as root

Standard library only: it runs under any python3 >= 3.10.
"""

STATE_ENV = "AGSEKIT_FAKE_MULTIPASS_STATE"
VERSION = "1.16.3"
