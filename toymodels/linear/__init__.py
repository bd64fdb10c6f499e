"""Section 1 of the notes: the linear autoencoder x -> ABx, its critical points, Hessians and gradient flow."""
