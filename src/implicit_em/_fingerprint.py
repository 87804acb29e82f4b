r"""Fingerprints of values: one BLAKE2b digest that changes when what decides a result does.

``fingerprint(obj)`` hashes ``obj`` as a *value*, recursively, so that two objects that
would compute the same thing get the same print in any process, and a change of an
argument, a captured value or a tensor's contents gives another one:

- numbers, strings, bytes, ``None``: their value (floats by their exact bits, ``-0.0``
  differs from ``0.0``, every NaN is one NaN);
- tensors and NumPy arrays: dtype, shape and every byte of the data (on CPU; the device
  does not count); a ``torch.Generator``: its state;
- modules: their name, and for a module outside the installed packages (a ``cfg.py``
  the loss reads) its public data attributes (``cfg.SCALE``);
- tuples, lists: their items in order; dicts and sets: their items in an order fixed by
  the items' own prints (so insertion order and string-hash seeds do not count);
- functions: module and qualified name, default and keyword-only default arguments and
  the values of their closure cells; for functions defined outside the installed
  packages and the standard library (a script, a notebook, a test, an editable
  install) also their compiled code (bytecode, constants and names, not line numbers:
  moving a function or editing a comment keeps its print), the global variables their
  code names. A library function counts by name (its version decides its code);
- ``functools.partial``: the function, the positional and the keyword arguments;
- bound methods: the function and the instance; classes: module and qualified name
  (and, for a class defined outside the installed packages, its methods' code and its
  data attributes);
- other objects (callable objects, ``nn.Module``\s, optimisers, ...): their class and
  their state, ``__dict__`` and ``__slots__`` (a module's parameters and buffers by
  their bytes);
- anything else: its type and ``repr`` when the ``repr`` holds no memory address, else
  its type alone. Memory addresses (``id``) never enter a print.

What a function looks up by a computed name at run time (``os.environ["K"]``,
``globals()["K"]``, ``getattr(cfg, name)``) is not seen: pass such values as arguments
(a ``functools.partial``) or capture them, and the print follows them.

Cycles are cut (a back reference counts as its distance up the path) and nesting deeper
than 64 levels counts as its type, so every object has a print and fingerprinting never
raises for want of a rule. An object reached twice is hashed once (a Merkle walk: every
object but a scalar enters its parent's hash as the digest of its own). Objects passed
in ``ignore`` count as one fixed placeholder, whatever their state:
:func:`~implicit_em.training.train` ignores the model it trains (whose weights the
checkpoint restores) when it fingerprints the loss.

Cost: one pass over the bytes of the tensors reached (BLAKE2b runs at roughly 0.5-1
GB/s on one core) plus a few microseconds per Python object.

Examples:
    >>> import functools
    >>> fingerprint(functools.partial(max, 1)) == fingerprint(functools.partial(max, 1))
    True
    >>> fingerprint(functools.partial(max, 1)) == fingerprint(functools.partial(max, 2))
    False
    >>> def scaled(k):
    ...     return lambda x: k * x
    >>> fingerprint(scaled(2)) == fingerprint(scaled(2)) != fingerprint(scaled(3))
    True
"""

from __future__ import annotations

import enum
import functools
import hashlib
import os
import re
import site
import sys
import sysconfig
import types
from collections.abc import Iterable
from pathlib import PurePath
from typing import Any

import torch

__all__ = ["describe", "fingerprint"]

_MAX_DEPTH = 64
_ADDRESS = re.compile(r"0x[0-9a-fA-F]{4,}")
_SCALARS = (type(None), bool, int, float, complex, str, bytes, bytearray)


def fingerprint(obj: Any, *, ignore: Iterable[object] = (), digest_size: int = 16) -> str:
    """The hex BLAKE2b digest of ``obj`` as a value (see the module's notes for the rules).

    Args:
        obj: anything.
        ignore: objects (matched by identity) that count as one fixed placeholder.
        digest_size: bytes of the digest (1 to 64); the hex string is twice as long.

    Returns:
        A hex string, the same in every process and run for equal values.
    """
    h = hashlib.blake2b(digest_size=digest_size)
    _Walker(ignore).feed(h, obj, 0)
    return h.hexdigest()


def describe(obj: Any, *, ignore: Iterable[object] = ()) -> str:
    """``"<name>:<fingerprint>"``, a readable record of a callable or value for messages:
    the qualified name of a function (``partial(<name>)`` for a partial, the class of
    another object), then its :func:`fingerprint`."""
    target = obj.func if isinstance(obj, functools.partial) else obj
    if not hasattr(target, "__qualname__"):
        target = type(target)
    name = f"{getattr(target, '__module__', '?')}.{target.__qualname__}"
    if isinstance(obj, functools.partial):
        name = f"partial({name})"
    return f"{name}:{fingerprint(obj, ignore=ignore)}"


@functools.cache
def _library_roots() -> tuple[str, ...]:
    paths = sysconfig.get_paths()
    roots = {paths.get(k) for k in ("stdlib", "platstdlib", "purelib", "platlib")}
    roots |= set(getattr(site, "getsitepackages", list)())
    return tuple(os.path.realpath(r) + os.sep for r in roots if r)


@functools.cache
def _is_library(module: str | None) -> bool:
    """Whether ``module`` belongs to Python or an installed package (its code is fixed by
    the version); scripts, notebooks (``__main__``) and editable installs do not."""
    if module is None:
        return False
    if module in sys.builtin_module_names:
        return True
    file = getattr(sys.modules.get(module), "__file__", None)
    return file is not None and os.path.realpath(file).startswith(_library_roots())


def _code_names(code: types.CodeType) -> set[str]:
    """The global (and attribute) names ``code`` and its nested code refer to."""
    names = set(code.co_names)
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            names |= _code_names(const)
    return names


def _data(namespace: Any, names: set[str] | None) -> dict:
    """The plain data of a module's or class's namespace (not dunders, modules, classes
    or functions), restricted to ``names`` when given. A module's ``_private`` names are
    left out too (caches, registries)."""
    kinds = (types.ModuleType, type, types.FunctionType, types.BuiltinFunctionType,
             staticmethod, classmethod, property)  # fmt: skip
    return {k: v for k, v in namespace.items()
            if not k.startswith("_") and (names is None or k in names)
            and not isinstance(v, kinds)}  # fmt: skip


def _qualname(obj: Any) -> str:
    return f"{getattr(obj, '__module__', '?')}.{getattr(obj, '__qualname__', '?')}"


class _Walker:
    """One fingerprint's walk: the ignored objects, the path (for cycles) and the digests
    of the objects already walked (each shared object is hashed once per call)."""

    def __init__(self, ignore: Iterable[object]):
        self.ignore = {id(o) for o in ignore}
        self.path: dict[int, int] = {}  # id -> depth of the objects being walked
        self.memo: dict[int, tuple[Any, bytes]] = {}  # id -> (object kept alive, digest)
        self.floor = 0  # the lowest depth a cycle of the current subtree points to

    @staticmethod
    def put(h, tag: str, payload: bytes = b"") -> None:
        """One self-delimiting token: tag, payload length, payload."""
        h.update(tag.encode() + b"\0" + len(payload).to_bytes(8, "little") + payload)

    def digest(self, obj: Any, depth: int) -> bytes:
        h = hashlib.blake2b(digest_size=32)
        self.feed(h, obj, depth)
        return h.digest()

    def feed(self, h, obj: Any, depth: int) -> None:
        """Scalars as tokens; any other object as the digest of its own walk (memoised
        unless it depends on where it was reached: a cycle out of it, a depth cut)."""
        if id(obj) in self.ignore:
            return self.put(h, "ignored")
        if type(obj) in _SCALARS:
            return self.put(h, type(obj).__name__, _scalar_bytes(obj))
        key = id(obj)
        if key in self.path:  # a cycle: how far up the path it points
            self.floor = min(self.floor, self.path[key])
            return self.put(h, "cycle", str(depth - self.path[key]).encode())
        if key in self.memo:
            return h.update(b"\1" + self.memo[key][1])
        if depth > _MAX_DEPTH:
            self.floor = -1
            return self.put(h, "deep", type(obj).__qualname__.encode())
        outer, self.floor, self.path[key] = self.floor, depth, depth
        sub = hashlib.blake2b(digest_size=32)
        try:
            if isinstance(obj, torch.Tensor):
                _tensor(sub, obj, self.put)
            else:
                self.compound(sub, obj, depth + 1)
        finally:
            del self.path[key]
        digest = sub.digest()
        if self.floor >= depth:  # no cycle out of it: the same digest wherever reached
            self.memo[key] = (obj, digest)
        self.floor = min(outer, self.floor)
        return h.update(b"\1" + digest)

    def compound(self, h, obj: Any, depth: int) -> None:
        put, feed = self.put, self.feed
        if isinstance(obj, enum.Enum):
            return put(h, "enum", f"{_qualname(type(obj))}.{obj.name}".encode())
        if isinstance(obj, (tuple, list)):
            put(h, f"seq:{type(obj).__qualname__}", str(len(obj)).encode())
            for item in obj:
                feed(h, item, depth)
            return None
        if isinstance(obj, dict):
            return self.unordered(h, f"map:{type(obj).__qualname__}", obj.items(), depth)
        if isinstance(obj, (set, frozenset)):
            return self.unordered(h, f"set:{type(obj).__qualname__}", obj, depth)
        if isinstance(obj, types.ModuleType):  # a user module (cfg.SCALE): its data too
            put(h, "module", obj.__name__.encode())
            if not _is_library(obj.__name__) and obj.__name__ != "__main__":
                self.feed(h, _data(vars(obj), None), depth)
            return None
        if isinstance(obj, type):
            return self.cls(h, obj, depth)
        if isinstance(obj, types.FunctionType):
            return self.function(h, obj, depth)
        if isinstance(obj, types.CodeType):
            return self.code(h, obj, depth)
        if isinstance(obj, functools.partial):
            put(h, "partial")
            for part in (obj.func, obj.args, obj.keywords, getattr(obj, "__dict__", {})):
                feed(h, part, depth)
            return None
        if isinstance(obj, types.MethodType):
            put(h, "method")
            feed(h, obj.__func__, depth)
            return feed(h, obj.__self__, depth)
        if isinstance(obj, (staticmethod, classmethod)):
            put(h, type(obj).__name__)
            return feed(h, obj.__func__, depth)
        if isinstance(obj, property):
            put(h, "property")
            return feed(h, (obj.fget, obj.fset, obj.fdel), depth)
        return self.other(h, obj, depth)

    def unordered(self, h, tag: str, items, depth: int) -> None:
        """A dict's items or a set's elements, in the order of their own digests."""
        digests = sorted(self.digest(item, depth) for item in items)
        self.put(h, tag, str(len(digests)).encode())
        for d in digests:
            h.update(d)

    def cls(self, h, cls: type, depth: int) -> None:
        """Module and qualified name; the methods' code for a class outside the library."""
        self.put(h, "class", _qualname(cls).encode())
        if not _is_library(getattr(cls, "__module__", None)):
            methods = {
                k: v
                for k, v in vars(cls).items()
                if isinstance(v, (types.FunctionType, staticmethod, classmethod, property))
            }
            self.feed(h, methods, depth)
            self.feed(h, _data(vars(cls), None), depth)  # class attributes (Cfg.scale)

    def function(self, h, fn: types.FunctionType, depth: int) -> None:
        """Name, defaults, closure values; code and named globals outside the library."""
        self.put(h, "function", _qualname(fn).encode())
        cells = []
        for cell in fn.__closure__ or ():
            try:
                cells.append(cell.cell_contents)
            except ValueError:  # an empty cell
                cells.append(_EMPTY)
        for part in (fn.__defaults__, fn.__kwdefaults__, cells, fn.__dict__):
            self.feed(h, part, depth)
        if _is_library(fn.__module__):
            return
        self.code(h, fn.__code__, depth)
        named = sorted(n for n in _code_names(fn.__code__) if n in fn.__globals__)
        self.feed(h, {n: fn.__globals__[n] for n in named}, depth)

    def code(self, h, code: types.CodeType, depth: int) -> None:
        """Bytecode, constants, names and signature: not the file or line numbers."""
        self.put(h, "code", code.co_code)
        meta = (code.co_name, code.co_argcount, code.co_posonlyargcount,
                code.co_kwonlyargcount, code.co_flags, code.co_names, code.co_varnames,
                code.co_freevars, code.co_cellvars,
                getattr(code, "co_exceptiontable", b""))  # fmt: skip
        self.feed(h, meta, depth)
        self.feed(h, code.co_consts, depth)

    def other(self, h, obj: Any, depth: int) -> None:
        """Class and state (``__dict__``, ``__slots__``); else type and a stable repr."""
        cls = type(obj)
        if isinstance(obj, (torch.dtype, torch.device, PurePath)):
            return self.put(h, f"str:{cls.__qualname__}", str(obj).encode())
        if isinstance(obj, torch.Generator):
            self.put(h, "generator", str(obj.device).encode())
            return _tensor(h, obj.get_state(), self.put)
        np = sys.modules.get("numpy")
        if np is not None and isinstance(obj, (np.ndarray, np.generic)):
            return _array(h, np.asarray(obj), self.put, self.feed, depth)
        if isinstance(obj, _SCALARS):  # a subclass of a scalar (str, int, ...): its value
            self.put(h, f"scalar:{cls.__mro__[-2].__name__}", _scalar_bytes(obj))
        state = _state(obj)
        if state is not None:
            self.put(h, "object")
            self.cls(h, cls, depth)
            return self.feed(h, state, depth)
        try:
            text = repr(obj)
        except Exception:  # a broken __repr__: the type alone
            text = ""
        if _ADDRESS.search(text):
            text = ""  # an address differs between processes: the type alone
        self.put(h, f"repr:{_qualname(cls)}", text.encode("utf-8", "surrogatepass"))
        owner = getattr(obj, "__self__", None)
        if isinstance(obj, types.BuiltinFunctionType) and not isinstance(
            owner, (types.ModuleType, type(None))
        ):
            self.feed(h, owner, depth)  # a bound built-in method: its object
        return None


def _state(obj: Any) -> tuple[dict, dict] | None:
    """``(__dict__, {slot: value})`` of an object that has either, else ``None``."""
    cls = type(obj)
    try:
        slots = [s for c in cls.__mro__ for s in getattr(c, "__slots__", ())]
        slots = [s for s in slots if isinstance(s, str) and s not in ("__dict__", "__weakref__")]
        state = getattr(obj, "__dict__", None)
        if not isinstance(state, dict) and not slots:
            return None
        return (state if isinstance(state, dict) else {}), {
            s: getattr(obj, s, _EMPTY) for s in slots
        }
    except Exception:  # a property that raises, an odd extension type: no state read
        return None


class _Empty:
    """The value of an empty closure cell or a slot never set."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "<empty>"


_EMPTY = _Empty()


def _scalar_bytes(obj: Any) -> bytes:
    if isinstance(obj, (bytes, bytearray)):
        return bytes(obj)
    if isinstance(obj, str):
        return obj.encode("utf-8", "surrogatepass")
    if isinstance(obj, bool) or obj is None:
        return repr(obj).encode()
    if isinstance(obj, int):
        return obj.to_bytes(obj.bit_length() // 8 + 1, "little", signed=True)
    if isinstance(obj, float):
        return obj.hex().encode()
    return f"{obj.real.hex()},{obj.imag.hex()}".encode()  # complex


def _tensor(h, t: torch.Tensor, put) -> None:
    """Dtype, shape and the bytes of the data (dense, on CPU, conjugation resolved)."""
    t = t.detach()
    head = f"{t.dtype}|{tuple(t.shape)}".encode()
    try:
        if t.layout != torch.strided:
            t = t.to_dense()
        if t.is_quantized:
            t = t.dequantize()
        t = t.resolve_conj().resolve_neg().cpu().contiguous().reshape(-1)
        data = t.view(torch.uint8).numpy()
    except (RuntimeError, NotImplementedError, TypeError):  # meta, fake, ...: no data
        return put(h, "tensor-without-data", head)
    put(h, "tensor", head + b"|" + str(data.nbytes).encode())
    h.update(data)
    return None


def _array(h, a, put, feed, depth: int) -> None:
    if a.dtype.hasobject:
        put(h, "ndarray-object", str(a.shape).encode())
        return feed(h, a.tolist(), depth)
    put(h, "ndarray", f"{a.dtype.str}|{a.shape}|{a.nbytes}".encode())
    if a.size:
        h.update(a.ravel().view("u1"))  # ravel copies only a strided array
    return None
