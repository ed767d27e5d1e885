"""Safe YAML loading: tags never execute, limits hold, locations kept."""

from __future__ import annotations

import time

import pytest

from ctx_assets.core import loader
from ctx_assets.core.loader import ManifestLoadError, parse_manifest_bytes

BOMB = b"""a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]
b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]
c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]
d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]
e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]
f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]
g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]
h: &h [*g,*g,*g,*g,*g,*g,*g,*g,*g]
i: &i [*h,*h,*h,*h,*h,*h,*h,*h,*h]
"""


def _fails(raw: bytes) -> str:
    with pytest.raises(ManifestLoadError) as e:
        parse_manifest_bytes(raw, "x.yaml")
    return str(e.value)


def test_python_tag_never_executes(tmp_path):
    marker = tmp_path / "pwned"
    msg = _fails(f'x: !!python/object/apply:os.system ["touch {marker}"]\n'.encode())
    assert "not allowed" in msg
    assert not marker.exists()


def test_custom_tag_on_mapping_refused():
    assert "not allowed" in _fails(b"x: !custom {a: 1}\n")


def test_alias_bomb_refused_quickly():
    start = time.process_time()
    assert "alias" in _fails(BOMB)
    # Not a timing assert of product speed: guards that the bomb is never expanded.
    assert time.process_time() - start < 5


def test_too_many_aliases_refused(monkeypatch):
    monkeypatch.setattr(loader, "MAX_ALIASES", 3)
    assert "aliases" in _fails(b"a: &a 1\nb: [*a, *a, *a, *a]\n")


def test_recursive_alias_refused():
    assert "alias" in _fails(b"a: &a [*a]\n")


def test_size_limit(monkeypatch):
    monkeypatch.setattr(loader, "MAX_BYTES", 100)
    assert "limit" in _fails(b"a: " + b"x" * 200 + b"\n")


@pytest.mark.parametrize("raw,needle", [
    (b"", "empty"), (b"  \n# only a comment\n", "empty"), (b"- 1\n- 2\n", "mapping"),
    (b"just a string\n", "mapping"), (b"\xff\xfe\x00garbage", "UTF-8"), (b"a: [1\n", "invalid YAML"),
    (b"a: 1\na: 2\n", "duplicate key"),
])
def test_bad_documents(raw, needle):
    assert needle in _fails(raw)


def test_locations_and_plain_values():
    m = parse_manifest_bytes(b"a:\n  b: [x, {c: 2026-01-01}]\n  d: 1.5\n", "x.yaml")
    assert m.data == {"a": {"b": ["x", {"c": "2026-01-01"}], "d": 1.5}}
    assert m.marks["a.b[1].c"] == (2, 14)
    assert m.locate("a.b[1].missing") == (2, 10)  # nearest parent: the flow mapping
    assert len(m.checksum) == 64


def test_merge_keys_supported():
    m = parse_manifest_bytes(b"base: &b {x: 1}\nderived:\n  <<: *b\n  y: 2\n", "x.yaml")
    assert m.data["derived"] == {"x": 1, "y": 2}


def test_output_paths_stay_inside_the_folder(tmp_path):
    from ctx_assets.core.fsio import UnsafePathError, contained, write_atomic

    out = tmp_path / "out"
    assert contained(out, "grafana/dashboards/a.json") == (out / "grafana/dashboards/a.json").resolve()
    for bad in ("../x.yaml", "a/../../x", "/etc/passwd", "a/..", "dir/", "a\x00b"):
        with pytest.raises(UnsafePathError):
            contained(out, bad)
    (tmp_path / "elsewhere").mkdir()
    out.mkdir()
    (out / "link").symlink_to(tmp_path / "elsewhere")  # a folder symlinked outside
    with pytest.raises(UnsafePathError):
        contained(out, "link/x.yaml")
    target = contained(out, "k8s/a.yaml")
    write_atomic(target, b"x")
    assert target.read_bytes() == b"x" and oct(target.stat().st_mode & 0o777) == "0o644"
    assert not [p for p in target.parent.iterdir() if p.name.endswith(".tmp")]
