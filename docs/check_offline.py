"""Check that a built HTML site loads nothing from the network.

``python docs/check_offline.py docs/_build/html``: exits 1 listing every page that
loads a script, stylesheet, font, image or frame from an absolute URL (``http:``,
``https:`` or ``//host``), and every local script or stylesheet that is missing.
Plain links (``<a href="https://...">``) are fine: following them is the reader's choice.
"""
import os
import re
import sys

# attributes that make the browser fetch something when the page opens
LOADS = re.compile(r"""<(script|img|iframe|source|embed|link)\b[^>]*?\b(src|href)\s*=\s*["']([^"']+)["']""",
                   re.I)
CSS_URL = re.compile(r"""(?:@import\s+(?:url\()?|url\()\s*["']?([^"')\s]+)""", re.I)
REMOTE = re.compile(r"^(https?:)?//", re.I)


def problems(root):
    found = []
    for folder, _, files in os.walk(root):
        for name in files:
            path = os.path.join(folder, name)
            rel = os.path.relpath(path, root)
            if name.endswith(".html"):
                with open(path, encoding="utf-8", errors="replace") as fh:
                    text = fh.read()
                for tag, _attr, url in LOADS.findall(text):
                    if tag.lower() == "link" and not re.search(
                            r"rel=[\"'](stylesheet|icon|preload|modulepreload)", text[text.find(url) - 200:text.find(url)]):
                        continue   # <link rel="next"/"index"...> is navigation, not a load
                    if REMOTE.match(url):
                        found.append(f"{rel}: <{tag}> loads {url}")
                    elif tag.lower() in ("script", "link") and not url.startswith(("data:", "#")):
                        local = os.path.normpath(os.path.join(folder, url.split("?")[0].split("#")[0]))
                        if not os.path.exists(local):
                            found.append(f"{rel}: <{tag}> needs {url}, which is not in the build")
            elif name.endswith(".css"):
                with open(path, encoding="utf-8", errors="replace") as fh:
                    for url in CSS_URL.findall(fh.read()):
                        if REMOTE.match(url):
                            found.append(f"{rel}: loads {url}")
    return found


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    root = argv[0] if argv else os.path.join(os.path.dirname(os.path.abspath(__file__)), "_build", "html")
    if not os.path.exists(os.path.join(root, "index.html")):
        print(f"{root}: no index.html (build the docs first)", file=sys.stderr)
        return 1
    found = problems(root)
    for line in found:
        print(line, file=sys.stderr)
    pages = sum(f.endswith(".html") for _, _, fs in os.walk(root) for f in fs)
    print(f"{pages} pages checked: " + ("nothing loaded from the network" if not found
                                        else f"{len(found)} problem(s)"))
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
