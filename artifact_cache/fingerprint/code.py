"""Code fingerprints: a function (or class) and the user code it reaches, ignoring trivia.

Registers the handlers that let `fingerprint` take functions and classes as values
(by code, closure values, defaults and members, never by name alone). Imports only the
stdlib, ``attrs`` and `.values`. The rules are in ``docs/keys.md``.
"""

from __future__ import annotations

__all__ = ["CodeFingerprint", "code_fingerprint", "function_identity"]

import ast
import collections
import datetime
import decimal
import dis
import enum
import fractions
import functools
import inspect
import os
import pathlib
import site
import sys
import sysconfig
import textwrap
import threading
import types
import uuid
import weakref
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

import attrs

from .values import (
    _Failure,
    digest_or_failure,
    fingerprint,
    qualified,
    register_builtin,
)

# Module-level containers larger than this are treated as data, not as code constants.
_MAX_CONSTANT_ITEMS = 10_000
# 3.14+ marks a docstring with a flag; before that, co_consts[0] is the docstring or None.
_CO_HAS_DOCSTRING = 0x4000000
# Methods that change a list, dict, set or deque in place: a module-level container the
# traced code calls one of these on is state the code keeps, not a constant of the code.
_MUTATORS = frozenset(
    {
        "append",
        "appendleft",
        "add",
        "clear",
        "difference_update",
        "discard",
        "extend",
        "extendleft",
        "insert",
        "intersection_update",
        "pop",
        "popitem",
        "popleft",
        "remove",
        "reverse",
        "rotate",
        "setdefault",
        "sort",
        "symmetric_difference_update",
        "update",
        "__setitem__",
        "__delitem__",
        "__iadd__",
        "__ior__",
    }
)
_MUTABLE_CONTAINERS = (list, dict, set, bytearray, collections.deque)


class _FrozenParts(Mapping[str, str]):
    """A read-only, hashable, picklable ``{name: digest}`` mapping, sorted by name."""

    __slots__ = ("_data",)

    def __init__(self, data: Mapping[str, str]) -> None:
        self._data = dict(sorted(data.items()))

    def __getitem__(self, key: str) -> str:
        return self._data[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._data)

    def __len__(self) -> int:
        return len(self._data)

    def __hash__(self) -> int:
        return hash(tuple(self._data.items()))

    def __repr__(self) -> str:
        return repr(self._data)

    def __reduce__(self) -> tuple[type[_FrozenParts], tuple[dict[str, str]]]:
        return (_FrozenParts, (self._data,))


def _freeze_parts(parts: Mapping[str, str]) -> _FrozenParts:
    return parts if isinstance(parts, _FrozenParts) else _FrozenParts(parts)


@attrs.frozen(kw_only=True)
class CodeFingerprint:
    """The digest of a function's code and of every user helper it reaches.

    ``parts`` maps ``"module:qualname"`` of the function and of each helper, class and
    module-level constant that was followed (plus ``"depends_on[i]"`` entries) to its own
    digest; ``digest`` combines them all.

    Examples:
        >>> def area(r):
        ...     return 3.14159 * r * r
        >>> fp = code_fingerprint(area)
        >>> len(fp.digest), fp.diff(fp)
        (32, [])
    """

    digest: str
    parts: Mapping[str, str] = attrs.field(converter=_freeze_parts)
    # The bindings that were followed, as (namespace or cell, name, object); not part of
    # the value, never pickled (it holds module namespaces), empty after unpickling.
    watch: tuple[tuple[Any, str | None, object], ...] = attrs.field(
        default=(), eq=False, hash=False, repr=False
    )

    def __reduce__(self) -> tuple[Any, ...]:
        return (_rebuild_fingerprint, (self.digest, dict(self.parts)))

    def stale(self) -> bool:
        """True if a name the fingerprint followed is now bound to another object.

        A notebook re-run of a helper's cell, or a reload of its module, rebinds the
        name; checking identities costs a dictionary lookup a name, so a memoised
        function can look on every call. Changes made in place (a mutated global
        list) are not seen.

        Examples:
            >>> ns = {}
            >>> exec("def helper(x):\\n    return x\\ndef f(x):\\n    return helper(x)", ns)
            >>> fp = code_fingerprint(ns["f"])
            >>> fp.stale()
            False
            >>> exec("def helper(x):\\n    return -x", ns)
            >>> fp.stale()
            True
        """
        for where, name, obj in self.watch:
            if name is None:
                try:
                    current = where.cell_contents
                except ValueError:
                    return True
            else:
                current = where.get(name, _GONE)
            if current is not obj:
                return True
        return False

    def diff(self, other: CodeFingerprint) -> list[str]:
        """Names whose digest changed, or that only one side has, sorted.

        Examples:
            >>> old = CodeFingerprint(digest="1", parts={"m:f": "a", "m:g": "b"})
            >>> new = CodeFingerprint(digest="2", parts={"m:f": "a", "m:h": "c"})
            >>> old.diff(new)
            ['m:g', 'm:h']
        """
        names = set(self.parts) | set(other.parts)
        return sorted(n for n in names if self.parts.get(n) != other.parts.get(n))


_GONE = object()


def _rebuild_fingerprint(digest: str, parts: dict[str, str]) -> CodeFingerprint:
    return CodeFingerprint(digest=digest, parts=parts)


def code_fingerprint(
    func: Callable[..., object], *, depends_on: Sequence[object] = ()
) -> CodeFingerprint:
    """Fingerprint a function's code and the user code it calls, ignoring trivia.

    The function is hashed from a normalised AST of its source (comments, blank lines,
    docstrings, formatting, decorators and its position in the file do not count), or
    from its code object when there is no source. Its closure values and defaults are
    hashed by content. Globals and ``module.attribute`` chains that lead to functions,
    classes or constants of the user's own code are followed recursively; installed
    packages and the stdlib count only by name. ``depends_on`` items are added as
    ``"depends_on[i]"`` parts.

    Raises:
        FingerprintError: a closure value, a default or a ``depends_on`` item cannot
            be fingerprinted (the message names it).

    Examples:
        >>> def double(x):
        ...     return 2 * x
        >>> code_fingerprint(double).parts.keys() == {f"{__name__}:double"}
        True
    """
    try:
        return _trace(func, depends_on)
    except _Failure as failure:
        raise failure.to_error(qualified(func)) from failure.__cause__


def _trace(
    func: Callable[..., object], depends_on: Sequence[object] = (), *, strict: bool = False
) -> CodeFingerprint:
    tracer = _CodeTracer(strict=strict)
    root = tracer.root(func)
    parts = tracer.run()
    for i, dependency in enumerate(depends_on):
        try:
            parts[f"depends_on[{i}]"] = _dependency_digest(dependency)
        except _Failure as failure:
            failure.segments.append(f" depends_on[{i}]")
            raise
    digest = fingerprint(("code", root, tuple(sorted(parts.items()))))
    return CodeFingerprint(digest=digest, parts=parts, watch=tuple(tracer.watch))


def function_identity(func: Callable[..., object]) -> str:
    """What tells a function apart from every other one, code aside.

    ``module:qualname``, plus the content of its closure cells when it has any: two
    closures made by one factory share a qualified name and differ by what they
    captured. A ``functools.partial`` adds its bound arguments, a callable object its
    state. A ``version=`` pin replaces the code, never this. Values that cannot be
    fingerprinted (a lock, a client) count by their type; values the function changes
    in place (a call log) too.

    Examples:
        >>> def make(k):
        ...     def scale(x):
        ...         return x * k
        ...     return scale
        >>> function_identity(make(2)) == function_identity(make(3))
        False
    """
    target: Any = inspect.unwrap(func)
    if isinstance(target, types.MethodType):
        target = target.__func__
    tracer = _CodeTracer(strict=False)
    if isinstance(target, functools.partial):
        bound = (target.args, target.keywords)
        inner = function_identity(target.func)
        return f"partial of {inner}#{tracer.bind_value(bound, 'partial')}"
    if not isinstance(target, types.FunctionType | type | types.BuiltinFunctionType):
        # A callable object: its class holds the code, its state the parameters.
        state = tracer.bind_value(target, "instance")
        return f"{qualified(type(target))}#{fingerprint(state)}"
    name = qualified(target)
    if not isinstance(target, types.FunctionType) or not target.__closure__:
        return name
    cells = target.__closure__
    node = _function_node(target)
    if node is not None:
        mutated = _mutated_in_source(node)
    else:
        mutated = set()
        _mutated_in_bytecode(target.__code__, mutated)
    values = []
    for var, cell in zip(target.__code__.co_freevars, cells, strict=False):
        try:
            value = cell.cell_contents
        except ValueError:  # not assigned yet
            values.append((var, "empty"))
            continue
        values.append((var, tracer.bind_value(value, f"<closure {var}>", var in mutated)))
    return f"{name}#{fingerprint(tuple(values))}"


def _dependency_digest(dependency: object) -> str:
    if isinstance(dependency, types.ModuleType):
        source = _module_source(dependency)
        return fingerprint(("module", dependency.__name__, source))
    if isinstance(
        dependency,
        type
        | types.FunctionType
        | types.MethodType
        | types.BuiltinFunctionType
        | functools.partial,
    ):
        return _trace(dependency).digest
    return digest_or_failure(dependency)


# --------------------------------------------------------------------------- values
# Classes are fingerprinted once per process (re-done when a name they follow is rebound).
_class_cache: weakref.WeakKeyDictionary[type, CodeFingerprint] = weakref.WeakKeyDictionary()


def _function_value(func: types.FunctionType) -> object:
    return ("function", _trace(func, strict=True).digest)


_tracing = threading.local()


def _class_value(cls: type) -> object:
    if not _is_user_class(cls):
        return ("class", qualified(cls))
    fp = _class_cache.get(cls)
    if fp is None or fp.stale():
        busy: set[int] = _tracing.__dict__.setdefault("classes", set())
        if id(cls) in busy:
            # A class attribute holding an instance of the class: the class is being
            # fingerprinted further up, so it counts here by name.
            return ("class being fingerprinted", qualified(cls))
        busy.add(id(cls))
        try:
            fp = _trace(cls, strict=True)
        finally:
            busy.discard(id(cls))
        _class_cache[cls] = fp
    return ("class", fp.digest)


register_builtin(types.FunctionType, _function_value)
register_builtin(type, _class_value)


# --------------------------------------------------------------------------- user code
@functools.cache
def _library_dirs() -> tuple[str, ...]:
    """Directories whose modules are the stdlib or installed packages, not user code."""
    paths = sysconfig.get_paths()
    dirs = {paths[k] for k in ("stdlib", "platstdlib", "purelib", "platlib") if k in paths}
    try:
        dirs.update(site.getsitepackages())
        dirs.add(site.getusersitepackages())
    except AttributeError:  # some embedded interpreters lack these
        pass
    return tuple(sorted({os.path.realpath(d) + os.sep for d in dirs if d}))


@functools.lru_cache(maxsize=4096)
def _is_user_location(module: str | None, filename: str | None) -> bool:
    top = (module or "").partition(".")[0]
    # artifact_cache's own functions (decorator wrappers) are library code to its users.
    if top in ("builtins", "artifact_cache"):
        return False
    if filename and not filename.startswith("<"):
        path = os.path.realpath(filename)
        parts = path.split(os.sep)
        if "site-packages" in parts or "dist-packages" in parts:
            return False
        return not path.startswith(_library_dirs())
    if filename and filename.startswith("<frozen "):
        return False
    if top in ("", "__main__"):
        return True
    mod_file = getattr(sys.modules.get(module or ""), "__file__", None)
    if isinstance(mod_file, str):
        return _is_user_location(module, mod_file)
    return top not in sys.stdlib_module_names and top not in sys.builtin_module_names


def _is_user_function(func: types.FunctionType) -> bool:
    return _is_user_location(func.__module__, func.__code__.co_filename)


def _is_user_class(cls: type) -> bool:
    module = cls.__module__
    mod_file = getattr(sys.modules.get(module), "__file__", None)
    if module in ("__main__", "builtins") or not isinstance(mod_file, str):
        return _is_user_location(module, None)
    return _is_user_location(module, mod_file)


def _is_user_module(module: types.ModuleType) -> bool:
    mod_file = getattr(module, "__file__", None)
    return _is_user_location(module.__name__, mod_file if isinstance(mod_file, str) else None)


_SIMPLE_SCALARS = frozenset(
    {
        type(None),
        bool,
        int,
        float,
        complex,
        str,
        bytes,
        decimal.Decimal,
        fractions.Fraction,
        datetime.datetime,
        datetime.date,
        datetime.time,
        datetime.timedelta,
        uuid.UUID,
        range,
        type(...),
    }
)


def _is_simple(value: object, depth: int = 0) -> bool:
    """Plain data that reads as a constant in code: scalars and small containers of them."""
    kind = type(value)
    if kind in _SIMPLE_SCALARS or isinstance(value, enum.Enum | pathlib.PurePath):
        return True
    if depth > 8:
        return False
    if kind in (tuple, list, set, frozenset):
        items: Any = value
        return len(items) <= _MAX_CONSTANT_ITEMS and all(_is_simple(x, depth + 1) for x in items)
    if kind is dict:
        mapping: Any = value
        return len(mapping) <= _MAX_CONSTANT_ITEMS and all(
            _is_simple(k, depth + 1) and _is_simple(v, depth + 1) for k, v in mapping.items()
        )
    return False


def _code_names(code: types.CodeType, names: set[str]) -> None:
    """Global and attribute names used by ``code`` and the code nested in it."""
    names.update(code.co_names)
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            _code_names(const, names)


def _stored_globals(code: types.CodeType, names: set[str]) -> None:
    """Globals that ``code`` (or code nested in it) assigns: state it keeps, not code."""
    names.update(
        ins.argval
        for ins in dis.get_instructions(code)
        if ins.opname in ("STORE_GLOBAL", "DELETE_GLOBAL")
    )
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            _stored_globals(const, names)


def _mutated_in_bytecode(code: types.CodeType, names: set[str]) -> None:
    """Names whose objects ``code`` changes in place, read from bytecode (no source)."""
    recent: collections.deque[str] = collections.deque(maxlen=4)
    for ins in dis.get_instructions(code):
        if ins.opname in ("LOAD_GLOBAL", "LOAD_NAME", "LOAD_DEREF", "LOAD_FAST"):
            recent.append(str(ins.argval))
            continue
        if ins.opname in ("LOAD_ATTR", "LOAD_METHOD") and ins.argval in _MUTATORS and recent:
            names.add(recent[-1])
        elif ins.opname in ("STORE_SUBSCR", "DELETE_SUBSCR", "STORE_ATTR", "DELETE_ATTR"):
            names.update(recent)  # the object was loaded just before its key or value
        if ins.opname.startswith("CALL"):
            recent.clear()
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            _mutated_in_bytecode(const, names)


def _root_names(node: ast.expr) -> list[str]:
    """``log`` for ``log``; ``log`` and ``log.runs`` for ``log.runs`` or ``log.runs[0]``.

    The second form lets a module's global changed through ``module.NAME`` be found.
    """
    chain: list[str] = []
    while isinstance(node, ast.Attribute | ast.Subscript):
        if isinstance(node, ast.Attribute):
            chain.append(node.attr)
        node = node.value
    if not isinstance(node, ast.Name):
        return []
    return [node.id] + ([f"{node.id}.{chain[-1]}"] if chain else [])


def _mutated_in_source(node: ast.AST) -> set[str]:
    """Names whose objects the code changes in place.

    ``X.append(...)``, ``X.runs.append(...)``, ``X[k] = v``, ``del X[k]``, ``X.n = 1``,
    ``X += ...``: the name at the root of the changed object counts.
    """
    names: set[str] = set()
    for n in ast.walk(node):
        if isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute):
            if n.func.attr in _MUTATORS:
                names.update(_root_names(n.func.value))
        elif isinstance(n, ast.Subscript | ast.Attribute) and isinstance(
            n.ctx, ast.Store | ast.Del
        ):
            names.update(_root_names(n.value))
        elif isinstance(n, ast.AugAssign):
            names.update(_root_names(n.target))
    return names


def _strip_docstrings(tree: ast.AST) -> None:
    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            body = node.body
            if (
                body
                and isinstance(body[0], ast.Expr)
                and isinstance(body[0].value, ast.Constant)
                and isinstance(body[0].value.value, str)
            ):
                node.body = body[1:]


def _parse(source: str) -> ast.Module | None:
    try:
        return ast.parse(textwrap.dedent(source))
    except SyntaxError:
        pass
    # dedent gives up when a multi-line string is less indented than the code around it.
    try:
        return ast.parse("if True:\n" + source) if source[:1].isspace() else None
    except SyntaxError:
        return None


def _function_node(func: types.FunctionType) -> ast.AST | None:
    """The function's own AST node from its source, or None if it has none we can trust."""
    try:
        source = inspect.getsource(func)
    except (OSError, TypeError):
        return None
    tree = _parse(source)
    if tree is None:
        return None
    node: ast.AST | None = None
    if func.__name__ == "<lambda>":
        # A line may hold several lambdas: pick the one whose parameters match.
        code = func.__code__
        params = code.co_varnames[: code.co_argcount + code.co_kwonlyargcount]
        lambdas = [
            n
            for n in ast.walk(tree)
            if isinstance(n, ast.Lambda)
            and tuple(a.arg for a in (*n.args.posonlyargs, *n.args.args, *n.args.kwonlyargs))
            == params
        ]
        node = lambdas[0] if len(lambdas) == 1 else None
    else:
        first: ast.stmt | None = tree.body[0] if tree.body else None
        if isinstance(first, ast.If):  # the wrapper added by _parse
            first = first.body[0]
        # A file edited since import can put another function at the recorded line.
        if (
            isinstance(first, ast.FunctionDef | ast.AsyncFunctionDef)
            and first.name == func.__name__
        ):
            node = first
    if node is None:
        return None
    if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
        node.decorator_list = []
    _strip_docstrings(node)
    return node


def _code_digest(code: types.CodeType) -> str:
    """Digest of a code object without line numbers, file names or its docstring."""
    consts: list[object] = list(code.co_consts)
    if consts and _has_docstring(code):
        consts = consts[1:]
    consts = [("code", _code_digest(c)) if isinstance(c, types.CodeType) else c for c in consts]
    return fingerprint(
        (
            code.co_name,
            code.co_argcount,
            code.co_posonlyargcount,
            code.co_kwonlyargcount,
            code.co_flags,
            code.co_code,
            getattr(code, "co_exceptiontable", b""),
            code.co_names,
            code.co_varnames,
            code.co_freevars,
            code.co_cellvars,
            tuple(consts),
        )
    )


def _has_docstring(code: types.CodeType) -> bool:
    if sys.version_info >= (3, 14):
        return bool(code.co_flags & _CO_HAS_DOCSTRING)
    # Before 3.14 a def function reserves co_consts[0] for its docstring, None if it has
    # none; drop the slot either way so that adding a docstring changes nothing.
    return (
        bool(code.co_flags & inspect.CO_NEWLOCALS)
        and not code.co_name.startswith("<")
        and (code.co_consts[0] is None or isinstance(code.co_consts[0], str))
    )


def _module_source(module: types.ModuleType) -> str | None:
    try:
        tree = ast.parse(inspect.getsource(module))
    except (OSError, TypeError, SyntaxError):
        return None
    _strip_docstrings(tree)
    return ast.dump(tree, annotate_fields=True, include_attributes=False)


# Class attributes that are bookkeeping, not behaviour (or that carry line numbers).
_IGNORED_CLASS_ATTRIBUTES = frozenset(
    {
        "__doc__",
        "__module__",
        "__qualname__",
        "__dict__",
        "__weakref__",
        "__annotations__",
        "__firstlineno__",
        "__static_attributes__",
        "__orig_bases__",
        "__parameters__",
        "__dataclass_fields__",
        "__dataclass_params__",
        "__attrs_attrs__",
        "__attrs_own_setattr__",
        "_abc_impl",
    }
)


class _CodeTracer:
    """Walks from a function to the user functions, classes and constants it reaches."""

    def __init__(self, *, strict: bool) -> None:
        # Strict for functions and classes passed as values: a closure value or default
        # that cannot be hashed fails. Otherwise (the memoised function's own code) it
        # counts by its type, as a global object does.
        self.strict = strict
        self.parts: dict[str, str] = {}
        self._keys: dict[int, str] = {}  # id(object) -> its part name
        self._alive: list[object] = []  # keeps ids in _keys valid
        self._queue: collections.deque[tuple[str, Any]] = collections.deque()
        # Module-level constants, hashed once every function is read: a container the
        # traced code changes in place is state, known only at the end.
        self._constants: dict[str, tuple[int, str, object]] = {}
        self._mutated: set[tuple[int, str]] = set()  # (id(namespace), name)
        self.watch: list[tuple[Any, str | None, object]] = []  # see CodeFingerprint.stale

    def root(self, func: Callable[..., object]) -> str:
        target: Any = func
        if isinstance(target, types.MethodType):
            target = target.__func__
        if isinstance(target, functools.partial):
            target = target.func
        target = inspect.unwrap(target)
        if isinstance(target, types.FunctionType) and _is_user_function(target):
            return self._follow(target)
        if isinstance(target, type) and _is_user_class(target):
            return self._follow(target)
        if not isinstance(target, type | types.FunctionType | types.BuiltinFunctionType):
            cls = type(target)
            if _is_user_class(cls):  # a callable instance: its class holds the code
                return self._follow(cls)
            target = cls
        name = qualified(target)
        self.parts[name] = fingerprint(("external", name))
        return name

    def run(self) -> dict[str, str]:
        while self._queue:
            key, obj = self._queue.popleft()
            try:
                if isinstance(obj, type):
                    self.parts[key] = self._class_digest(obj)
                else:
                    self.parts[key] = self._function_digest(obj)
            except _Failure as failure:
                failure.segments.append(f" in {key}")
                raise
        for key, (namespace_id, name, value) in self._constants.items():
            if (namespace_id, name) in self._mutated:
                self.parts[key] = fingerprint(("state", qualified(type(value))))
            else:
                self.parts[key] = fingerprint(value)
        return self.parts

    def _follow(self, obj: Any) -> str:
        """The part name of a user function or class, queueing it the first time."""
        key = self._keys.get(id(obj))
        if key is not None:
            return key
        key = self._unique(qualified(obj))
        self._keys[id(obj)] = key
        self._alive.append(obj)
        self._queue.append((key, obj))
        return key

    def _unique(self, base: str) -> str:
        key, n = base, 2
        while key in self.parts or key in self._constants or key in self._keys.values():
            key, n = f"{base}#{n}", n + 1
        return key

    def _constant(self, namespace: Mapping[str, Any], name: str, value: object) -> str:
        module = namespace.get("__name__")
        ident = (id(namespace), name)
        for key, (namespace_id, other, _) in self._constants.items():
            if (namespace_id, other) == ident:
                return key
        key = self._unique(f"{module}:{name}")
        self._constants[key] = (id(namespace), name, value)
        self._alive.append(namespace)
        return key

    def _function_digest(self, func: types.FunctionType) -> str:
        node = _function_node(func)
        names: set[str] = set()
        _code_names(func.__code__, names)
        state: set[str] = set()
        _stored_globals(func.__code__, state)
        names -= state
        mutated: set[str] = set()
        if node is not None:
            body: tuple[str, str] = (
                "source",
                ast.dump(node, annotate_fields=True, include_attributes=False),
            )
            mutated = _mutated_in_source(node)
        else:
            body = ("code", _code_digest(func.__code__))
            _mutated_in_bytecode(func.__code__, mutated)
        namespace = func.__globals__
        self._mutated.update((id(namespace), n) for n in mutated)
        for dotted in mutated:
            root, _, attr = dotted.partition(".")
            module = namespace.get(root)
            if attr and isinstance(module, types.ModuleType):
                self._mutated.add((id(vars(module)), attr))  # module.NAME.append(...)
        code = func.__code__
        positional = code.co_varnames[: code.co_argcount]
        values = func.__defaults__ or ()
        defaults = []
        for param, v in zip(positional[len(positional) - len(values) :], values, strict=True):
            defaults.append(self.bind_value(v, f".__defaults__[{param!r}]", param in mutated))
        kwdefaults = []
        for k, v in sorted((func.__kwdefaults__ or {}).items()):
            kwdefaults.append((k, self.bind_value(v, f".__kwdefaults__[{k!r}]", k in mutated)))
        return fingerprint(
            (
                "function",
                body,
                self._bindings(func, frozenset(names), mutated),
                tuple(defaults),
                tuple(kwdefaults),
            )
        )

    def _bindings(
        self, func: types.FunctionType, names: frozenset[str], mutated: set[str]
    ) -> tuple[tuple[str, str], ...]:
        """What each global and closure name of ``func`` is bound to."""
        namespace = func.__globals__
        bound = []
        for name in sorted(names):
            if name in namespace:
                value = namespace[name]
                self.watch.append((namespace, name, value))
                bound.append((name, self._bind(value, (namespace, name), names)))
        for name, cell in zip(func.__code__.co_freevars, func.__closure__ or (), strict=False):
            try:
                value = cell.cell_contents
            except ValueError:  # not assigned yet
                bound.append((f"<closure>{name}", "empty"))
                continue
            self.watch.append((cell, None, value))
            where = f"<closure {name}>"
            bound.append((f"<closure>{name}", self.bind_value(value, where, name in mutated)))
        return tuple(bound)

    def bind_value(self, value: object, where: str, mutated: bool = False) -> str:
        """A closure value or default: code is followed, anything else hashed by content.

        A value the function changes in place (a call log, a memo dict) is state it
        keeps, not an input: it counts by its type, so that the key does not depend on
        how many times the function ran.
        """
        identity = self._bind_code(value, frozenset())
        if identity is not None:
            return identity
        if mutated:
            return "state " + qualified(type(value))
        try:
            return "value " + digest_or_failure(value)
        except _Failure as failure:
            if not self.strict:
                return "instance of " + qualified(type(value))
            failure.segments.append(f" {where}")
            raise

    def _bind(
        self,
        value: object,
        global_name: tuple[Mapping[str, Any], str] | None,
        names: frozenset[str],
        modules_seen: frozenset[int] = frozenset(),
    ) -> str:
        """Identity of what a global name is bound to; follows user code as a side effect."""
        if isinstance(value, types.ModuleType):
            if not _is_user_module(value) or id(value) in modules_seen:
                return f"module {value.__name__}"
            # mod.helper: bytecode names attributes in co_names like globals, so every
            # co_name that the module has is followed (rarely one too many).
            seen = modules_seen | {id(value)}
            members = vars(value)
            self.watch.extend((members, a, members[a]) for a in sorted(names) if a in members)
            inner = ", ".join(
                f"{attr}={self._bind(members[attr], (members, attr), names, seen)}"
                for attr in sorted(names)
                if attr in members
            )
            return f"module {value.__name__} {{{inner}}}"
        identity = self._bind_code(value, names)
        if identity is not None:
            return identity
        if _is_simple(value):
            if global_name is None:
                return "value " + fingerprint(value)
            return "constant " + self._constant(global_name[0], global_name[1], value)
        cls = type(value)
        if _is_user_class(cls):
            return "instance of class " + self._follow(cls)
        name = inspect.getattr_static(value, "__name__", None)
        if callable(value) and isinstance(name, str):  # ufuncs and other named callables
            return f"external {qualified(cls)} {name}"
        return "instance of " + qualified(cls)

    def _bind_code(self, value: object, names: frozenset[str]) -> str | None:
        """The identity of a function, class, method or wrapper; None for plain data."""
        if isinstance(value, types.FunctionType):
            if _is_user_function(value):
                return "function " + self._follow(value)
            wrapped = inspect.getattr_static(value, "__wrapped__", None)
            if wrapped is not None:
                return f"{qualified(value)} wrapping {self._bind(wrapped, None, names)}"
            return "external " + qualified(value)
        if isinstance(value, types.MethodType):
            return f"method {self._bind(value.__func__, None, names)}"
        if isinstance(value, type):
            if _is_user_class(value):
                return "class " + self._follow(value)
            return "external " + qualified(value)
        if isinstance(value, functools.partial):
            return f"partial of {self._bind(value.func, None, names)}"
        if isinstance(value, types.ModuleType):
            return f"module {value.__name__}"
        wrapped = inspect.getattr_static(value, "__wrapped__", None)
        if wrapped is not None and not isinstance(value, type):
            return f"{qualified(type(value))} wrapping {self._bind(wrapped, None, names)}"
        if isinstance(value, types.BuiltinFunctionType):
            return "external " + qualified(value)
        return None

    def _class_digest(self, cls: type) -> str:
        """A class is its name, its bases and its members; methods become parts."""
        members = []
        for name, member in sorted(vars(cls).items()):
            if name in _IGNORED_CLASS_ATTRIBUTES:
                continue
            if isinstance(member, staticmethod | classmethod):
                member = member.__func__
            if isinstance(member, property):
                accessors = (member.fget, member.fset, member.fdel)
                identity = ", ".join(self._bind(f, None, frozenset()) for f in accessors)
            elif self._bind_code(member, frozenset()) is None and not _is_simple(member):
                identity = self._member(member, name)
            else:
                identity = self._bind(member, None, frozenset())
            members.append((name, identity))
        bases = tuple(self._bind(base, None, frozenset()) for base in cls.__bases__)
        return fingerprint(("class", cls.__qualname__, bases, tuple(members)))

    def _member(self, member: object, name: str) -> str:
        """A class attribute holding data: by content, or by type if it has none to hash."""
        try:
            return "value " + digest_or_failure(member)
        except _Failure:
            # A lock, a client, a cache: state of the class, not what it computes.
            return "instance of " + qualified(type(member))
