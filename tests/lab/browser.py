# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later
"""Look at the fleet report (report.html) in headless Chromium: a screenshot, and the text
of every cell after the browser parsed the page.

    python3 browser.py REPORT_DIR [--expect-all-passed]

writes REPORT_DIR/report.png and prints each host's row; with --expect-all-passed it fails
unless every host is ready and passed its crash test, on the page and in report.json.
"""

from __future__ import absolute_import, division, print_function

import argparse
import json
import os
import shutil
import struct
import subprocess
import sys
import tempfile
from html.parser import HTMLParser

BROWSERS = ("chromium", "chromium-browser", "google-chrome")
WINDOW = (1400, 1000)


class Cells(HTMLParser):
    """Text of every element with a data-field (by host, from the row's data-host) or a
    data-summary; and every tag name seen."""

    def __init__(self):
        HTMLParser.__init__(self)
        self.cells, self.summary, self.tags = {}, {}, []
        self.host, self.key, self.depth, self.text = None, None, 0, []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        self.tags.append(tag)
        if tag == "tr" and "data-host" in attrs:
            self.host = attrs["data-host"]
        if self.key is not None:
            self.depth += 1
        elif "data-field" in attrs and self.host:
            self.key, self.depth, self.text = (self.host, attrs["data-field"]), 0, []
        elif "data-summary" in attrs:
            self.key, self.depth, self.text = ("summary", attrs["data-summary"]), 0, []

    def handle_endtag(self, tag):
        if self.key is None:
            if tag == "tr":
                self.host = None
            return
        if self.depth:
            self.depth -= 1
            return
        text = " ".join("".join(self.text).split())
        if self.key[0] == "summary":
            self.summary[self.key[1]] = text
        else:
            self.cells.setdefault(self.key[0], {})[self.key[1]] = text
        self.key = None

    def handle_data(self, data):
        if self.key is not None:
            self.text.append(data)


def find_browser():
    for name in BROWSERS:
        if shutil.which(name):
            return shutil.which(name)
    return None


def chromium(exe, profile, *args):
    out = subprocess.run([exe, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
                          "--no-first-run", "--user-data-dir=%s" % profile] + list(args),
                         stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True,
                         timeout=120, check=False)
    if out.returncode != 0:
        raise RuntimeError("%s failed (%d): %s" % (exe, out.returncode, out.stderr[-2000:]))
    return out.stdout


def png_size(path):
    with open(path, "rb") as handle:
        head = handle.read(24)
    if head[:8] != b"\x89PNG\r\n\x1a\n":
        raise RuntimeError("%s is not a PNG" % path)
    return struct.unpack(">II", head[16:24])


def look(exe, html, screenshot):
    """Screenshot ``html`` into ``screenshot``; return (Cells of the parsed page, the DOM)."""
    page = "file://%s" % os.path.abspath(html)
    profile = tempfile.mkdtemp(prefix="kdump-report-browser-")
    try:
        chromium(exe, profile, "--window-size=%d,%d" % WINDOW, "--screenshot=%s" % screenshot, page)
        dom = chromium(exe, profile, "--dump-dom", page)
    finally:
        shutil.rmtree(profile, ignore_errors=True)
    cells = Cells()
    cells.feed(dom)
    return cells, dom


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("report_dir")
    parser.add_argument("--expect-all-passed", action="store_true")
    args = parser.parse_args(argv)
    exe = find_browser()
    if exe is None:
        print("no Chromium (%s): install the Debian package chromium" % ", ".join(BROWSERS))
        return 2
    shot = os.path.join(args.report_dir, "report.png")
    cells, _dom = look(exe, os.path.join(args.report_dir, "report.html"), shot)
    print("screenshot %s (%dx%d)" % ((shot,) + png_size(shot)))
    for key in sorted(cells.summary):
        print("summary %-18s %s" % (key, cells.summary[key]))
    problems = []
    with open(os.path.join(args.report_dir, "report.json")) as handle:
        data = json.load(handle)
    for row in data["hosts"]:
        cell = cells.cells.get(row["host"])
        if cell is None:
            problems.append("%s is in report.json but has no row on the page" % row["host"])
            continue
        print("%-14s ready %-3s  crash test: %-28s  dump: %-18s  target: %s" % (
            row["host"], cell["ready"], cell["crash-test"], cell["dump"], cell["target"]))
        if args.expect_all_passed:
            if cell["ready"] != "yes" or not row["ready"]:
                problems.append("%s is not ready: %s" % (row["host"], "; ".join(row["reasons"])))
            if not cell["crash-test"].startswith("passed") or not (row["crash_test"] or {}).get("passed"):
                problems.append("%s did not pass its crash test: %s" % (
                    row["host"], (row["crash_test"] or {}).get("reason") or "not run"))
    for problem in problems:
        print("PROBLEM: %s" % problem)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
