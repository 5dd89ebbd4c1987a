"""Snapshots of a folder: naming, the on-disk store, ignore rules, the engine that takes them,
and (later) history, restore and retention.

Store layout (DEST is the snapshot folder of one source):

    DEST/20261128T093005Z/          one complete snapshot: exactly the backed-up tree
    DEST/20261128T094501Z-partial/  a snapshot being written (never looks complete)
    DEST/.agsekit/                  the engine's own state: lock, log, manifests, labels

Anything else in DEST is ignored and never deleted.
"""
