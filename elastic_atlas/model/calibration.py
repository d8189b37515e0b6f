"""From an ensemble's spread to a calibrated standard uncertainty, and how well it covers.

The members of an ensemble agree more than they are right: their spread alone covers far fewer
than 68 % of held-out errors. The calibrated uncertainty is

    σ = √(a² + (b · spread)²)        (log10 GPa)

with `a` the error every prediction carries and `b` how much the spread says about the rest.
`a` and `b` are fitted on entries the members did not train on and that are not the evaluation
entries (the fold's validation part): |error| ≤ σ for 68.27 % of them, as for a normal
distribution, and b chosen to bring the share within 2σ as close to 95.45 % as it goes.

CGCNN's errors have heavier tails than a normal distribution (a few crystals are far off
whatever the members say), so 2σ covers fewer than 95 %; `k95` is the multiple of σ that covers
95.45 % of the calibration entries, so ±k95·σ is an honest 95 % interval. The test entries and
Materials Project entries outside the training data then measure all three shares, and a fourth:
the `2σ ceiling`, the most that 2σ could hold were σ stretched until it holds 73 % (the top of
68 ± 5 %). When that ceiling is below 92 %, no rescaling of σ gives both a 1σ share within
68 ± 5 % and a 2σ share within 95 ± 3 % on those entries: the errors' tails, not the fit, decide.

A calibration may also carry `Groups` (Mondrian calibration): σ = m_g·√(a² + (b·s)²) and the 95 %
factor k_g, per group g of rows — a band of the base σ (its terciles on the calibration entries)
crossed with "predicted soft" (B below a threshold). Each group's m_g and k_g are the 68.27 % and
95.45 % quantiles of |error| / base σ over the group's calibration entries, so the coverage holds
per group rather than only on average. The calibration entries are a weighted mixture: the
validation entries (errors like the training distribution's) and leave-chemical-system-out
entries (errors of crystals whose chemical system the network never saw, like most rows of a
release), the latter with total weight `leave_out_weight`.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

ONE_SIGMA = 0.6827  # P(|z| ≤ 1) of a standard normal
TWO_SIGMA = 0.9545  # P(|z| ≤ 2)
ONE_SIGMA_AT_MOST = 0.73  # the top of the 68 ± 5 % a 1σ share may have
B_GRID = np.linspace(0.0, 20.0, 2001)  # spread multipliers tried; 0: spread says nothing


def group_count(edges: int, soft: bool) -> int:
    """How many groups `edges` band edges (× soft or not) make."""
    return (edges + 1) * (2 if soft else 1)


def group_index(base: np.ndarray, edges: tuple[float, ...], soft: np.ndarray | None) -> np.ndarray:
    """Each row's group: its band of the base σ, times two plus 1 if predicted soft."""
    band = np.digitize(np.asarray(base), edges)
    return band if soft is None else band * 2 + np.asarray(soft, dtype=int)


@dataclass(frozen=True)
class Groups:
    """Per-group multipliers of the base σ (see the module docstring)."""

    edges: tuple[float, ...]  # ascending bounds of the base-σ bands (log10 GPa)
    soft_bulk_modulus: float | None  # GPa: rows predicted below it form groups of their own
    multipliers: tuple[float, ...]  # m_g, one per group (index: band · 2 + soft, or band)
    coverage_factors: tuple[float, ...]  # k_g: ±k_g·σ holds 95.45 % of the group's entries
    leave_out_weight: float  # share of the leave-out entries in the calibration mixture

    def __post_init__(self) -> None:
        count = group_count(len(self.edges), self.soft_bulk_modulus is not None)
        if len(self.multipliers) != count or len(self.coverage_factors) != count:
            raise ValueError(f"{count} groups need {count} multipliers and coverage factors")
        if list(self.edges) != sorted(self.edges):
            raise ValueError("the band edges must ascend")

    def index(self, base: np.ndarray, bulk: np.ndarray | None) -> np.ndarray:
        """The group of each row from its base σ and predicted bulk modulus (GPa)."""
        if self.soft_bulk_modulus is None:
            return group_index(base, self.edges, None)
        if bulk is None:
            raise ValueError("this calibration groups rows by predicted B: give the bulk moduli")
        return group_index(base, self.edges, np.asarray(bulk) < self.soft_bulk_modulus)


@dataclass(frozen=True)
class Calibration:
    a: float  # log10 GPa
    b: float  # dimensionless
    k95: float = 2.0  # ±k95·σ covers 95.45 % of the calibration entries
    groups: Groups | None = None  # Mondrian multipliers; None: one σ form for every row

    @classmethod
    def from_dict(cls, entry: dict[str, Any]) -> Calibration:
        """From a model card's `calibration` (as `as_dict` wrote it)."""
        groups = entry.get("groups")
        if groups is not None:
            groups = Groups(**{k: tuple(v) if isinstance(v, list) else v
                               for k, v in groups.items()})  # fmt: skip
        return cls(entry["a"], entry["b"], entry.get("k95", 2.0), groups)

    def base(self, spread: np.ndarray) -> np.ndarray:
        return np.sqrt(self.a**2 + (self.b * np.asarray(spread)) ** 2)

    def sigma(self, spread: np.ndarray, bulk: np.ndarray | None = None) -> np.ndarray:
        """The calibrated standard uncertainty; `bulk` (predicted B, GPa) where groups use it."""
        base = self.base(spread)
        if self.groups is None:
            return base
        return base * np.asarray(self.groups.multipliers)[self.groups.index(base, bulk)]

    def factor(self, spread: np.ndarray, bulk: np.ndarray | None = None) -> np.ndarray:
        """The coverage factor k of each row: ±k·σ is its 95 % interval."""
        if self.groups is None:
            return np.full(np.shape(spread), self.k95)
        index = self.groups.index(self.base(spread), bulk)
        return np.asarray(self.groups.coverage_factors)[index]

    def expanded(self, spread: np.ndarray, bulk: np.ndarray | None = None) -> np.ndarray:
        """U = k·σ, the half-width of the 95 % interval (GUM's expanded uncertainty)."""
        return self.factor(spread, bulk) * self.sigma(spread, bulk)

    def as_dict(self) -> dict[str, Any]:
        out = asdict(self)
        if self.groups is None:
            out.pop("groups")
        return out


def coverage(
    errors: np.ndarray, sigma: np.ndarray, k95: float | np.ndarray = 2.0
) -> dict[str, float]:
    """Shares of |error| within σ, 2σ and k95·σ (k95 one factor, or one per row), the 2σ
    ceiling, and the entries counted."""
    ratio = np.abs(np.asarray(errors)) / np.asarray(sigma)
    return {
        "within_1_sigma": float(np.mean(ratio <= 1)),
        "within_2_sigma": float(np.mean(ratio <= 2)),
        "within_k95_sigma": float(np.mean(ratio <= k95)),
        "two_sigma_ceiling": two_sigma_ceiling(ratio),
        "n": len(ratio),
    }


def two_sigma_ceiling(ratio: np.ndarray) -> float:
    """The largest share within 2·m·σ over the scales m that keep the share within m·σ at or
    below 73 %: `ratio` is |error| / σ. The shares grow with m, so the largest such m is the
    one that holds exactly the ⌊0.73·n⌋ smallest ratios (ties aside)."""
    ordered = np.sort(np.asarray(ratio, dtype=np.float64))
    kept = int(np.floor(ONE_SIGMA_AT_MOST * len(ordered)))
    if kept == 0:
        return float("nan")
    scale = ordered[kept - 1]
    if np.count_nonzero(ordered <= scale) > kept:  # ties at the scale: step just below it
        scale = np.nextafter(scale, 0.0)
    return float(np.mean(ordered <= 2 * scale))


def fit_calibration(errors: np.ndarray, spread: np.ndarray) -> Calibration:
    """(a, b) with exactly 68.27 % of |errors| ≤ σ and 2σ coverage closest to 95.45 %.

    For a given b, |e| ≤ σ ⇔ e² − (b·s)² ≤ a², so the a that covers 68.27 % is a quantile in
    closed form; b is then chosen on a grid for the 2σ share. Deterministic, no optimiser.
    """
    e2 = np.asarray(errors, dtype=np.float64) ** 2
    s2 = np.asarray(spread, dtype=np.float64) ** 2
    if len(e2) < 20:
        raise ValueError(f"{len(e2)} entries are too few to calibrate an uncertainty")
    best: tuple[float, Calibration] | None = None
    for b in B_GRID:
        a2 = float(np.quantile(e2 - b * b * s2, ONE_SIGMA))
        if a2 <= 0:
            break  # larger b only covers more with a = 0: the 1σ share can no longer be met
        calibration = Calibration(float(np.sqrt(a2)), float(b))
        within = coverage(np.sqrt(e2), calibration.sigma(np.sqrt(s2)))["within_2_sigma"]
        miss = abs(within - TWO_SIGMA)
        if best is None or miss < best[0] - 1e-12:
            best = (miss, calibration)
    if best is None:
        raise ValueError("most errors are exactly 0: nothing to calibrate")
    fitted = best[1]
    ratio = np.sqrt(e2) / fitted.sigma(np.sqrt(s2))
    return Calibration(fitted.a, fitted.b, float(np.quantile(ratio, TWO_SIGMA)))


def weighted_quantile(values: np.ndarray, weights: np.ndarray, q: float) -> float:
    """The smallest value whose weighted share at or below it reaches q (inverted CDF)."""
    return float(np.quantile(values, q, method="inverted_cdf", weights=weights))


def fit_groups(
    base: Calibration,
    ratio: np.ndarray,
    band_of: np.ndarray,
    soft: np.ndarray | None,
    weights: np.ndarray,
    edges: tuple[float, ...],
    soft_bulk_modulus: float | None,
    leave_out_weight: float,
) -> Calibration:
    """`base` with Mondrian groups fitted on calibration entries: `ratio` = |error| / base σ,
    `band_of` their base σ, `soft` whether each is predicted soft, `weights` their weights."""
    groups = group_index(band_of, edges, soft)
    multipliers, factors = [], []
    for group in range(group_count(len(edges), soft is not None)):
        chosen = groups == group
        if chosen.sum() < 20:
            raise ValueError(f"group {group} has {chosen.sum()} calibration entries (< 20)")
        m68 = weighted_quantile(ratio[chosen], weights[chosen], ONE_SIGMA)
        multipliers.append(m68)
        factors.append(weighted_quantile(ratio[chosen], weights[chosen], TWO_SIGMA) / m68)
    fitted = Groups(tuple(edges), soft_bulk_modulus, tuple(multipliers), tuple(factors),
                    leave_out_weight)  # fmt: skip
    overall = ratio / np.asarray(multipliers)[groups]
    k95 = weighted_quantile(overall, weights, TWO_SIGMA)  # the factor for all rows together
    return Calibration(base.a, base.b, k95, fitted)
