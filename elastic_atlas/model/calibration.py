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
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

ONE_SIGMA = 0.6827  # P(|z| ≤ 1) of a standard normal
TWO_SIGMA = 0.9545  # P(|z| ≤ 2)
ONE_SIGMA_AT_MOST = 0.73  # the top of the 68 ± 5 % a 1σ share may have
B_GRID = np.linspace(0.0, 20.0, 2001)  # spread multipliers tried; 0: spread says nothing


@dataclass(frozen=True)
class Calibration:
    a: float  # log10 GPa
    b: float  # dimensionless
    k95: float = 2.0  # ±k95·σ covers 95.45 % of the calibration entries

    def sigma(self, spread: np.ndarray) -> np.ndarray:
        return np.sqrt(self.a**2 + (self.b * np.asarray(spread)) ** 2)

    def expanded(self, spread: np.ndarray) -> np.ndarray:
        """U = k95·σ, the half-width of the 95 % interval (GUM's expanded uncertainty)."""
        return self.k95 * self.sigma(spread)

    def as_dict(self) -> dict[str, float]:
        return asdict(self)


def coverage(errors: np.ndarray, sigma: np.ndarray, k95: float = 2.0) -> dict[str, float]:
    """Shares of |error| within σ, 2σ and k95·σ, the 2σ ceiling, and the entries counted."""
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
