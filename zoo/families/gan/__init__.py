"""MechanicalBach's GAN (`-m gan`)."""
