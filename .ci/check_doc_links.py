#!/usr/bin/env python3
"""Fails if rendered rustdoc HTML shows a literal `[text]`: an intra-doc link rustdoc could not
resolve and printed as text (rustdoc warns about most, not all, e.g. in re-exported docs).

Usage: check_doc_links.py DOC_DIR...  (e.g. target/doc/ipc2 target/doc/ipc2_host)
Code (<pre>, <code>, and signatures: `fn hash_slice(data: &[Self])`), rustdoc's <script> data and
attributes are ignored: `#[ipc2::service]` in code is not a link."""

import html
import pathlib
import re
import sys

CODE = re.compile(r"<(pre|code|script)\b.*?</\1>|<(h[1-6]) class=\"code-header\".*?</\2>", re.S)
TAGS = re.compile(r"<[^>]+>")
# A bracketed word or path, not preceded by `#` (an attribute) and not followed by `(` or `:`
# (a written-out Markdown link or a footnote definition).
LITERAL = re.compile(r"(?<![#\w])\[([A-Za-z_][\w:]*(?:::[\w]+)*(?:\(\))?)\](?![(:])")
IGNORED = {"endif", "if"}


def literal_links(page: pathlib.Path):
    text = page.read_text(errors="replace")
    main = text.split('<section id="main-content"', 1)[-1]
    prose = html.unescape(TAGS.sub(" ", CODE.sub(" ", main)))
    return [m for m in LITERAL.findall(prose) if m not in IGNORED]


def main(dirs):
    bad = 0
    for root in map(pathlib.Path, dirs):
        if not root.is_dir():
            print(f"check_doc_links: {root} is not a directory (run cargo doc first)")
            return 2
        for page in sorted(root.rglob("*.html")):
            for link in literal_links(page):
                print(f"{page}: unresolved link [{link}]")
                bad += 1
    if bad:
        print(f"check_doc_links: {bad} unresolved links render as text")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
