#!/usr/bin/env python3
"""Open a report in headless Chromium and check that every <img> rendered (no broken image).

    scoreuq-check-report studies/imbalance/report.html      (or: python -m scoreuq.check_report ...)

A copy of the page gets a small script that, once the page has loaded, writes each image's
decoded size into the DOM; Chromium's ``--dump-dom`` prints that DOM. An image that Chromium
could not fetch or decode has natural width 0. Exit codes: 0 all images rendered, 1 some
image is broken (or the page has none), 2 bad input, 3 no Chromium found.
"""
from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable", "chrome", "headless_shell")
_PROBE = """<script>
window.addEventListener('load', function () {
  var out = [];
  var imgs = document.images;
  for (var i = 0; i < imgs.length; i++) {
    out.push((imgs[i].complete && imgs[i].naturalWidth > 0 ? 'OK ' : 'BROKEN ') + imgs[i].naturalWidth + 'x'
             + imgs[i].naturalHeight + ' ' + (imgs[i].alt || ('#' + i)));
  }
  var pre = document.createElement('pre');
  pre.id = 'scoreuq-image-check';
  pre.textContent = 'IMAGES ' + imgs.length + '\\n' + out.join('\\n') + '\\nEND';
  document.body.appendChild(pre);
});
</script>"""


def find_browser() -> str | None:
    env = os.environ.get("CHROMIUM")
    if env and shutil.which(env):
        return shutil.which(env)
    for name in BROWSERS:
        path = shutil.which(name)
        if path:
            return path
    return None


def check(report: Path, browser: str, timeout: float = 60.0) -> tuple[int, list[str]]:
    """``(n_images, lines)`` where each line is ``OK WxH alt`` or ``BROKEN 0x0 alt``."""
    page = report.read_text(encoding="utf-8")
    probed = page.replace("</body>", _PROBE + "</body>") if "</body>" in page else page + _PROBE
    # the copy sits beside the original, so relative image paths resolve as they would for a reader
    fd, tmp = tempfile.mkstemp(dir=report.parent, prefix=".imgcheck-", suffix=".html")
    os.close(fd)
    try:
        Path(tmp).write_text(probed, encoding="utf-8")
        with tempfile.TemporaryDirectory() as profile:
            cmd = [browser, "--headless", "--no-sandbox", "--disable-gpu", "--allow-file-access-from-files",
                   f"--user-data-dir={profile}", "--virtual-time-budget=10000", "--dump-dom", Path(tmp).resolve().as_uri()]
            r = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    finally:
        os.unlink(tmp)
    m = re.search(r"IMAGES (\d+)\n(.*?)\nEND", r.stdout, re.S)
    if m is None:
        raise RuntimeError(f"Chromium did not run the check (exit {r.returncode}): {r.stderr[-2000:]}")
    lines = [ln for ln in m.group(2).split("\n") if ln.strip()]
    return int(m.group(1)), lines


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("report", help="an HTML report (scoreuq report)")
    p.add_argument("--browser", help="Chromium binary (default: $CHROMIUM or the first of chromium, chromium-browser, google-chrome on PATH)")
    args = p.parse_args(argv)
    report = Path(args.report)
    if not report.is_file():
        print(f"scoreuq-check-report: error: {report} is not a file", file=sys.stderr)
        return 2
    browser = args.browser or find_browser()
    if browser is None:
        print("scoreuq-check-report: no Chromium found (install chromium, or set $CHROMIUM)", file=sys.stderr)
        return 3
    n, lines = check(report, browser)
    for ln in lines:
        print(ln)
    broken = [ln for ln in lines if not ln.startswith("OK ")]
    if n == 0:
        print(f"{report}: no images", file=sys.stderr)
        return 1
    if broken:
        print(f"{report}: {len(broken)} of {n} images are broken", file=sys.stderr)
        return 1
    print(f"{report}: all {n} images rendered")
    return 0


if __name__ == "__main__":
    sys.exit(main())
