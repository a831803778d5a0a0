#!/usr/bin/env python3
"""DVC's tricky hashing cases: sort order, JSON escaping, symlinks, exec bits, .dvcignore, CRLF."""
import os, sys

root = sys.argv[1]
t = os.path.join(root, "tricky")

def write(rel, data, mode=None):
    p = os.path.join(root, rel)
    os.makedirs(os.path.dirname(p) or ".", exist_ok=True)
    with open(p, "wb") as f:
        f.write(data if isinstance(data, bytes) else data.encode())
    if mode:
        os.chmod(p, mode)

for name, body in [("Z.txt", "upper\n"), ("a-b.txt", "dash\n"), ("a.txt", "a\n"), ("a/b.txt", "nested\n"),
                   ("back\\slash", "backslash\n"), ("empty.txt", ""), ('q"uote', "quote\n"), ("tab\tname", "tab\n"),
                   ("with space.txt", "space\n"), ("x/y/z.bin", b"\x00\x01\x02deep"), ("é.txt", "accent\n"),
                   ("😀.bin", b"\xf0\x9f\x98\x80 emoji"), ("scratch.tmp", "ignored by .dvcignore\n")]:
    write(os.path.join("tricky", name), body)
write("tricky/run.sh", "#!/bin/sh\necho hi\n", 0o755)
os.symlink("a.txt", os.path.join(t, "link-to-a.txt"))
write("crlf.txt", b"line one\r\nline two\r\n")
write("lf.txt", b"line one\nline two\n")
write("tool.sh", "#!/bin/sh\n:\n", 0o755)
write("legacy-crlf.txt", b"line one\r\nline two\r\n")
write("legacy-model/config.json", b'{\r\n  "dim": 8\r\n}\r\n')
write("legacy-model/notes.txt", b"plain LF notes\n")
write("legacy-model/weights.bin", bytes(range(256)) * 64)
