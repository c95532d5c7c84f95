"""Read Debian package stanzas (Packages + Translation-en) from an apt lists directory."""
import glob
import os
import subprocess

LISTS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "src", "apt-lists")


def _cat(path):
    return subprocess.run(["/usr/lib/apt/apt-helper", "cat-file", path], capture_output=True,
                          check=True).stdout.decode("utf-8", "replace")


def stanzas(text):
    for block in text.split("\n\n"):
        fields, key = {}, None
        for line in block.split("\n"):
            if not line:
                continue
            if line[0] in " \t" and key:
                fields[key] += "\n" + line
            else:
                key, _, val = line.partition(":")
                fields[key] = val.strip()
        if fields:
            yield fields


def packages():
    """Yields dicts with package, source, section, version, synopsis, long (long description,
    paragraphs joined, the ' .' separator lines removed), for bookworm main amd64."""
    (pk,) = glob.glob(os.path.join(LISTS, "*_bookworm_main_binary-amd64_Packages*"))
    (tr,) = glob.glob(os.path.join(LISTS, "*_bookworm_main_i18n_Translation-en*"))
    desc = {}
    for s in stanzas(_cat(tr)):
        desc[(s["Package"], s["Description-md5"])] = s["Description-en"]
    for s in stanzas(_cat(pk)):
        d = desc.get((s["Package"], s.get("Description-md5")))
        if d is None:
            continue
        synopsis, _, body = d.partition("\n")
        lines = [l[1:] if l.startswith(" ") else l for l in body.split("\n")]
        long = "\n".join("" if l.strip() == "." else l for l in lines)
        yield {"package": s["Package"], "source": s.get("Source", s["Package"]).split(" ")[0],
               "section": s.get("Section", ""), "version": s.get("Version", ""),
               "synopsis": synopsis.strip(), "long": long}
