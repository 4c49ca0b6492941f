"""MusicVAE, flat and hierarchical melody VAEs (`-m musicvae`), and its `melody` encoding."""
