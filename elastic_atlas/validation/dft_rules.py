"""The DFT cross-check columns agree with their status: moduli published exactly when `ok`."""

from __future__ import annotations

import numpy as np

from elastic_atlas.contract.columns import Column
from elastic_atlas.contract.dft import DftStatus
from elastic_atlas.contract.physics import MAX_DFT_MODULUS
from elastic_atlas.validation.findings import Finding, findings_where
from elastic_atlas.validation.tableio import TypedColumn, TypedTable

DFT_VALUES = (Column.K_VRH_DFT, Column.G_VRH_DFT)


def check_dft_status(table: TypedTable) -> list[Finding]:
    """`ok` rows carry both DFT moduli inside (0, 1000) GPa; every other status (and a null
    status: no DFT table) carries none. A value published beside a rejected entry, or an `ok`
    without a value, is an error: the status is what tells a user whether to compare."""
    names = (*DFT_VALUES, Column.DFT_STATUS)
    if not all(name in table.columns for name in names):
        return []
    status = table.columns[Column.DFT_STATUS]
    ok = ~status.missing & (status.raw.astype(str) == DftStatus.OK.value)
    found: list[Finding] = []
    for name in DFT_VALUES:
        column = table.columns[name]
        values = column.values
        present = ~column.missing
        with np.errstate(invalid="ignore"):
            sane = present & ~column.wrong_type & (values > 0) & (values < MAX_DFT_MODULUS)
        found += findings_where(
            table,
            (ok & ~sane) | (~ok & present),
            check=f"consistency.{name}",
            severity="error",
            columns=[name, Column.DFT_STATUS],
            stored=column.raw,
            message=lambda i, n=name, c=column, s=status: (
                f"{n} = {_cell(c, i)} does not fit dft_status = "
                f"{'null' if s.missing[i] else s.raw[i]} (a value in (0, {MAX_DFT_MODULUS:g}) "
                "GPa exactly when the status is ok)"
            ),
        )
    return found


def _cell(column: TypedColumn, index: int) -> str:
    if column.missing[index]:
        return "null"
    return str(column.raw[index]) if column.wrong_type[index] else f"{column.values[index]:.6g}"
