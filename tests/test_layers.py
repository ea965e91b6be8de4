"""The package's layers: every import of molprior code, at module level or inside a function,
points to the same layer or one below it, so there is no import cycle between packages."""

import ast
from pathlib import Path

import molprior

PACKAGE = Path(molprior.__file__).parent

#: Bottom to top; a package may import its own layer's and lower layers' packages only.
LAYERS = (
    ("errors", "files", "parallel", "priors", "presets", "typed_configs"),
    ("chem",),
    ("immunology",),
    ("data", "metrics"),
    ("models",),
    ("meta",),
    ("serialization", "zeroshot"),
    ("training", "inference"),
    ("evaluation",),
    ("tracking", "config"),
    ("workflows",),
    ("cli", "__main__"),
)
LEVEL = {name: level for level, names in enumerate(LAYERS) for name in names}


def _package(module: str) -> str:
    """The top-level package (or module) of ``molprior`` that ``module`` is in; ``__init__``
    for ``molprior`` itself and names imported from it (``from molprior import __version__``)."""
    name = module.split(".")[1] if module.count(".") else "__init__"
    return name if (PACKAGE / name).is_dir() or (PACKAGE / f"{name}.py").exists() else "__init__"


def _imports(path: Path) -> list[tuple[int, str]]:
    """``(line, module)`` of every molprior module ``path`` imports."""
    module = ".".join(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names if alias.name.startswith("molprior.")]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative: resolved against the importing module's package
                parent = module.rsplit(".", node.level)[0] if path.name != "__init__.py" or node.level > 1 else module
                base = f"{parent}.{base}" if base else parent
            if base == "molprior":
                found += [(node.lineno, f"molprior.{alias.name}") for alias in node.names]
            elif base.startswith("molprior."):
                found.append((node.lineno, base))
    return found


def test_every_package_has_a_layer():
    packages = {p.name for p in PACKAGE.iterdir() if (p / "__init__.py").exists() or p.suffix == ".py"}
    packages = {p.removesuffix(".py") for p in packages} - {"__init__", "py.typed"}
    assert packages - set(LEVEL) == set(), "give the new package a layer in LAYERS"


def test_no_import_points_up_a_layer():
    upward = []
    for path in sorted(PACKAGE.rglob("*.py")):
        source = _package(".".join(path.relative_to(PACKAGE.parent).with_suffix("").parts))
        if source == "__init__":
            continue
        for line, target in _imports(path):
            target_package = _package(target)
            if target_package != "__init__" and LEVEL[target_package] > LEVEL[source]:
                upward.append(f"{path.relative_to(PACKAGE.parent)}:{line} imports {target}")
    assert not upward, "\n".join(upward)


def _package_graph() -> dict[str, set[str]]:
    graph: dict[str, set[str]] = {}
    for path in PACKAGE.rglob("*.py"):
        source = _package(".".join(path.relative_to(PACKAGE.parent).with_suffix("").parts))
        targets = {_package(target) for _, target in _imports(path)} - {source, "__init__"}
        graph.setdefault(source, set()).update(targets)
    return graph


def test_no_import_cycle_between_packages():
    """Packages of one layer may import each other in one direction only."""
    graph = _package_graph()
    done: set[str] = set()

    def visit(package: str, path: tuple[str, ...]) -> None:
        assert package not in path, "import cycle: " + " -> ".join(path[path.index(package):] + (package,))
        if package not in done:
            for target in sorted(graph.get(package, ())):
                visit(target, path + (package,))
            done.add(package)

    for package in sorted(graph):
        visit(package, ())


# ---- the tests mirror the package -----------------------------------------------------------

TESTS = Path(__file__).resolve().parent
PIPELINES = TESTS.parent / "pipelines"
#: Test directories that mirror no package: whole jobs across packages (shipped models, the
#: notebooks, packaging, DDP, a tracking server) and the pipelines/ scripts (tests/pipelines
#: mirrors pipelines/ instead).
ACROSS_PACKAGES = {"integration"}
#: Modules tested only through other modules' tests: none (a new module comes with its own test file).
WITHOUT_OWN_TEST_FILE: set[str] = set()


def _modules() -> set[str]:
    """Every module of molprior as ``package/module`` (a top-level one as ``module``; a package
    whose ``__init__`` is its code, such as ``presets``, as the package)."""
    found = {str(p.relative_to(PACKAGE).with_suffix("")) for p in PACKAGE.rglob("*.py")
             if p.name != "__init__.py" and "priors" not in p.parts}
    return found | {p.name for p in PACKAGE.iterdir() if (p / "__init__.py").exists()
                    and set(p.glob("*.py")) == {p / "__init__.py"} and p.name != "priors"}  # priors: model files


def test_every_test_file_mirrors_a_module_and_every_module_has_one():
    modules = _modules()
    stray = []
    for path in sorted(TESTS.rglob("test_*.py")):
        parts = path.relative_to(TESTS).parts
        if parts[0] in ACROSS_PACKAGES or path == Path(__file__).resolve():  # this file: the package's layout
            continue
        name = path.stem.removeprefix("test_")
        if parts[0] == "pipelines":
            if not (PIPELINES / f"{name}.py").exists():
                stray.append(f"{path.relative_to(TESTS)}: no pipelines/{name}.py")
        elif "/".join(parts[:-1] + (name,)) not in modules:
            stray.append(f"{path.relative_to(TESTS)}: no molprior/{'/'.join(parts[:-1] + (name,))}.py")
    assert not stray, "a test file is named after the module it tests:\n" + "\n".join(stray)
    tested = {"/".join(p.relative_to(TESTS).parts[:-1] + (p.stem.removeprefix("test_"),)) for p in TESTS.rglob("test_*.py")}
    missing = sorted(modules - tested - WITHOUT_OWN_TEST_FILE)
    assert not missing, "give these modules a test file of their own (tests/<package>/test_<module>.py): " + ", ".join(missing)
    assert not WITHOUT_OWN_TEST_FILE & tested, "they have a test file now: take them off WITHOUT_OWN_TEST_FILE"
    assert WITHOUT_OWN_TEST_FILE <= modules, "a module listed in WITHOUT_OWN_TEST_FILE no longer exists"
