"""Evaluation: torch-fidelity metrics (FID/KID/IS/PR), classifier metrics, Parzen window, in-training metrics."""
