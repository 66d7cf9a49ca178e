# SPDX-License-Identifier: GPL-3.0-or-later
"""The README's tables of role variables, generated from each role's meta/argument_specs.yml.

    python3 hacking/readme_vars.py          rewrite the tables in README.md
    python3 hacking/readme_vars.py --check  exit 1 when README.md is out of date

A table sits between <!-- role-variables: ROLE --> and <!-- /role-variables --> lines.
"""

import json
import os
import re
import sys

import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
README = os.path.join(ROOT, "README.md")
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


def table(role):
    with open(os.path.join(ROOT, "roles", role, "meta", "argument_specs.yml")) as handle:
        spec = yaml.safe_load(handle)["argument_specs"]["main"]["options"]
    lines = ["| Variable | Type | Default | Description |", "|---|---|---|---|"]
    for name, option in spec.items():
        description = option.get("description", "")
        if isinstance(description, list):
            description = " ".join(description)
        if option.get("choices"):
            description += " One of %s." % ", ".join("`%s`" % c for c in option["choices"])
        kind = option.get("type", "str")
        if option.get("elements"):
            kind = "%s of %s" % (kind, option["elements"])
        lines.append("| `%s` | %s | %s | %s |" % (name, kind, default_text(option), cell(description)))
    return "\n".join(lines) + "\n"


def render(text):
    return BLOCK.sub(lambda m: m.group(1) + table(m.group(2)) + m.group(4), text)


def main(argv):
    with open(README) as handle:
        text = handle.read()
    new = render(text)
    if "--check" in argv:
        if new != text:
            print("README.md: the role variable tables are out of date; run python3 hacking/readme_vars.py")
            return 1
        return 0
    with open(README, "w") as handle:
        handle.write(new)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
