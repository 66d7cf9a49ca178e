# SPDX-License-Identifier: GPL-3.0-or-later
"""The READMEs' tables of role variables, generated from each role's meta/argument_specs.yml.

    python3 hacking/readme_vars.py          rewrite the tables in README.md and roles/*/README.md
    python3 hacking/readme_vars.py --check  exit 1 when one of them is out of date

A table sits between <!-- role-variables: ROLE --> (or ROLE:ENTRY_POINT) and
<!-- /role-variables --> lines. The keys of a dict variable are rows of their own
(`kdump_target.type`).
"""

import json
import os
import re
import sys

import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
README = os.path.join(ROOT, "README.md")
ROLES = ("kdump", "dump_server")
BLOCK = re.compile(r"(<!-- role-variables: (\S+) -->\n)(.*?)(<!-- /role-variables -->)", re.S)
MARKUP = re.compile(r"\b([OVMPCIL])\(([^()]*)\)")


def plain(text):
    """Ansible doc markup to Markdown: O(x), V(x), C(x) -> `x`; M(x), P(x#y) -> x."""
    def repl(match):
        kind, value = match.groups()
        if kind in "MP":
            return value.split("#")[0]
        if kind in "IL":
            return value
        return "`%s`" % value
    return MARKUP.sub(repl, text)


def cell(text):
    return plain(" ".join(str(text).split())).replace("|", "\\|")


def default_text(option):
    if "default" not in option or option["default"] is None:
        return "-"
    value = option["default"]
    if isinstance(value, str):
        return "`%s`" % value if value else '`""`'
    return "`%s`" % json.dumps(value, separators=(", ", ": "))


def _rows(name, option):
    description = option.get("description", "")
    if isinstance(description, list):
        description = " ".join(description)
    if option.get("choices"):
        description += " One of %s." % ", ".join("`%s`" % c for c in option["choices"])
    if option.get("required"):
        description += " Required."
    kind = option.get("type", "str")
    if option.get("elements"):
        kind = "%s of %s" % (kind, option["elements"])
    rows = ["| `%s` | %s | %s | %s |" % (name, kind, default_text(option), cell(description))]
    joiner = "[]." if option.get("elements") == "dict" else "."
    for key, sub in (option.get("options") or {}).items():
        rows += _rows(name + joiner + key, sub)
    return rows


def table(role):
    role, _colon, entry = role.partition(":")
    with open(os.path.join(ROOT, "roles", role, "meta", "argument_specs.yml")) as handle:
        spec = yaml.safe_load(handle)["argument_specs"][entry or "main"].get("options", {})
    lines = ["| Variable | Type | Default | Description |", "|---|---|---|---|"]
    for name, option in spec.items():
        lines += _rows(name, option)
    return "\n".join(lines) + "\n"


def render(text):
    return BLOCK.sub(lambda m: m.group(1) + table(m.group(2)) + m.group(4), text)


def readmes():
    return [README] + [os.path.join(ROOT, "roles", role, "README.md") for role in ROLES]


def main(argv):
    stale = []
    for path in readmes():
        with open(path) as handle:
            text = handle.read()
        new = render(text)
        if new == text:
            continue
        stale.append(os.path.relpath(path, ROOT))
        if "--check" not in argv:
            with open(path, "w") as handle:
                handle.write(new)
    if stale and "--check" in argv:
        print("%s: the role variable tables are out of date; run python3 hacking/readme_vars.py"
              % ", ".join(stale))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
