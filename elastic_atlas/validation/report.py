"""Reading the study's own column headers, and a summary of findings for people."""

from __future__ import annotations

from elastic_atlas.validation.findings import Finding, finding_counts

# The study's appendix headers (Tables A1/A2) -> the project's column names.
PAPER_COLUMNS: dict[str, str] = {
    "ID-number": "material_id",
    "Filename": "material_id",
    "Formula": "formula",
    "N": "nsites",
    "rho": "density",
    "ρ": "density",
    "V": "volume",
    "M": "mass",
    "B": "k_vrh",
    "G": "g_vrh",
    "v_l": "v_longitudinal",
    "v_t": "v_transverse",
    "v_s": "v_mean",
    "nu": "poisson_ratio",
    "ν": "poisson_ratio",
    "theta_D": "debye_temperature",
    "θ_D": "debye_temperature",
}


def summarize(findings: list[Finding], examples: int = 5) -> str:
    """Counts per check and severity and the first offending rows of each."""
    if not findings:
        return "No findings: every checked row passed every check.\n"
    counts = finding_counts(findings)
    lines = ["Findings by check:"]
    for (severity, check), count in sorted(counts.items()):
        lines.append(f"  {severity:<7} {check:<34} {count:>8}")
        shown = [f for f in findings if f.check == check and f.severity == severity][:examples]
        for finding in shown:
            where = "table" if finding.row is None else f"row {finding.row}"
            who = f" ({finding.material_id})" if finding.material_id else ""
            prefix = f"[{finding.resource}] " if finding.resource else ""
            lines.append(f"      {prefix}{where}{who}: {finding.message}")
    errors = sum(n for (severity, _), n in counts.items() if severity == "error")
    warnings = sum(counts.values()) - errors
    lines.append(f"{errors} error(s), {warnings} warning(s).")
    return "\n".join(lines) + "\n"
