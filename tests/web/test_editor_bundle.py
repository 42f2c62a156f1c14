"""The committed code-editor bundle (web/static/editor/editor.js) is exactly what a fresh
build gives: `npm ci` from package-lock.json and build.mjs in a folder of their own, then the
bytes compared. Node.js and npm come from `deploy/ensure-system.sh node` (`make test`)."""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
from pathlib import Path

from support import ROOT, require_service

EDITOR = Path("platform/servelab/web/static/editor")
BUILT = ("editor.js", "editor.licenses.txt")
NPM_TIMEOUT_SECONDS = 300


def _run(args: list[str], cwd: Path) -> str:
    done = subprocess.run(
        args, cwd=cwd, capture_output=True, text=True, timeout=NPM_TIMEOUT_SECONDS, check=False
    )
    assert done.returncode == 0, f"{' '.join(args)} failed:\n{done.stdout}\n{done.stderr}"
    return done.stdout


def test_the_committed_bundle_is_a_fresh_build(tmp_path: Path) -> None:
    node, npm = shutil.which("node"), shutil.which("npm")
    require_service(bool(node and npm), "Node.js and npm (deploy/ensure-system.sh node)")
    assert node and npm
    # The build's inputs only, laid out as in the repository (build.mjs resolves from there).
    for name in ("package.json", "package-lock.json"):
        shutil.copy2(ROOT / name, tmp_path / name)
    shutil.copytree(ROOT / EDITOR / "src", tmp_path / EDITOR / "src")
    shutil.copy2(ROOT / EDITOR / "build.mjs", tmp_path / EDITOR / "build.mjs")
    # --ignore-scripts: no package runs code at install (esbuild's binary is a plain dependency).
    _run([npm, "ci", "--ignore-scripts", "--no-audit", "--no-fund"], tmp_path)
    out = tmp_path / "out"
    print("\n" + _run([node, str(tmp_path / EDITOR / "build.mjs"), str(out)], tmp_path).strip())
    stale = [name for name in BUILT if _digest(out / name) != _digest(ROOT / EDITOR / name)]
    assert stale == [], f"{stale} in {EDITOR} are not a fresh build: run `make editor`"


def _digest(path: Path) -> str:
    # Compared as digests: pytest's diff of two 400 KB byte strings takes minutes.
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_the_editor_packages_are_pinned_exactly() -> None:
    """Exact versions in package.json, so the lock file is the whole story."""
    manifest = json.loads((ROOT / "package.json").read_text())
    lock = json.loads((ROOT / "package-lock.json").read_text())
    wanted = {**manifest["dependencies"], **manifest["devDependencies"]}
    assert {"codemirror", "@codemirror/lang-python", "esbuild"} <= set(wanted)
    for name, version in wanted.items():
        assert version[0].isdigit(), f"{name}: {version} is a range, pin one version"
        assert lock["packages"][f"node_modules/{name}"]["version"] == version, name
