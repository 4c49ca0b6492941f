"""MultINN's multi-track generators (`-m multinn`) and the `multitrack` encoding."""
