"""Train a model of the zoo: python training.py -m lstm -n exp1 (see --help)."""
import sys

from zoo.cli import run_cli, training_main

if __name__ == "__main__":
    sys.exit(run_cli(training_main))
