"""Chapter 5: local learning coefficients (SGLD estimator, calibration models, k-gon values)."""
