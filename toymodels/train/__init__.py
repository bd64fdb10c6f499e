"""The training engine: configuration, the batched trainer, models, optimisers, results files."""
