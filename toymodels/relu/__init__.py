"""Section 3 of the notes and Chapter 4: the ReLU output model x -> ReLU(WᵀWx + b), its loss,
critical points and basins."""
