"""One exception root: every exception class of the library derives from SwergioError, and its tree is drawn."""

from __future__ import annotations

import importlib
import inspect
import pkgutil

import swergio_nb
from swergio_nb import exceptions
from swergio_nb.exceptions import InvalidMessage, InvalidState, NotConnected, SwergioError

#: The library's layers (the examples are applications built on it).
LAYERS = ("exceptions", "protocol", "transport", "feedback", "notebook", "swarm")


def _exception_classes() -> dict[str, type[BaseException]]:
    found = {}
    for info in pkgutil.walk_packages(swergio_nb.__path__, "swergio_nb."):
        if info.name.split(".")[1] not in LAYERS or info.name.endswith("__main__"):
            continue
        module = importlib.import_module(info.name)
        for name, obj in vars(module).items():
            if inspect.isclass(obj) and issubclass(obj, BaseException) and obj.__module__ == module.__name__:
                found[f"{info.name}.{name}"] = obj
    return found


def test_every_public_exception_class_derives_from_swergio_error_and_is_in_the_tree():
    # private ones (codec's _NeedsBinary, magics' _HelpShown) are control flow inside their module
    public = {path: cls for path, cls in _exception_classes().items() if not path.rsplit(".", 1)[1].startswith("_")}
    assert {InvalidMessage, InvalidState, NotConnected} <= set(public.values())
    assert [path for path, cls in public.items() if not issubclass(cls, SwergioError)] == []
    tree = exceptions.__doc__.split("::", 1)[1].split("\n\n")[1]
    assert [path for path, cls in public.items() if f" {cls.__name__} " not in tree and cls is not SwergioError] == []


def test_second_bases_keep_old_except_clauses_working():
    assert issubclass(InvalidState, RuntimeError) and issubclass(InvalidMessage, ValueError)
    assert issubclass(NotConnected, ConnectionError)
