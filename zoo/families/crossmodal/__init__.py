"""Cross-modal VAEs between instrument audio and note labels (`-m crossmodal`), and the `notes` encoding."""
