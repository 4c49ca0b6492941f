"""Music Transformer with relative attention, in MechanicalBach's flags (`-m transformer`)."""
