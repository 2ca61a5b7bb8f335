"""Debian packages the platform needs outside Python, installed when missing and possible."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class Need:
    package: str
    why: str
    present: Callable[[], bool]


def cjk_font_present() -> bool:
    if not shutil.which("fc-list"):
        return False
    found = subprocess.run(["fc-list", ":lang=zh-hk", "family"], capture_output=True, text=True, check=False)
    return bool(found.stdout.strip())


FONT = Need("fonts-noto-cjk", "Chinese glyphs in receipt and invoice PDFs", cjk_font_present)
GETTEXT = Need("gettext", "compiling translations (make messages)", lambda: bool(shutil.which("msgfmt")))
COMPOSE = Need(
    "docker-compose", "validating docker-compose.yml in CI", lambda: bool(shutil.which("docker-compose"))
)
CHROMIUM = Need("chromium", "browser tests of the POS and web shop", lambda: bool(shutil.which("chromium")))
POPPLER = Need("poppler-utils", "turning PDFs into images in tests", lambda: bool(shutil.which("pdftoppm")))

FOR_RUN = [FONT]
FOR_TEST = [FONT, POPPLER]  # add CHROMIUM with the first browser test
FOR_CI = [FONT, CHROMIUM, POPPLER, COMPOSE, GETTEXT]


def ensure(needs: list[Need]) -> list[Need]:
    """Installs what is missing with apt-get; returns what is still missing (after a clear warning)."""
    missing = [need for need in needs if not need.present()]
    if not missing:
        return []
    names = " ".join(need.package for need in missing)
    apt = shutil.which("apt-get")
    sudo: list[str] = [] if os.geteuid() == 0 else ["sudo", "-n"]
    if apt and (not sudo or shutil.which("sudo")):
        print(f"==> Installing system packages: {names}", flush=True)
        for need in missing:
            print(f"    {need.package}: {need.why}", flush=True)
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        update = subprocess.run([*sudo, apt, "update", "-qq"], env=env, check=False)
        if update.returncode == 0:
            subprocess.run(
                [
                    *sudo,
                    apt,
                    "install",
                    "-y",
                    "-qq",
                    "--no-install-recommends",
                    *[m.package for m in missing],
                ],
                env=env,
                check=False,
            )
    still = [need for need in missing if not need.present()]
    for need in still:
        print(
            f"WARNING: {need.package} is missing and could not be installed ({need.why}). "
            f"Install it with: sudo apt-get install {need.package}",
            flush=True,
        )
    return still
