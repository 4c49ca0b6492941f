import sys

from zoo.cli import run_cli, zoo_main

sys.exit(run_cli(zoo_main))
