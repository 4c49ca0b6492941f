"""What every family builds on: the model-type contract and registry, the next-token base and its
samplers, safe checkpoints, the run folder and the optimizer factory. Names no family."""
