"""Crystal graphs: up to `max_neighbors` nearest neighbours within `radius` per atom.

A graph stores only atomic numbers, neighbour indices and float32 distances (a few kB); the
Gaussian expansion of the distances happens inside the model. The conventions follow the
reference CGCNN implementation (Xie & Grossman 2018) so its checkpoints reproduce exactly:
neighbours sorted by distance, and an atom with fewer than `max_neighbors` neighbours padded with
index 0 at distance radius + 1.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
from pydantic import BaseModel, ConfigDict

from elastic_atlas.contract.reasons import StructureRejected

if TYPE_CHECKING:  # training from cached graphs runs without pymatgen
    from pymatgen.core import Structure

DEFAULT_RADIUS = 8.0
DEFAULT_MAX_NEIGHBORS = 12
DEFAULT_GAUSSIAN_STEP = 0.2


class GraphParameters(BaseModel):
    """How a structure becomes a graph; stored in every checkpoint and in the graph cache key."""

    model_config = ConfigDict(frozen=True)

    radius: float = DEFAULT_RADIUS
    max_neighbors: int = DEFAULT_MAX_NEIGHBORS
    gaussian_step: float = DEFAULT_GAUSSIAN_STEP


# Physical limits of a structure the pipeline accepts (README, "Limits"). On 6,000 random MP 2018
# and GNoME structures the extremes are: shortest interatomic distance 0.75 Å (H-H), volume per
# atom 7.0 Å^3, density 20.5 g/cm^3, 40,608 neighbour pairs within 8 Å. The limits sit far
# outside those and far inside what breaks the machine.
MIN_DISTANCE = 0.5  # Å: closer atoms are one site written twice, never a crystal
MIN_VOLUME_PER_ATOM = 2.0  # Å^3
MAX_DENSITY = 30.0  # g/cm^3 (osmium, the densest element, is 22.6)
MAX_NEIGHBOR_PAIRS = 2_000_000  # estimated pairs within the radius: ~100 MB of neighbour list
MAX_FRACTIONAL = 1000.0  # |fractional coordinate|: beyond it float64 loses the position
MAX_PERIODIC_IMAGES = 2_000_000  # atoms × lattice images the neighbour search must visit


class SparseNeighborsWarning(UserWarning):
    """Some atom has fewer neighbours than max_neighbors within the radius (graph is padded)."""


@dataclass(frozen=True)
class CrystalGraph:
    atomic_numbers: np.ndarray  # (n_atoms,) int16
    neighbor_index: np.ndarray  # (n_atoms, max_neighbors) int32, indices within this structure
    neighbor_distance: np.ndarray  # (n_atoms, max_neighbors) float32, Å
    padded_atoms: int = 0  # atoms that had fewer than max_neighbors neighbours
    # Atoms whose last kept and first dropped neighbours are equidistant but of different
    # elements: which one is kept depends on neighbour-list order, not on the crystal.
    cutoff_ties: int = 0

    @property
    def n_atoms(self) -> int:
        return int(self.atomic_numbers.shape[0])


def atomic_numbers_of(structure: Structure) -> np.ndarray:
    """Atomic numbers of an ordered structure; rejects what no graph can represent:
    no sites, disordered sites, dummy species, a cell without volume."""
    if len(structure) == 0:
        raise StructureRejected("empty_structure", "the structure has no sites")
    try:
        species = structure.species
    except AttributeError:
        raise StructureRejected(
            "partial_occupancy", "disordered site(s): a crystal graph needs one element per site"
        ) from None
    numbers = np.array([getattr(sp, "Z", 0) for sp in species], dtype=np.int64)
    bad = (numbers < 1) | (numbers > 118)  # DummySpecies has no real atomic number
    if bad.any():
        raise StructureRejected(
            "unknown_element", f"species {species[int(np.flatnonzero(bad)[0])]!s} is not an element"
        )
    fractional = structure.frac_coords
    if not np.all(np.isfinite(fractional)) or np.abs(fractional).max() > MAX_FRACTIONAL:
        raise StructureRejected(
            "bad_coordinates",
            f"fractional coordinates must be finite numbers within ±{MAX_FRACTIONAL:g}",
        )
    matrix = structure.lattice.matrix
    volume = float(np.linalg.det(matrix))
    if not np.isfinite(volume) or volume <= 1e-6:
        raise StructureRejected(
            "bad_cell", f"cell volume {volume:.6g} Å^3 (lattice vectors must span a volume)"
        )
    return numbers


def check_cell(structure: Structure, n_atoms: int, radius: float) -> None:
    """Refuse a cell no crystal has, and one whose neighbour search would exceed the budget,
    before the search allocates anything (a tiny or flat lattice multiplies the images)."""
    volume = structure.lattice.volume
    if volume / n_atoms < MIN_VOLUME_PER_ATOM:
        raise StructureRejected(
            "implausible_cell",
            f"{volume / n_atoms:.3g} Å^3 per atom (the limit is {MIN_VOLUME_PER_ATOM} Å^3)",
        )
    density = float(structure.density)
    if density > MAX_DENSITY:
        raise StructureRejected(
            "implausible_cell", f"density {density:.3g} g/cm^3 (the limit is {MAX_DENSITY})"
        )
    matrix = structure.lattice.matrix
    # Interplanar spacing of each lattice direction: V / |b × c| etc.
    spacings = [
        volume / np.linalg.norm(np.cross(matrix[(i + 1) % 3], matrix[(i + 2) % 3]))
        for i in range(3)
    ]
    images = float(np.prod([2 * np.ceil(radius / d) + 1 for d in spacings]))
    pairs = n_atoms * n_atoms / volume * (4.0 / 3.0) * np.pi * radius**3
    if n_atoms * images > MAX_PERIODIC_IMAGES or pairs > MAX_NEIGHBOR_PAIRS:
        raise StructureRejected(
            "neighbor_budget_exceeded",
            f"about {pairs:.3g} neighbour pairs over {images:.3g} lattice images within "
            f"{radius} Å (limits {MAX_NEIGHBOR_PAIRS:,} pairs, {MAX_PERIODIC_IMAGES:,} "
            "atom-images)",
        )


def check_min_distance(distances: np.ndarray, centers: np.ndarray, points: np.ndarray) -> None:
    if len(distances) and distances.min() < MIN_DISTANCE:
        i = int(distances.argmin())
        raise StructureRejected(
            "overlapping_atoms",
            f"sites {centers[i]} and {points[i]} are {distances[i]:.3g} Å apart (the limit is "
            f"{MIN_DISTANCE} Å): one site written twice, or a broken cell",
        )


def neighbor_list(structure: Structure, radius: float) -> tuple[np.ndarray, ...]:
    """(centres, neighbours, images, distances) exactly as `Structure.get_neighbor_list`.

    The same cython routine with the same arguments and the same self-pair exclusion, called
    directly because the method's own Python overhead (per-site coordinate lists) costs as much
    as the search itself for small cells.
    """
    from pymatgen.optimization.neighbors import find_points_in_spheres

    coords = np.ascontiguousarray(structure.cart_coords, dtype=float)
    centers, points, images, distances = find_points_in_spheres(
        coords,
        coords,
        r=radius,
        pbc=np.ascontiguousarray(structure.pbc, dtype=np.int64),
        lattice=np.ascontiguousarray(structure.lattice.matrix, dtype=float),
        tol=1e-8,
    )
    keep = ~((centers == points) & (distances <= 1e-8))
    return centers[keep], points[keep], images[keep], distances[keep]


def build_graph(structure: Structure, params: GraphParameters | None = None) -> CrystalGraph:
    """The crystal graph of an ordered structure; raises StructureRejected."""
    params = params or GraphParameters()
    numbers = atomic_numbers_of(structure)
    n_atoms = len(numbers)
    check_cell(structure, n_atoms, params.radius)
    centers, points, _, distances = neighbor_list(structure, params.radius)
    check_min_distance(distances, centers, points)
    counts = np.bincount(centers, minlength=n_atoms)
    if np.any(counts == 0):
        lonely = int(np.flatnonzero(counts == 0)[0])
        raise StructureRejected(
            "isolated_atom",
            f"site {lonely} ({structure[lonely].specie}) has no neighbour within {params.radius} Å",
        )
    # By centre, then distance; a stable sort, so equal distances keep the neighbour-list order,
    # exactly as the reference's `sorted(get_all_neighbors(...), key=distance)`. That order is
    # deterministic for a given structure; breaking ties by index instead changes which of
    # several equidistant neighbours is the 12th and moves 5 of the 120 reference predictions
    # by up to 0.02 log10 GPa.
    order = np.lexsort((distances, centers))
    centers, points, distances = centers[order], points[order], distances[order]
    starts = np.concatenate(([0], np.cumsum(counts)[:-1]))
    rank = np.arange(len(centers)) - starts[centers]
    keep = rank < params.max_neighbors
    index = np.zeros((n_atoms, params.max_neighbors), dtype=np.int32)
    distance = np.full((n_atoms, params.max_neighbors), params.radius + 1.0, dtype=np.float32)
    index[centers[keep], rank[keep]] = points[keep]
    distance[centers[keep], rank[keep]] = distances[keep]
    padded = int(np.sum(counts < params.max_neighbors))
    if padded:
        warnings.warn(
            f"{padded} atom(s) have fewer than {params.max_neighbors} neighbours within "
            f"{params.radius} Å; padded as the reference CGCNN does (index 0, distance radius + 1)",
            SparseNeighborsWarning,
            stacklevel=2,
        )
    ties = count_cutoff_ties(counts, starts, points, distances, numbers, params.max_neighbors)
    return CrystalGraph(numbers.astype(np.int16), index, distance, padded, ties)


def count_cutoff_ties(
    counts: np.ndarray,
    starts: np.ndarray,
    points: np.ndarray,
    distances: np.ndarray,
    numbers: np.ndarray,
    max_neighbors: int,
    tolerance: float = 1e-6,
) -> int:
    """Atoms where the max_neighbors-th and next neighbour tie in distance but differ in element."""
    over = np.flatnonzero(counts > max_neighbors)
    last, first_dropped = starts[over] + max_neighbors - 1, starts[over] + max_neighbors
    tied = np.abs(distances[first_dropped] - distances[last]) < tolerance
    different = numbers[points[first_dropped]] != numbers[points[last]]
    return int(np.sum(tied & different))
