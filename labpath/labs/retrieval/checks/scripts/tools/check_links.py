"""Find broken links in the markdown files of a documentation folder."""

import re
import sys
import urllib.request
from pathlib import Path

LINK = re.compile(r"\[[^\]]*\]\((http[^)]+)\)")


def links_in(folder):
    for md in Path(folder).rglob("*.md"):
        for url in LINK.findall(md.read_text(encoding="utf-8")):
            yield md, url


def is_broken(url, timeout=10):
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp:
            return resp.status >= 400
    except OSError:
        return True


if __name__ == "__main__":
    for md, url in links_in(sys.argv[1]):
        if is_broken(url):
            print(f"{md}: {url}")
