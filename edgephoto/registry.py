"""A tiny name -> object registry, one instance per kind (architectures, tasks, formats, engines).

Adding an entry is one decorator on the new object; nothing else has to change::

    ARCHS = Registry("architecture")

    @ARCHS.register("u2netp")
    def u2netp(**kw): ...

Lookup errors name the known entries, so a typo on the command line gets a useful one-line error.
"""

from __future__ import annotations

from typing import Any, Callable, Dict, Iterator, Optional


class RegistryError(KeyError):
    def __str__(self) -> str:  # KeyError quotes its message; keep it a plain line
        return str(self.args[0])


class Registry:
    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._entries: Dict[str, Any] = {}

    def register(self, name: Optional[str] = None, obj: Any = None) -> Any:
        """Register ``obj`` under ``name``; usable as ``@reg.register("name")`` or directly."""
        if obj is not None:
            self._add(name or obj.__name__, obj)
            return obj

        def deco(o: Any) -> Any:
            self._add(name or o.__name__, o)
            return o

        return deco

    def _add(self, name: str, obj: Any) -> None:
        if name in self._entries and self._entries[name] is not obj:
            raise RegistryError(f"{self.kind} '{name}' is registered twice")
        self._entries[name] = obj

    def get(self, name: str) -> Any:
        try:
            return self._entries[name]
        except KeyError:
            known = ", ".join(sorted(self._entries)) or "none"
            raise RegistryError(f"unknown {self.kind} '{name}' (known: {known})") from None

    def __contains__(self, name: str) -> bool:
        return name in self._entries

    def __iter__(self) -> Iterator[str]:
        return iter(sorted(self._entries))

    def names(self) -> list:
        return sorted(self._entries)

    def items(self):
        return sorted(self._entries.items())


def lazy_call(fn: Callable[..., Any], **defaults: Any) -> Callable[..., Any]:
    """Bind default kwargs (a named variant) to a constructor, keeping caller overrides."""

    def build(**kw: Any) -> Any:
        return fn(**{**defaults, **kw})

    build.__name__ = getattr(fn, "__name__", "build")
    build.defaults = dict(defaults)  # type: ignore[attr-defined]
    return build
