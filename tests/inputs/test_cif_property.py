"""Property test: the fast CIF reader never changes chemistry.

Real Materials Project and GNoME CIFs from ../shared, mutated the ways CIFs written by other
programs differ (letter case of symbols, labels and tags; whitespace; the column order of the
atom-site loop), must parse to the composition and volume pymatgen's own parser reads from the
same text, or be rejected with a reason. Never a different formula.
"""

from __future__ import annotations

import random
import re
import warnings
import zipfile

import pytest
from pymatgen.io.cif import CifParser

from elastic_atlas.contract.reasons import StructureRejected
from elastic_atlas.inputs.cif import parse_cif

pytestmark = pytest.mark.slow  # every test of this module takes seconds

PER_SOURCE = 40


def _atom_loop(lines: list[str]) -> tuple[int, int, int]:
    """(first header line, first row line, end) of the _atom_site_ loop."""
    head = next(i for i, line in enumerate(lines) if line.strip().startswith("_atom_site_"))
    rows = head
    while rows < len(lines) and lines[rows].strip().startswith("_"):
        rows += 1
    end = rows
    while (
        end < len(lines)
        and lines[end].strip()
        and not lines[end].strip().startswith(("loop_", "_", "data_"))
    ):
        end += 1
    return head, rows, end


def _map_atom_rows(text: str, change) -> str:
    lines = text.splitlines()
    head, rows, end = _atom_loop(lines)
    headers, table = lines[head:rows], [line.split() for line in lines[rows:end]]
    headers, table = change(headers, table)
    body = ["  " + "  ".join(row) for row in table]
    return "\n".join(lines[:head] + headers + body + lines[end:]) + "\n"


def _symbol_case(transform):
    def change(headers, table):
        names = [h.strip() for h in headers]
        columns = [names.index(n) for n in ("_atom_site_type_symbol", "_atom_site_label")]
        for row in table:
            for c in columns:
                row[c] = transform(row[c])
        return headers, table

    return change


def _reverse_columns(headers, table):
    return headers[::-1], [row[::-1] for row in table]


MUTATIONS = {
    "upper symbols": lambda t: _map_atom_rows(t, _symbol_case(str.upper)),
    "lower symbols": lambda t: _map_atom_rows(t, _symbol_case(str.lower)),
    "swapped case": lambda t: _map_atom_rows(t, _symbol_case(str.swapcase)),
    "reversed loop": lambda t: _map_atom_rows(t, _reverse_columns),
    "upper tags": lambda t: re.sub(r"(?m)^(\s*)(_\S+)", lambda m: m[1] + m[2].upper(), t),
    "whitespace": lambda t: "\n\n".join(
        re.sub(r" +", "\t ", line) + "  " for line in t.split("\n")
    ),
}


def _pymatgen(text: str):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            return CifParser.from_str(text).parse_structures(primitive=False)[0]
        except Exception:  # pymatgen's own failure: then ours must refuse too
            return None


def _sample(path, n: int) -> list[str]:
    with zipfile.ZipFile(path) as archive:
        names = sorted(n for n in archive.namelist() if n.lower().endswith(".cif"))
        chosen = random.Random(2025).sample(names, n)
        return [archive.read(name).decode() for name in chosen]


@pytest.mark.shared
@pytest.mark.parametrize("mutation", sorted(MUTATIONS))
def test_mutated_real_cifs_parse_as_pymatgen_reads_them_or_are_rejected(shared, mutation):
    texts = _sample(shared / "mp2018" / "structures.zip", PER_SOURCE)
    texts += _sample(shared / "gnome" / "by_id.zip", PER_SOURCE)
    agreed = rejected = 0
    for original in texts:
        text = MUTATIONS[mutation](original)
        # pymatgen matches tags case-sensitively, against the CIF specification (data names
        # are case-insensitive); where it cannot read the mutated text, the unmutated text's
        # reading is the reference: the chemistry must be the original's.
        reference = _pymatgen(text) or _pymatgen(original)
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                ours = parse_cif(text)
        except StructureRejected as error:
            assert error.reason, "a rejection always has a reason"
            rejected += 1
            continue
        assert reference is not None, f"{mutation}: pymatgen reads neither text"
        assert ours.composition == reference.composition, (mutation, ours.formula)
        assert ours.volume == pytest.approx(reference.volume, rel=1e-6)
        agreed += 1
    assert agreed + rejected == len(texts)
    assert agreed >= 0.9 * len(texts), f"{mutation}: only {agreed} of {len(texts)} read"
