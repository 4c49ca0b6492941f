"""An import-linter contract the built-in ones cannot express: no module takes another's `_private` name.

A leading underscore says "only this module uses it". import-linter's own contracts see modules, not
the names imported from them, so this one reads each module's source: it refuses
`from zoo.x import _name` (relative forms too) and `x._name` where `x` is a module imported by name,
for any `_name` that is not a dunder. Within a module its own private names are free to use.
"""
from __future__ import annotations

import ast
from pathlib import Path

from importlinter.application import output
from importlinter.domain import fields
from importlinter.domain.contract import Contract, ContractCheck


def _is_private(name: str) -> bool:
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


def _absolute(module: str, is_package: bool, node: ast.ImportFrom) -> str:
    """The absolute module an ImportFrom names (`from ..x import y` inside `zoo.a.b` -> `zoo.x`)."""
    if not node.level:
        return node.module or ""
    base = module.split(".")
    base = base if is_package else base[:-1]
    base = base[: len(base) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


def private_reach_ins(module: str, path: Path, known_modules: set[str]) -> list[tuple[int, str]]:
    """(line, description) for every private name `module` (source at `path`) takes from another module."""
    tree = ast.parse(path.read_text(), str(path))
    is_package = path.name == "__init__.py"
    found, module_aliases = [], {}
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            source = _absolute(module, is_package, node)
            for alias in node.names:
                if f"{source}.{alias.name}" in known_modules:
                    module_aliases[alias.asname or alias.name] = f"{source}.{alias.name}"
                elif _is_private(alias.name) and source != module:
                    found.append((node.lineno, f"from {source} import {alias.name}"))
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name in known_modules and alias.asname:
                    module_aliases[alias.asname] = alias.name
    for node in ast.walk(tree):
        if (isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and _is_private(node.attr)
                and module_aliases.get(node.value.id, module) != module):
            found.append((node.lineno, f"{module_aliases[node.value.id]}.{node.attr}"))
    return sorted(found)


class PrivateNamesContract(Contract):
    """Options: `containers`, the packages whose modules are checked (e.g. ["zoo"])."""

    type_name = "private_names"
    containers = fields.ListField(subfield=fields.StringField())

    def check(self, graph, verbose: bool) -> ContractCheck:
        import importlib.util

        modules = set(graph.modules)
        violations = []
        for container in self.containers:  # type: ignore[attr-defined]
            root = Path(importlib.util.find_spec(container).origin).parent
            for module in sorted(m for m in modules if m == container or m.startswith(container + ".")):
                relative = module.split(".")[1:]
                path = root.joinpath(*relative, "__init__.py")
                if not path.exists():
                    path = root.joinpath(*relative[:-1], relative[-1] + ".py") if relative else path
                if not path.exists():
                    continue
                for line, what in private_reach_ins(module, path, modules):
                    violations.append(f"{module}:{line} takes {what}")
        return ContractCheck(kept=not violations, warnings=None, metadata={"violations": violations})

    def render_broken_contract(self, check: ContractCheck) -> None:
        for violation in check.metadata["violations"]:
            output.print_error(violation)
        output.new_line()
