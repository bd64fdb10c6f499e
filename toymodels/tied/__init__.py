"""Section 2 of the notes: the sparse synthetic data, its moments, and the gradient flow of the tied model."""
