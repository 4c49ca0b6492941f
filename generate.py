"""Generate music from a trained run: python generate.py -m lstm -n exp1 (see --help)."""
import sys

from zoo.cli import generate_main, run_cli

if __name__ == "__main__":
    sys.exit(run_cli(generate_main))
