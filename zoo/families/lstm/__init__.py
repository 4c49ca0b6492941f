"""MechanicalBach's LSTM composer (`-m lstm`)."""
