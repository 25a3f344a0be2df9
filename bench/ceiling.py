"""The bare per-file loop: a note's real work per file and nothing else, the reference ("ceiling")
for obtui's note action in `bench/burst.py`.

    python bench/ceiling.py SRC_DIR OUT_DIR DB_FILE

Per file: read it, sha256, a regex grep (TODO lines and #tags), an atomic note write (temp file
+ rename) and one SQLite insert + commit (WAL, synchronous=NORMAL, as obtui's store). Prints the
number of files done.
"""

from __future__ import annotations

import hashlib
import os
import re
import sqlite3
import sys
import time

TODO = re.compile(r"^.*\bTODO\b.*$", re.M)
TAG = re.compile(r"(?<![\w/])#([A-Za-z][\w/-]*)")


def note_loop(src: str, out: str, db: str) -> int:
    con = sqlite3.connect(db)
    con.execute("PRAGMA journal_mode=WAL")
    con.execute("PRAGMA synchronous=NORMAL")
    con.execute("CREATE TABLE IF NOT EXISTS done(path TEXT PRIMARY KEY, sha256 TEXT, ts REAL, note TEXT)")
    os.makedirs(out, exist_ok=True)
    n = 0
    for e in os.scandir(src):
        with open(e.path, "rb") as f:
            data = f.read()
        digest = hashlib.sha256(data).hexdigest()
        text = data.decode("utf-8", "replace")
        todos = TODO.findall(text)
        tags = sorted(set(TAG.findall(text)))
        note = (
            f"---\nsource: {e.path}\nsha256: {digest}\nsize: {len(data)}\ntags: {tags}\n---\n\n"
            f"# {e.name}\n\n## TODO\n" + "".join(f"- {t}\n" for t in todos) + f"\n```\n{text[:2000]}\n```\n"
        )
        target = os.path.join(out, e.name + ".md")
        tmp = os.path.join(out, f".{e.name}.tmp")
        with open(tmp, "w", encoding="utf-8") as f:
            f.write(note)
        os.replace(tmp, target)
        con.execute("INSERT OR REPLACE INTO done VALUES (?, ?, ?, ?)", (e.path, digest, time.time(), target))
        con.commit()
        n += 1
    con.close()
    return n


if __name__ == "__main__":
    print(note_loop(sys.argv[1], sys.argv[2], sys.argv[3]))
