"""The training engine: a :class:`~toymodels.train.config.TrainConfig` in, a
:class:`~toymodels.train.results.TrainResult` out.

==============  =================================================================================
module          what it holds
==============  =================================================================================
``config``      ``TrainConfig``: what to train (model, ``D``, ``d``, ``n``, ``S``, ``ω``, optimiser,
                schedule, steps, seed), checked once and frozen; ``S_vector``/``ω_vector``
``models``      the model registry: one ``ToyModel`` class per model (shapes, forward pass, loss,
                hand-derived gradient), ``MODELS`` by name; a new model is one class here
``reference``   ``train_reference``: the plain loop a reader reads (autograd + ``torch.optim``)
``engine``      ``train``: the fast loop behind the same interface (the same losses, tested)
``plan``        ``RunPlan``: device, dtype, chunking, threads, decided once per ``train`` call
``stepper``     the gradients of all instances, in blocks over worker threads
``optim``       fused Adam/AdamW/SGD on one flat buffer, learning-rate schedules
``batches``     the sparse data as a function of (seed, step): three ways of drawing the same numbers
``divergence``  NaN, inf, runaway losses and overflowed optimiser states, found and named
``results``     ``TrainResult``: saved and loaded without pickle, validated on load
``resources``   memory estimate and available memory and cores
==============  =================================================================================
"""
