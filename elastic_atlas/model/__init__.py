"""CGCNN on its own: crystal graphs, element features, the network, checkpoints (usable
without the rest of the package)."""
