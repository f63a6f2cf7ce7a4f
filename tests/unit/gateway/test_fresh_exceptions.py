"""No module raises a shared exception instance (issue 14, finding 2).

Raising one exception object again appends every raise's frames to its `__traceback__`:
each request that hit it (its context, its body) then stays alive for good. Exceptions are
created per raise; this test reads every module of the project's packages and names any
`raise NAME` (or `raise module.NAME`) whose NAME is bound at module level to an exception.
"""
import ast
import builtins
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
PACKAGES = ("gateway", "billing", "portal", "analytics", "prompts")
EXCEPTION_SUFFIXES = ("Error", "Exception", "Exit", "Interrupt", "Warning")
BUILTIN_EXCEPTIONS = {
    name for name, value in vars(builtins).items() if isinstance(value, type) and issubclass(value, BaseException)
}


def _dotted(func) -> str:
    """`a.b.C` of a call's callee, "" when it is not a plain (dotted) name."""
    parts = []
    while isinstance(func, ast.Attribute):
        parts.append(func.attr)
        func = func.value
    if not isinstance(func, ast.Name):
        return ""
    return ".".join([func.id, *reversed(parts)])


def _is_exception_name(name: str, classes: set[str]) -> bool:
    return name in BUILTIN_EXCEPTIONS or name in classes or name.endswith(EXCEPTION_SUFFIXES)


def _creates_exception(value, classes: set[str]) -> bool:
    """`Error(...)`, `mod.Error(...)` or a factory on an exception class, `Error.connection(...)`."""
    if not isinstance(value, ast.Call):
        return False
    return any(_is_exception_name(part, classes) for part in _dotted(value.func).split(".") if part)


def exception_classes(trees) -> set[str]:
    """Names of the classes the project derives from exceptions, to a fixpoint over their bases."""
    classes: set[str] = set()
    bases = {node.name: {_dotted(b).rpartition(".")[2] for b in node.bases}
             for tree in trees for node in ast.walk(tree) if isinstance(node, ast.ClassDef)}
    grew = True
    while grew:
        grew = False
        for name, parents in bases.items():
            if name not in classes and any(_is_exception_name(p, classes) for p in parents if p):
                classes.add(name)
                grew = True
    return classes


def module_instances(tree, classes: set[str]) -> set[str]:
    """Names a module binds at its top level to an exception instance."""
    names = set()
    for node in tree.body:
        targets = node.targets if isinstance(node, ast.Assign) else [node.target] if isinstance(
            node, ast.AnnAssign) else []
        if targets and _creates_exception(node.value, classes):
            names.update(t.id for t in targets if isinstance(t, ast.Name))
    return names


def _local_names(function) -> set[str]:
    """Names a function binds itself (arguments, assignments, `except ... as`), which shadow globals."""
    names = {a.arg for a in ast.walk(function.args) if isinstance(a, ast.arg)}
    for node in ast.walk(function):
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            names.add(node.id)
        elif isinstance(node, ast.ExceptHandler) and node.name:
            names.add(node.name)
    return names


def _imports(tree, instances: dict[str, set[str]]):
    """(names imported as shared instances, aliases of project modules) of one module."""
    shared, modules = set(), {}
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module:
            for alias in node.names:
                if alias.name in instances.get(node.module, ()):
                    shared.add(alias.asname or alias.name)
                elif f"{node.module}.{alias.name}" in instances:
                    modules[alias.asname or alias.name] = f"{node.module}.{alias.name}"
        elif isinstance(node, ast.Import):
            modules.update({a.asname: a.name for a in node.names if a.asname and a.name in instances})
    return shared, modules


def _raises(tree):
    """(raised expression, names bound by its enclosing function) for every `raise X`."""
    functions = [n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef)]
    inside = {}
    for function in functions:  # outer functions first (ast.walk is breadth-first): the innermost wins
        local = _local_names(function)
        inside.update({id(node): local for node in ast.walk(function) if isinstance(node, ast.Raise)})
    for node in ast.walk(tree):
        if isinstance(node, ast.Raise) and node.exc is not None:
            yield node, inside.get(id(node), set())


def shared_raises(sources: dict[str, str]) -> list[str]:
    """`module:line raises NAME` for every raise of a module-level exception instance."""
    trees = {module: ast.parse(text) for module, text in sources.items()}
    classes = exception_classes(trees.values())
    instances = {module: module_instances(tree, classes) for module, tree in trees.items()}
    found = []
    for module, tree in sorted(trees.items()):
        shared, modules = _imports(tree, instances)
        shared |= instances[module]
        for node, local in _raises(tree):
            exc = node.exc
            if isinstance(exc, ast.Name) and exc.id in shared and exc.id not in local:
                found.append(f"{module}:{node.lineno} raises {exc.id}")
            elif isinstance(exc, ast.Attribute) and isinstance(exc.value, ast.Name) and exc.value.id not in local:
                if exc.attr in instances.get(modules.get(exc.value.id, ""), ()):
                    found.append(f"{module}:{node.lineno} raises {exc.value.id}.{exc.attr}")
    return sorted(found, key=lambda line: (line.partition(":")[0], int(line.split(":")[1].split()[0])))


def project_sources() -> dict[str, str]:
    sources = {}
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            parts = path.relative_to(ROOT).with_suffix("").parts
            module = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
            sources[module] = path.read_text()
    return sources


def test_it_raises_no_module_level_exception_instance_anywhere_in_the_project():
    sources = project_sources()
    assert "gateway.dataplane.steps.auth" in sources  # the walk reaches the data plane's steps
    assert shared_raises(sources) == []


def test_it_names_a_shared_instance_raised_in_its_module_or_through_an_import():
    sources = {
        "pkg.errors": "class GatewayError(Exception): pass\nclass Refused(GatewayError): pass\n",
        "pkg.steps": (
            "from pkg.errors import GatewayError, Refused\n"
            "MISSING = GatewayError(401, 'missing')\n"
            "GONE: Refused = Refused()\n"
            "def fresh():\n    return GatewayError(401, 'fresh')\n"
            "async def step(ctx):\n    if ctx:\n        raise MISSING\n    raise GONE from None\n"
            "def shadowed(MISSING):\n    raise MISSING\n"
            "def ok():\n    raise fresh()\n"
        ),
        "pkg.user": "from pkg import steps\nfrom pkg.steps import MISSING as M\n"
                    "def f():\n    raise steps.GONE\ndef g():\n    raise M\n",
    }
    assert shared_raises(sources) == [
        "pkg.steps:8 raises MISSING", "pkg.steps:9 raises GONE", "pkg.user:4 raises steps.GONE", "pkg.user:6 raises M",
    ]
