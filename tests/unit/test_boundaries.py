"""No layer imports upward. The fan-out layer knows nothing of the application (as centrifuge's node):
no module under app/realtime/ imports app.services, app.storage, app.api or app.ws; the
application plugs in through app/realtime/hooks.py instead. Storage imports nothing above it
(services, transports, realtime, workers). Checked on the source with `ast`, so an import
inside a function or under TYPE_CHECKING counts too."""

from __future__ import annotations

import ast
import importlib
import pkgutil
from pathlib import Path

import app.realtime

APP = Path(app.realtime.__file__).parent.parent
REALTIME = APP / "realtime"
# package -> what it must not import
FORBIDDEN = {
    "realtime": ("app.services", "app.storage", "app.api", "app.ws", "workers"),
    "storage": ("app.services", "app.api", "app.ws", "app.realtime", "workers"),
}


def imported_modules(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative: resolve against app.realtime
                base = ".".join(["app", "realtime"][: 3 - node.level] if node.level <= 2 else [])
                module = ".".join(filter(None, [base, node.module]))
            else:
                module = node.module or ""
            names.add(module)
            names.update(f"{module}.{alias.name}" for alias in node.names)  # `from app import services`
    return names


def test_realtime_modules_all_import() -> None:
    modules = [info.name for info in pkgutil.iter_modules([str(REALTIME)])]
    assert {"node", "hub", "broker", "envelopes", "hooks", "codes"} <= set(modules)
    for name in modules:
        importlib.import_module(f"app.realtime.{name}")


def test_no_layer_imports_upward() -> None:
    offenders = {
        f"{package}/{path.name}: {name}"
        for package, forbidden in FORBIDDEN.items()
        for path in sorted((APP / package).glob("*.py"))
        for name in imported_modules(path)
        if any(name == bad or name.startswith(bad + ".") for bad in forbidden)
    }
    assert not offenders, offenders


def test_the_check_would_see_an_offender(tmp_path: Path) -> None:
    probe = tmp_path / "probe.py"
    probe.write_text("from app import storage\nimport app.api.errors\ndef f():\n    from app.services.auth import AuthService\n")
    found = imported_modules(probe)
    assert {"app.storage", "app.api.errors", "app.services.auth"} <= found
