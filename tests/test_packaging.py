"""The wheel's layout: one import name, `ctx_assets`, holding the repository's top-level resources/ and
contracts/ folders; every package folder listed in pyproject (a missing one would be left out of the wheel)."""

from __future__ import annotations

import subprocess
import sys
import tomllib

from .conftest import ROOT


def test_every_package_folder_is_in_the_wheel_under_one_import_name():
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    mapped = {name: ROOT / folder for name, folder in config["package-dir"].items()}
    listed = set(config["packages"])
    assert all(name == "ctx_assets" or name.startswith("ctx_assets.") for name in listed)
    found = set()
    for top, folder in {"ctx_assets": ROOT / "ctx_assets", **mapped}.items():
        for init in folder.rglob("__init__.py"):
            rel = init.parent.relative_to(folder).parts
            found.add(".".join((top, *rel)))
    assert listed == found, f"not listed: {sorted(found - listed)}; listed, no folder: {sorted(listed - found)}"
    assert mapped == {"ctx_assets.resources": ROOT / "resources", "ctx_assets.contracts": ROOT / "contracts"}
    assert "ctx_assets" in config["package-data"] and "py.typed" in config["package-data"]["ctx_assets"]
    assert (ROOT / "ctx_assets" / "py.typed").exists()


def test_the_wheel_adds_one_import_name(tmp_path):
    """`resources` and `contracts` are installed inside ctx_assets, never as top-level names."""
    code = ("import importlib.util as u; import ctx_assets.resources.output_store, ctx_assets.contracts.manifest;"
            "print([n for n in ('resources', 'contracts') if u.find_spec(n)])")
    r = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0 and r.stdout.strip() == "[]", r.stderr


def test_every_module_has_its_line_in_the_architecture_map():
    """docs/architecture.md's map names every module of the package (a contributor places a module by it):
    a module added without its line fails here."""
    import re

    doc = (ROOT / "docs" / "architecture.md").read_text()
    block = doc.split("## The map", 1)[1].split("```")[1]
    named = set(re.findall(r"[A-Za-z_][A-Za-z0-9_]*", block))
    modules = [p for folder in ("ctx_assets", "resources", "contracts") for p in (ROOT / folder).rglob("*.py")]
    assert len(modules) > 50
    missing = sorted(str(p.relative_to(ROOT)) for p in modules if p.stem not in named and p.stem != "__init__")
    assert not missing, f"not on the map in docs/architecture.md: {missing}"
