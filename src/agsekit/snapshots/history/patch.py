r"""One change between two trees as a git-style unified diff, in bytes.

Pure: it takes plain data (path, kind, mode, content) and never touches the file system.
The output is what `git diff` prints for the change (`diff --git` line, extended header
lines, `---`/`+++`, hunks with 3 lines of context) and applies with `git apply` and with
GNU `patch -p1` (2.7 or later, which reads git's mode, rename and symlink lines). Where
git leaves a choice, or where git's own bytes would trip GNU patch, this module decides:

- Lines end at b"\n" only (never at \r, \x0b, \x0c, \x85, U+2028 ...); a last line
  without one is followed by `\ No newline at end of file`. CRLF lines are kept as they are.
- Binary means content holding a NUL byte (git looks at the first 8000 bytes only). Text
  that is not UTF-8 is diffed as text, as git does: the output is bytes.
- Binary content gets git's note `Binary files a/X and b/X differ` and no data; a side
  whose content is unknown (too large, unreadable) gets `Files a/X and b/X differ`, unless
  both sides carry the same digest (then the content did not change). Neither applies:
  `git apply` refuses the whole patch ("cannot apply binary patch to 'X' without full index
  line"); GNU patch leaves a changed file as it was, creates an added one empty and keeps a
  deleted one, and exits 0 unless it kept one. carries_content() tells the caller.
- Hunks come from difflib.SequenceMatcher on byte lines, grouped as git groups them (two
  changes at most 2*3 equal lines apart share a hunk); they may differ from git's Myers
  diff but apply the same. `@@` lines carry no function name.
- Modes: git knows 100644, 100755 (the owner's execute bit) and 120000 (a symlink, whose
  content is its target, without newline). Other permission changes are not shown.
- A change of kind (file <-> symlink) is a deletion then an addition, as git prints it; so
  is a renamed symlink (GNU patch refuses to rename one; git without rename detection
  prints the same).
- `index` lines carry 7-digit git blob ids; they are left out when a content is unknown.
- A rename gets `similarity index 100%` when the content is the same, else an estimate
  from the bytes of the lines kept (the tools do not read the number).
- Names are quoted as git quotes them with core.quotePath=true: in double quotes, C-style,
  when they hold a control character, DEL, `"`, `\` or a byte >= 0x80; a `---`/`+++`
  name holding a space ends with a TAB. Two more quotes than git, both for GNU patch and
  both read by git: a name holding a space is quoted on the `diff --git` line (GNU patch
  cuts bare names there at the first space, and takes names from that line when there are
  no `---`/`+++` lines), and a name ending with a space is quoted on `---`/`+++` lines (GNU
  patch drops those spaces).
"""

from __future__ import annotations

import difflib
import hashlib
from dataclasses import dataclass

from agsekit.snapshots.engine.tree import FILE, LINK

CONTEXT = 3
NO_NEWLINE = b"\\ No newline at end of file\n"
_ESCAPES = {7: b"a", 8: b"b", 9: b"t", 10: b"n", 11: b"v", 12: b"f", 13: b"r", 34: b'"', 92: b"\\"}


@dataclass(frozen=True)
class PatchSide:
    """One end of a change."""

    path: bytes  # relative to the tree's root, b"/"-separated
    kind: str  # FILE or LINK
    mode: int = 0o644  # permission bits; only the owner's execute bit shows (files)
    content: bytes | None = b""  # file content or link target; None: unknown
    digest: str | None = None  # any content hash; equal digests mean equal unknown content


Opcode = tuple[str, int, int, int, int]


def format_patch(old: PatchSide | None, new: PatchSide | None) -> bytes:
    """The patch taking old to new: old None for an addition, new None for a deletion,
    different paths for a rename. b"" when git would show nothing (same content and mode).
    """
    if old is not None and new is not None and _split(old, new):
        return _one_patch(old, None) + _one_patch(None, new)
    return _one_patch(old, new)


def _split(old: PatchSide, new: PatchSide) -> bool:
    """A change of kind is a deletion and an addition, as git prints it; so is a renamed
    symlink, which GNU patch refuses to rename."""
    return old.kind != new.kind or (old.kind == LINK and old.path != new.path)


def _one_patch(old: PatchSide | None, new: PatchSide | None) -> bytes:
    meta = _meta_lines(old, new)
    body = _body(old, new)
    if not meta and not body:
        return b""
    names = (old or _either(old, new)).path, (new or _either(old, new)).path
    return _git_line(*names) + b"".join(meta) + _index_line(old, new) + body


def _git_line(old_name: bytes, new_name: bytes) -> bytes:
    """`diff --git a/X b/Y`. GNU patch cuts a bare name here at its first space (and may
    then take a wrong name from this line), so a name holding a space is quoted here,
    where git would leave it bare; git reads quoted names everywhere."""
    names = (b"a/" + old_name, b"b/" + new_name)
    shown = [_quote(name, force=b" " in name) for name in names]
    return b"diff --git " + b" ".join(shown) + b"\n"


def _either(old: PatchSide | None, new: PatchSide | None) -> PatchSide:
    side = old or new
    if side is None:
        raise ValueError("a change needs at least one side")
    return side


# ----- extended header --------------------------------------------------------------------


def _meta_lines(old: PatchSide | None, new: PatchSide | None) -> list[bytes]:
    if old is None or new is None:
        word = b"new file mode " if old is None else b"deleted file mode "
        return [word + git_mode(_either(old, new)) + b"\n"]
    lines = []
    if git_mode(old) != git_mode(new):
        lines += [b"old mode " + git_mode(old) + b"\n", b"new mode " + git_mode(new) + b"\n"]
    if old.path != new.path:
        lines += [
            b"similarity index %d%%\n" % _similarity(old, new),
            b"rename from " + _quote(old.path) + b"\n",
            b"rename to " + _quote(new.path) + b"\n",
        ]
    return lines


def git_mode(side: PatchSide) -> bytes:
    if side.kind == LINK:
        return b"120000"
    if side.kind != FILE:
        raise ValueError(f"a patch holds files and symlinks only, not kind {side.kind!r}")
    return b"100755" if side.mode & 0o100 else b"100644"


def _index_line(old: PatchSide | None, new: PatchSide | None) -> bytes:
    """`index OLD..NEW [mode]` with git's blob ids, abbreviated to 7 digits as git does;
    only when both contents are known and differ."""
    old_id, new_id = _blob_id(old), _blob_id(new)
    if old_id is None or new_id is None or old_id == new_id:
        return b""
    same_mode = old and new and git_mode(old) == git_mode(new)
    mode = b" " + git_mode(new) if new and same_mode else b""
    return b"index " + old_id[:7] + b".." + new_id[:7] + mode + b"\n"


def _blob_id(side: PatchSide | None) -> bytes | None:
    """git's object id of the content: zeros for no file, None when unknown."""
    if side is None:
        return b"0" * 40
    if side.content is None:
        return None
    header = b"blob %d\0" % len(side.content)
    return hashlib.sha1(header + side.content, usedforsecurity=False).hexdigest().encode()


def _similarity(old: PatchSide, new: PatchSide) -> int:
    if _same(old, new):
        return 100
    if old.content is None or new.content is None:
        return 50  # unknown; git shows renames from 50% up
    largest = max(len(old.content), len(new.content))
    a = split_lines(old.content)
    blocks = _matcher(a, split_lines(new.content)).get_matching_blocks()
    kept = sum(len(line) for i, _j, n in blocks for line in a[i : i + n])
    return min(99, kept * 100 // largest)


# ----- quoting ----------------------------------------------------------------------------


def _quote(name: bytes, force: bool = False) -> bytes:
    """name as git prints it with core.quotePath=true (force: in quotes even when plain)."""
    if not force and not any(_must_quote(byte) for byte in name):
        return name
    out = bytearray(b'"')
    for byte in name:
        if byte in _ESCAPES:
            out += b"\\" + _ESCAPES[byte]
        elif _must_quote(byte):
            out += b"\\%03o" % byte
        else:
            out.append(byte)
    return bytes(out + b'"')


def _must_quote(byte: int) -> bool:
    return byte < 0x20 or byte in (0x22, 0x5C) or byte >= 0x7F


def _label(prefix: bytes, side: PatchSide | None) -> bytes:
    """The name on ---, +++ and binary lines: a/X, b/X (quoted) or /dev/null."""
    if side is None:
        return b"/dev/null"
    # GNU patch drops the spaces that end a bare name, so such a name is quoted (git
    # leaves it bare, and reads it either way)
    return _quote(prefix + side.path, force=side.path.endswith(b" "))


# ----- body -------------------------------------------------------------------------------


def _data(side: PatchSide | None) -> bytes | None:
    """The content as a diff sees it: none (b"") for a missing side, None when unknown."""
    return b"" if side is None else side.content


def _same(old: PatchSide | None, new: PatchSide | None) -> bool:
    old_data, new_data = _data(old), _data(new)
    if old_data is not None and new_data is not None:
        return old_data == new_data
    return bool(old and new and old.digest is not None and old.digest == new.digest)


def carries_content(old: PatchSide | None, new: PatchSide | None) -> bool:
    """False when format_patch names a change of content it cannot show (binary or
    unknown content): the patch then does not carry that file's change."""
    old_data, new_data = _data(old), _data(new)
    if _same(old, new):
        return True
    return old_data is not None and new_data is not None and not _binary(old_data, new_data)


def _binary(*contents: bytes) -> bool:
    return any(b"\0" in data for data in contents)


def _body(old: PatchSide | None, new: PatchSide | None) -> bytes:
    if _same(old, new):
        return b""
    labels = _label(b"a/", old), _label(b"b/", new)
    old_data, new_data = _data(old), _data(new)
    if old_data is None or new_data is None:
        return b"Files " + labels[0] + b" and " + labels[1] + b" differ\n"
    if _binary(old_data, new_data):
        return b"Binary files " + labels[0] + b" and " + labels[1] + b" differ\n"
    return _file_lines(*labels) + _hunks(split_lines(old_data), split_lines(new_data))


def _file_lines(old_label: bytes, new_label: bytes) -> bytes:
    return b"--- " + _tabbed(old_label) + b"\n+++ " + _tabbed(new_label) + b"\n"


def _tabbed(label: bytes) -> bytes:
    """git ends a name holding a space with a TAB: GNU patch would stop at the space."""
    return label + b"\t" if b" " in label else label


def split_lines(data: bytes) -> list[bytes]:
    """Lines with their b"\\n"; the last one may lack it. Nothing else ends a line."""
    parts = data.split(b"\n")
    lines = [part + b"\n" for part in parts[:-1]]
    return [*lines, parts[-1]] if parts[-1] else lines


def _matcher(a: list[bytes], b: list[bytes]) -> difflib.SequenceMatcher[bytes]:
    return difflib.SequenceMatcher(None, a, b)


def _hunks(a: list[bytes], b: list[bytes]) -> bytes:
    groups = _matcher(a, b).get_grouped_opcodes(CONTEXT)
    return b"".join(_hunk(group, a, b) for group in groups)


def _hunk(group: list[Opcode], a: list[bytes], b: list[bytes]) -> bytes:
    first, last = group[0], group[-1]
    old_range = _range(first[1], last[2])
    new_range = _range(first[3], last[4])
    out = [b"@@ -" + old_range + b" +" + new_range + b" @@\n"]
    for tag, i1, i2, j1, j2 in group:
        if tag == "equal":
            out += [_line(b" ", line) for line in a[i1:i2]]
            continue
        out += [_line(b"-", line) for line in a[i1:i2]]
        out += [_line(b"+", line) for line in b[j1:j2]]
    return b"".join(out)


def _range(start: int, end: int) -> bytes:
    """git's `start,count`: count 1 is left out, an empty range names the line before."""
    count = end - start
    if count == 1:
        return b"%d" % (start + 1)
    return b"%d,%d" % (start + 1 if count else start, count)


def _line(sign: bytes, line: bytes) -> bytes:
    return sign + line if line.endswith(b"\n") else sign + line + b"\n" + NO_NEWLINE
