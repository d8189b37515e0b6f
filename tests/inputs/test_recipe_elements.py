"""The radioactive elements a recipe screens out by default, spelled out in inputs/recipe.py so
that reading a recipe (and training) needs no pymatgen: they must be pymatgen's own list."""

from __future__ import annotations

from pymatgen.core import Element

from elastic_atlas.inputs.recipe import RADIOACTIVE, ScreenSettings


def test_the_spelled_out_list_is_tc_pm_and_every_element_from_polonium_on():
    expected = ("Tc", "Pm", *(Element.from_Z(z).symbol for z in range(84, 119)))
    assert expected == RADIOACTIVE


def test_a_recipe_screens_them_out_unless_it_says_otherwise():
    assert ScreenSettings().radioactive == list(RADIOACTIVE)
    assert "U" in ScreenSettings().radioactive and "Bi" not in ScreenSettings().radioactive
