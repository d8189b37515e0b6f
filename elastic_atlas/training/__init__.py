"""Training and freezing the CGCNN checkpoints on Matbench, and the baselines."""
