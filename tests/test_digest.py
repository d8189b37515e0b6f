"""Which code made an output: the digest of the package's sources, beside its version."""

from __future__ import annotations

import json
import shutil

from elastic_atlas.digest import PACKAGE, source_digest, tree_digest


def test_the_source_digest_follows_the_code_and_nothing_else(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    for folder in (a, b):
        (folder / "sub").mkdir(parents=True)
        (folder / "x.py").write_text("print(1)\n")
        (folder / "sub" / "y.py").write_text("y = 2\n")
    (b / "notes.txt").write_text("not code")  # only Python sources count
    assert tree_digest(a) == tree_digest(b)
    (b / "sub" / "y.py").write_text("y = 3\n")  # one byte of code
    assert tree_digest(a) != tree_digest(b)
    (b / "sub" / "y.py").write_text("y = 2\n")
    (b / "sub" / "y.py").rename(b / "sub" / "z.py")  # same bytes, another module
    assert tree_digest(a) != tree_digest(b)
    # path and content are length-prefixed: moving a byte from one into the other shows
    (b / "sub" / "z.py").rename(b / "sub" / "y.py")
    (b / "x.py").write_text("print(1)\ny = 2\n")
    (b / "sub" / "y.py").write_text("")
    assert tree_digest(a) != tree_digest(b)


def test_a_copy_of_the_package_has_the_packages_digest(tmp_path):
    copy = tmp_path / "elastic_atlas"
    shutil.copytree(PACKAGE, copy, ignore=shutil.ignore_patterns("__pycache__"))
    assert tree_digest(copy) == source_digest()


def test_build_summary_and_release_name_the_code(released):
    descriptor = json.loads(next((released / "releases").glob("*/datapackage.json")).read_text())
    assert descriptor["elastic_atlas:code_sha256"] == source_digest()
