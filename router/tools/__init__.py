"""Tooling, never imported on the request path: calibration, benchmark, answer equivalence."""
