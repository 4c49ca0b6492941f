"""What every family builds on: the model-type contract and registry, the next-token base and its
samplers, safe checkpoints, the run folder, the optimizer factory and the flag ranges. Names no family."""
