"""The crystal graph convolutional neural network (Xie & Grossman, PRL 120, 145301 (2018)).

Module and parameter names follow the reference implementation, so its `state_dict`s load
strictly. Batches are flat: the atoms of all crystals of a batch are concatenated, neighbour
indices point into that concatenation and `crystal_index` maps each atom to its crystal.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from elastic_atlas.model.architecture import Architecture
from elastic_atlas.model.graph import CrystalGraph

# exp(x) below x = −87.3 is a subnormal float32 (< 1.18e-38). A CPU computes with subnormals
# 10-100× slower, and the far tails of the Gaussian basis are full of them: they made the bond
# product, two thirds of inference, 2.5× slower. Those terms are 1e-38 of the ones beside them,
# far below what float32 resolves, so they become exactly 0 (every normal value is unchanged).
SUBNORMAL_EXPONENT = math.log(torch.finfo(torch.float32).tiny)  # −87.34


def gaussian_basis(distances: torch.Tensor, centers: torch.Tensor, width2: float) -> torch.Tensor:
    """exp(−(d − μ_k)² / w²) for each distance and centre, the subnormal tail set to 0."""
    exponent = -((distances.unsqueeze(-1) - centers) ** 2) / width2
    return torch.exp(exponent.masked_fill(exponent < SUBNORMAL_EXPONENT, float("-inf")))


class ConvLayer(nn.Module):
    """Gated graph convolution: σ(z W_f + b_f) ⊙ softplus(z W_s + b_s) summed over neighbours."""

    def __init__(self, atom_fea_len: int, nbr_fea_len: int) -> None:
        super().__init__()
        self.atom_fea_len = atom_fea_len
        self.fc_full = nn.Linear(2 * atom_fea_len + nbr_fea_len, 2 * atom_fea_len)
        self.bn1 = nn.BatchNorm1d(2 * atom_fea_len)
        self.bn2 = nn.BatchNorm1d(atom_fea_len)

    def forward(
        self, atoms: torch.Tensor, bonds: torch.Tensor, neighbors: torch.Tensor
    ) -> torch.Tensor:
        # fc_full([centre ‖ neighbour ‖ bond]) split into its three blocks: the centre and
        # neighbour products are computed once per atom and gathered, not once per edge, which
        # is the same function with about 4x fewer multiply-adds.
        f = self.atom_fea_len
        weight, bias = self.fc_full.weight, self.fc_full.bias
        centre = nn.functional.linear(atoms, weight[:, :f], bias)
        neighbour = nn.functional.linear(atoms, weight[:, f : 2 * f])
        bond = nn.functional.linear(bonds, weight[:, 2 * f :])
        z = centre.unsqueeze(1) + neighbour[neighbors] + bond
        n_atoms, n_neighbors = neighbors.shape
        gated = self.bn1(z.view(-1, 2 * f)).view(n_atoms, n_neighbors, 2 * f)
        gate, core = gated.chunk(2, dim=2)
        summed = torch.sum(torch.sigmoid(gate) * nn.functional.softplus(core), dim=1)
        return nn.functional.softplus(atoms + self.bn2(summed))


class CrystalGraphConvNet(nn.Module):
    """Embedding → n_conv ConvLayers → mean pooling → conv_to_fc → (n_h − 1) hidden → output."""

    def __init__(self, arch: Architecture, gaussian_centers: torch.Tensor, width: float) -> None:
        super().__init__()
        self.arch = arch
        self.register_buffer("gaussian_centers", gaussian_centers, persistent=False)
        self.gaussian_width = width
        self.embedding = nn.Linear(arch.atom_feature_length, arch.atom_fea_len)
        self.convs = nn.ModuleList(
            [ConvLayer(arch.atom_fea_len, arch.gaussian_length) for _ in range(arch.n_conv)]
        )
        self.conv_to_fc = nn.Linear(arch.atom_fea_len, arch.h_fea_len)
        if arch.n_h > 1:
            self.fcs = nn.ModuleList(
                [nn.Linear(arch.h_fea_len, arch.h_fea_len) for _ in range(arch.n_h - 1)]
            )
        self.fc_out = nn.Linear(arch.h_fea_len, arch.n_targets)

    def expand_distances(self, distances: torch.Tensor) -> torch.Tensor:
        """Gaussian basis exp(−(d − μ_k)² / w²), as the reference's GaussianDistance."""
        return gaussian_basis(distances, self.gaussian_centers, self.width2)

    @property
    def width2(self) -> float:
        return self.gaussian_width**2

    def forward(self, batch: GraphBatch) -> torch.Tensor:
        atoms = self.embedding(batch.atom_features)
        bonds = self.expand_distances(batch.neighbor_distance)
        for conv in self.convs:
            atoms = conv(atoms, bonds, batch.neighbor_index)
        crystals = mean_pool(atoms, batch.crystal_index, batch.n_crystals)
        hidden = nn.functional.softplus(self.conv_to_fc(nn.functional.softplus(crystals)))
        for fc in getattr(self, "fcs", []):
            hidden = nn.functional.softplus(fc(hidden))
        return self.fc_out(hidden)


def mean_pool(atoms: torch.Tensor, crystal_index: torch.Tensor, n_crystals: int) -> torch.Tensor:
    """Mean of the atom features of each crystal."""
    sums = torch.zeros(n_crystals, atoms.shape[1], dtype=atoms.dtype, device=atoms.device)
    sums.index_add_(0, crystal_index, atoms)
    counts = torch.bincount(crystal_index, minlength=n_crystals).clamp(min=1)
    return sums / counts.unsqueeze(1).to(atoms.dtype)


def gaussian_centers(radius: float, step: float) -> torch.Tensor:
    """0, step, …, radius: np.arange(0, radius + step, step) exactly as the reference."""
    return torch.tensor(np.arange(0.0, radius + step, step), dtype=torch.float32)


@dataclass
class GraphBatch:
    atom_features: torch.Tensor  # (atoms, atom_feature_length)
    neighbor_index: torch.Tensor  # (atoms, max_neighbors) int64, into this batch
    neighbor_distance: torch.Tensor  # (atoms, max_neighbors)
    crystal_index: torch.Tensor  # (atoms,) int64
    n_crystals: int

    def to(self, device: torch.device) -> GraphBatch:
        return GraphBatch(
            self.atom_features.to(device),
            self.neighbor_index.to(device),
            self.neighbor_distance.to(device),
            self.crystal_index.to(device),
            self.n_crystals,
        )


def collate(graphs: list[CrystalGraph], feature_table: np.ndarray) -> GraphBatch:
    """Concatenate graphs into one batch; `feature_table[Z]` is the feature vector of element Z."""
    sizes = np.fromiter((g.n_atoms for g in graphs), dtype=np.int64, count=len(graphs))
    offsets = np.concatenate(([0], np.cumsum(sizes)[:-1]))
    numbers = np.concatenate([g.atomic_numbers for g in graphs]).astype(np.int64)
    index = np.concatenate([g.neighbor_index + off for g, off in zip(graphs, offsets, strict=True)])
    distance = np.concatenate([g.neighbor_distance for g in graphs])
    return GraphBatch(
        atom_features=torch.from_numpy(feature_table[numbers]),
        neighbor_index=torch.from_numpy(index.astype(np.int64)),
        neighbor_distance=torch.from_numpy(distance),
        crystal_index=torch.from_numpy(np.repeat(np.arange(len(graphs)), sizes)),
        n_crystals=len(graphs),
    )


def _fold_batch_norm(bn: nn.BatchNorm1d) -> tuple[torch.Tensor, torch.Tensor]:
    """Scale and shift of an eval-mode BatchNorm: bn(x) = x * scale + shift."""
    scale = bn.weight / torch.sqrt(bn.running_var + bn.eps)
    return scale, bn.bias - bn.running_mean * scale


class FoldedCGCNN:
    """An eval-mode CGCNN re-expressed for inference only; same function, 1.2-1.7x faster.

    Each convolution's BatchNorms are folded into its linear layer and an affine; the centre and
    neighbour blocks are one matrix product per atom; the bond block is added in place into the
    gathered neighbour products (one BLAS call with beta = 1), so no edge-sized intermediate is
    made twice. Results equal the module's to float32 rounding (≈ 1e-6). Weights are kept as
    numpy arrays when pickled, so a plan travels to worker processes without torch's
    shared-memory machinery.
    """

    def __init__(self, model: CrystalGraphConvNet) -> None:
        f = model.arch.atom_fea_len
        self.atom_fea_len = f
        self.gaussian_width2 = model.width2
        with torch.no_grad():
            tensors: dict[str, torch.Tensor] = {
                "gaussian_centers": model.gaussian_centers,
                "embedding_weight": model.embedding.weight.T,
                "embedding_bias": model.embedding.bias,
            }
            for i, conv in enumerate(model.convs):
                scale1, shift1 = _fold_batch_norm(conv.bn1)
                weight = conv.fc_full.weight * scale1[:, None]
                bias = conv.fc_full.bias * scale1 + shift1
                scale2, shift2 = _fold_batch_norm(conv.bn2)
                # atoms @ [centre | neighbour] in one product; the bias goes with the centre.
                tensors[f"conv{i}_atoms_weight"] = torch.cat(
                    [weight[:, :f], weight[:, f : 2 * f]], 0
                ).T
                tensors[f"conv{i}_atoms_bias"] = torch.cat([bias, torch.zeros_like(bias)])
                tensors[f"conv{i}_bond_weight"] = weight[:, 2 * f :].T
                tensors[f"conv{i}_scale"], tensors[f"conv{i}_shift"] = scale2, shift2
            layers = [model.conv_to_fc, *getattr(model, "fcs", []), model.fc_out]
            for i, layer in enumerate(layers):
                tensors[f"fc{i}_weight"], tensors[f"fc{i}_bias"] = layer.weight.T, layer.bias
        self.n_conv = len(model.convs)
        self.n_fc = len(layers)
        self.tensors = {k: v.detach().contiguous().clone() for k, v in tensors.items()}

    def __getstate__(self) -> dict:
        state = dict(self.__dict__)
        state["tensors"] = {k: v.cpu().numpy() for k, v in self.tensors.items()}
        return state

    def __setstate__(self, state: dict) -> None:
        state["tensors"] = {k: torch.from_numpy(v) for k, v in state["tensors"].items()}
        self.__dict__.update(state)

    def to(self, device: torch.device) -> FoldedCGCNN:
        self.tensors = {k: v.to(device) for k, v in self.tensors.items()}
        return self

    def expand_distances(self, distances: torch.Tensor) -> torch.Tensor:
        return gaussian_basis(distances, self.tensors["gaussian_centers"], self.gaussian_width2)

    def __call__(self, batch: GraphBatch, bonds: torch.Tensor | None = None) -> torch.Tensor:
        """Model output for a batch; `bonds` (edges × Gaussians) may be shared between models."""
        t, f = self.tensors, self.atom_fea_len
        if bonds is None:
            bonds = self.expand_distances(batch.neighbor_distance)
        bonds = bonds.reshape(-1, bonds.shape[-1])
        atoms = torch.addmm(t["embedding_bias"], batch.atom_features, t["embedding_weight"])
        for i in range(self.n_conv):
            products = torch.addmm(t[f"conv{i}_atoms_bias"], atoms, t[f"conv{i}_atoms_weight"])
            z = products[:, 2 * f :][batch.neighbor_index]
            z += products[:, : 2 * f].unsqueeze(1)
            z.view(-1, 2 * f).addmm_(bonds, t[f"conv{i}_bond_weight"])
            messages = torch.sigmoid(z[..., :f])
            messages *= nn.functional.softplus(z[..., f:])
            summed = messages.sum(dim=1)
            atoms = nn.functional.softplus(
                torch.addcmul(t[f"conv{i}_shift"], summed, t[f"conv{i}_scale"]).add_(atoms)
            )
        hidden = nn.functional.softplus(mean_pool(atoms, batch.crystal_index, batch.n_crystals))
        for i in range(self.n_fc):
            hidden = torch.addmm(t[f"fc{i}_bias"], hidden, t[f"fc{i}_weight"])
            if i < self.n_fc - 1:
                hidden = nn.functional.softplus(hidden)
        return hidden
