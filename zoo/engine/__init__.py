"""Runs any family through the registry: training, generation, evaluation, export."""
