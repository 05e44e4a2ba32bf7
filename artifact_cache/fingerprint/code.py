"""Code fingerprints: a function (or class) and the user code it reaches, ignoring trivia.

Registers the handlers that let `fingerprint` take functions and classes as values
(by code, closure values, defaults and members, never by name alone). Imports only the
stdlib, ``attrs``, `.values` and `._analysis` (which code is user code and what it
touches). The rules are in ``docs/keys.md``.
"""

from __future__ import annotations

__all__ = ["CodeFingerprint", "code_fingerprint", "function_identity"]

import ast
import collections
import copy
import functools
import inspect
import sys
import threading
import types
import weakref
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

import attrs

from ._analysis import (
    _SIMPLE_SCALARS,
    _code_digest,
    _code_names,
    _function_node,
    _global_names,
    _is_simple,
    _is_user_class,
    _is_user_function,
    _is_user_module,
    _module_source,
    _mutated_in_bytecode,
    _mutated_in_source,
    _stored_globals,
    _uses_first_argument,
)
from .values import (
    _Failure,
    digest_or_failure,
    fingerprint,
    qualified,
    register_builtin,
)


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

        A global name the code reads that was not defined (a builtin such as ``round``)
        counts too: defining it later makes the fingerprint stale.

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
    func: Callable[..., object],
    *,
    depends_on: Sequence[object] = (),
    owner: type | None = None,
) -> CodeFingerprint:
    """Fingerprint a function's code and the user code it calls, ignoring trivia.

    The function is hashed from a normalised AST of its source (comments, blank lines,
    docstrings, formatting, decorators and its position in the file do not count), or
    from its code object when there is no source. Its closure values and defaults are
    hashed by content. Globals and ``module.attribute`` chains that lead to functions,
    classes or constants of the user's own code are followed recursively; installed
    packages and the stdlib count only by name. ``depends_on`` items are added as
    ``"depends_on[i]"`` parts.

    A method that reads its ``self`` (or ``cls``) also follows the class whose body
    defines it, so the helpers it calls through ``self`` count. That class is found
    from the method's qualified name; pass ``owner`` when it cannot be (a class
    defined inside a function).

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
        return _trace(func, depends_on, owner=owner)
    except _Failure as failure:
        raise failure.to_error(qualified(func)) from failure.__cause__


def _trace(
    func: Callable[..., object],
    depends_on: Sequence[object] = (),
    *,
    strict: bool = False,
    owner: type | None = None,
    data: list[tuple[object, str]] | None = None,
) -> CodeFingerprint:
    tracer = _CodeTracer(strict=strict)
    # A class or function fingerprinted from a class member's data is as anywhere else.
    outer = _binding_class_members()
    _tracing.class_members = False
    try:
        root = tracer.root(func, owner)
        parts = tracer.run()
    finally:
        _tracing.class_members = outer
    if data is not None:
        data.extend(tracer.data)
    for i, dependency in enumerate(depends_on):
        try:
            parts[f"depends_on[{i}]"] = _dependency_digest(dependency)
        except _Failure as failure:
            failure.segments.append(f" depends_on[{i}]")
            raise
    digest = fingerprint(("code", root, tuple(sorted(parts.items()))))
    return CodeFingerprint(digest=digest, parts=parts, watch=tuple(tracer.watch))


def _mutated_names(func: types.FunctionType) -> set[str]:
    """The names ``func`` changes in place (from its source, else its bytecode): what it
    keeps as state, counted by type rather than by value."""
    node = _function_node(func)
    if node is not None:
        return _mutated_in_source(node)
    mutated: set[str] = set()
    _mutated_in_bytecode(func.__code__, mutated)
    return mutated


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
    mutated = _mutated_names(target)
    values = []
    for var, cell in zip(target.__code__.co_freevars, cells, strict=False):
        try:
            value = cell.cell_contents
        except ValueError:  # not assigned yet
            values.append((var, "empty"))
            continue
        values.append((var, tracer.bind_value(value, f"<closure {var}>", var in mutated)))
    return f"{name}#{fingerprint(tuple(values))}"


def _owner_class(func: types.FunctionType) -> type | None:
    """The class whose body defines the method ``func``, from its qualified name.

    None for a function that is not a method, a static method, or a class that the
    module's names do not reach (one defined inside a function).
    """
    *path, name = func.__qualname__.split(".")
    if not path or "<locals>" in path:
        return None
    obj = func.__globals__.get(path[0])
    for attr in path[1:]:
        obj = inspect.getattr_static(obj, attr, None)
    if not isinstance(obj, type):
        return None
    member = vars(obj).get(name)
    if isinstance(member, staticmethod):
        return None  # no self: the class counts only where the code names it
    if isinstance(member, classmethod):
        member = member.__func__
    try:
        found = inspect.unwrap(member) if callable(member) else member
    except ValueError:  # a __wrapped__ cycle
        return None
    return obj if found is func else None


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


def _wrappers(func: object) -> list[object]:
    """The ``__wrapped__`` chain above the innermost function, outermost first."""
    layers: list[object] = []
    seen = {id(func)}
    while len(layers) < 100:  # a proxy could make a new __wrapped__ on every lookup
        try:
            inner = getattr(func, "__wrapped__", None)
        except Exception:  # a proxy whose attribute lookup fails
            return layers
        if inner is None or id(inner) in seen:
            return layers
        layers.append(func)
        seen.add(id(inner))
        func = inner
    return layers


# --------------------------------------------------------------------------- values
# Classes are fingerprinted once per process (re-done when a name they follow is rebound).
_class_cache: weakref.WeakKeyDictionary[type, CodeFingerprint] = weakref.WeakKeyDictionary()
# The mutable data each cached class fingerprint hashed (class attributes, constants its
# methods read), with its identity then: changed in place, the class is fingerprinted
# again, so the key is the one a fresh process computes.
_class_data: weakref.WeakKeyDictionary[type, tuple[tuple[object, str], ...]] = (
    weakref.WeakKeyDictionary()
)


def _function_value(func: types.FunctionType) -> object:
    digest = _trace(func, strict=True).digest
    if _is_user_function(func) or not _made_at_run_time(func) or _binding_class_members():
        return ("function", digest)
    # Made at run time by a library factory (shutil.ignore_patterns("*.pyc")): its code
    # counts by name, what it captured by content.
    tracer = _CodeTracer(strict=False)
    captured = tracer.captures(func, tracer.bind_value)
    parts = tuple(sorted(tracer.run().items()))
    return ("function", digest, fingerprint(("captured", captured, parts)))


def _made_at_run_time(func: types.FunctionType) -> bool:
    """True for a function with captured values that its module does not name: made by
    a factory call (``shutil.ignore_patterns("*.pyc")``), not fixed when its package
    was imported (``os.fsencode``, whose closure is the package's own code)."""
    if not (func.__closure__ or func.__defaults__ or func.__kwdefaults__):
        return False
    module: Any = sys.modules.get(func.__module__ or "")
    obj = module
    try:
        for name in func.__qualname__.split("."):
            obj = getattr(obj, name, None)
        return obj is not func and getattr(module, func.__name__, None) is not func
    except Exception:  # a module's __getattr__ or a descriptor that fails
        return True


def _attrs_hash(func: types.FunctionType) -> bool:
    """True for the ``__hash__`` that attrs generates for a frozen or hashable class."""
    code = func.__code__
    return code.co_name == "__hash__" and code.co_filename.startswith("<attrs generated")


def _without_type_hash(
    node: ast.AST | None, func: types.FunctionType
) -> tuple[ast.AST | None, types.FunctionType]:
    """An attrs ``__hash__`` without the integers in its code.

    attrs writes ``hash(<the class's name>)`` into it as a literal, which differs in every
    process (PYTHONHASHSEED); it follows from the class, which counts anyway.
    """

    class Drop(ast.NodeTransformer):
        def visit_Constant(self, constant: ast.Constant) -> ast.AST:
            if type(constant.value) is int:
                return ast.Constant(value="<int>")
            return constant

        def visit_UnaryOp(self, op: ast.UnaryOp) -> ast.AST:  # a negative number: -123
            operand: ast.expr = self.visit(op.operand)
            if isinstance(op.op, ast.USub) and getattr(operand, "value", None) == "<int>":
                return operand
            op.operand = operand
            return op

    if node is not None:
        return Drop().visit(copy.deepcopy(node)), func
    consts = tuple("<int>" if type(c) is int else c for c in func.__code__.co_consts)
    stripped = types.FunctionType(
        func.__code__.replace(co_consts=consts),
        func.__globals__,
        func.__name__,
        func.__defaults__,
        func.__closure__,
    )
    stripped.__kwdefaults__ = func.__kwdefaults__
    return None, stripped


_tracing = threading.local()


def _binding_class_members() -> bool:
    """True while a class member's data is hashed (see `_data_identity`)."""
    return bool(getattr(_tracing, "class_members", False))


def _class_value(cls: type) -> object:
    if not _is_user_class(cls):
        return ("class", qualified(cls))
    busy: set[int] = _tracing.__dict__.setdefault("classes", set())
    if id(cls) in busy:
        # A class attribute holding an instance of the class: the class is being
        # fingerprinted (or checked) further up, so it counts here by name.
        return ("class being fingerprinted", qualified(cls))
    busy.add(id(cls))
    try:
        fp = _class_cache.get(cls)
        if fp is None or fp.stale() or _data_changed(_class_data.get(cls, ())):
            data: list[tuple[object, str]] = []
            fp = _trace(cls, strict=True, data=data)
            _class_cache[cls] = fp
            _class_data[cls] = tuple(data)
    finally:
        busy.discard(id(cls))
    return ("class", fp.digest)


def _data_changed(data: Sequence[tuple[object, str]]) -> bool:
    return any(_data_identity(value) != identity for value, identity in data)


def _data_identity(value: object) -> str:
    """Data by content, or by type if it has none to hash.

    A library function in it counts by name, as a class's generated methods do (attrs
    keeps hooks it made for the class in ``__attrs_props__``).
    """
    outer = _binding_class_members()
    _tracing.class_members = True
    try:
        return "value " + digest_or_failure(value)
    except _Failure:
        # A lock, a client, a cache: state of the class, not what it computes.
        return "instance of " + qualified(type(value))
    finally:
        _tracing.class_members = outer


register_builtin(types.FunctionType, _function_value)
register_builtin(type, _class_value)


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


class _ClassMembers:
    """The members of a class that a fingerprint followed, as one watch entry.

    `CodeFingerprint.stale` reads ``entry.get("", _GONE)``: the entry itself while
    every member is bound as it was (and every inherited name still not overridden),
    ``_GONE`` otherwise. Holds the class by a weak reference.
    """

    __slots__ = ("_cls", "_members")

    def __init__(self, cls: type, members: Sequence[tuple[str, object]]) -> None:
        self._cls = weakref.ref(cls)
        self._members = tuple(members)

    def get(self, name: str, default: object) -> object:
        cls = self._cls()
        if cls is None:
            return default
        namespace = vars(cls)
        for member, obj in self._members:
            if namespace.get(member, _GONE) is not obj:
                return default
        return self


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
        self.data: list[tuple[object, str]] = []  # mutable data hashed, see _class_data
        self._class_members = False  # binding the members of a class (_class_digest)

    def root(self, func: Callable[..., object], owner: type | None = None) -> str:
        target: Any = func
        if isinstance(target, types.MethodType):
            target = target.__func__
        if isinstance(target, functools.partial):
            target = target.func
        for layer in _wrappers(target):
            # A decorator of the user's own under the cache's: its code and closure (the
            # decorator's arguments, the function it wraps) are a part of their own,
            # named where the wrapper is defined (functools.wraps copies the name).
            if isinstance(layer, types.FunctionType) and _is_user_function(layer):
                module = layer.__globals__.get("__name__")
                self._follow(layer, f"{module}:{layer.__code__.co_qualname}")
        target = inspect.unwrap(target)
        if isinstance(target, types.FunctionType) and _is_user_function(target):
            key = self._follow(target)
            # A method reaches its helpers through self (self._scale(x)), which no
            # global names: its class is followed, with every member.
            cls = owner if owner is not None else _owner_class(target)
            if cls is not None and _is_user_class(cls) and _uses_first_argument(target.__code__):
                self._follow(cls)
            return key
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
                if type(value) not in _SIMPLE_SCALARS:
                    self.data.append((value, "value " + self.parts[key]))
        return self.parts

    def _follow(self, obj: Any, name: str | None = None) -> str:
        """The part name of a user function or class, queueing it the first time."""
        key = self._keys.get(id(obj))
        if key is not None:
            return key
        key = self._unique(name or qualified(obj))
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
        if _attrs_hash(func):
            node, func = _without_type_hash(node, func)
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
        # Only a name the code reaches as a global is a global: a parameter or local
        # that shares its name (a helper filling in its `config` argument) is not.
        global_names: set[str] = set()
        _global_names(func.__code__, global_names)
        self._mutated.update(
            (id(namespace), n) for n in mutated if n.partition(".")[0] in global_names
        )
        for dotted in mutated:
            root, _, attr = dotted.partition(".")
            module = namespace.get(root)
            if attr and root in global_names and isinstance(module, types.ModuleType):
                self._mutated.add((id(vars(module)), attr))  # module.NAME.append(...)
        # A global name not defined yet (a builtin, or a helper a later cell defines)
        # is watched as absent: defining it changes what the code calls.
        self.watch.extend(
            (namespace, n, _GONE) for n in sorted(global_names & names) if n not in namespace
        )
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
        identity = self._bind_code(
            value, frozenset(), lambda inner, at: self.bind_value(inner, where + at, mutated)
        )
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

    def _bind_code(
        self,
        value: object,
        names: frozenset[str],
        bind_data: Callable[[object, str], str] | None = None,
    ) -> str | None:
        """The identity of a function, class, method or wrapper; None for plain data.

        A bound method's instance and a partial's arguments are bound by ``bind_data``
        (given the value and where it sits), as the value holding them is: by content
        in a closure or default, as a global otherwise.
        """
        bind = bind_data or (lambda inner, at: self._bind(inner, None, names))
        if isinstance(value, types.FunctionType):
            if _is_user_function(value):
                return "function " + self._follow(value)
            wrapped = inspect.getattr_static(value, "__wrapped__", None)
            if wrapped is not None:
                return f"{qualified(value)} wrapping {self._bind(wrapped, None, names)}"
            if _made_at_run_time(value) and not self._class_members:
                return f"external {qualified(value)} capturing ({self.captures(value, bind)})"
            return "external " + qualified(value)
        if isinstance(value, types.MethodType):
            instance = bind(value.__self__, ".__self__")
            return f"method {self._bind(value.__func__, None, names)} of {instance}"
        if isinstance(value, type):
            if _is_user_class(value):
                return "class " + self._follow(value)
            return "external " + qualified(value)
        if isinstance(value, functools.partial):
            positional = [bind(v, f".args[{i}]") for i, v in enumerate(value.args)]
            keywords = [
                f"{k}={bind(v, f'.keywords[{k!r}]')}" for k, v in sorted(value.keywords.items())
            ]
            bound = ", ".join(positional + keywords)
            return f"partial of {self._bind(value.func, None, names)} ({bound})"
        if isinstance(value, types.ModuleType):
            return f"module {value.__name__}"
        wrapped = inspect.getattr_static(value, "__wrapped__", None)
        if wrapped is not None and not isinstance(value, type):
            return f"{qualified(type(value))} wrapping {self._bind(wrapped, None, names)}"
        if isinstance(value, types.BuiltinFunctionType):
            return "external " + qualified(value)
        return None

    def captures(self, func: types.FunctionType, bind: Callable[[object, str], str]) -> str:
        """A library function's closure values and defaults, each bound by ``bind``.

        A closure value the function changes in place (a memo dict) is state: by type.
        """
        mutated = _mutated_names(func)
        bound = []
        for var, cell in zip(func.__code__.co_freevars, func.__closure__ or (), strict=False):
            try:
                value = cell.cell_contents
            except ValueError:  # not assigned yet
                bound.append(f"{var}=empty")
                continue
            if var in mutated:
                bound.append(f"{var}=state {qualified(type(value))}")
            else:
                bound.append(f"{var}={bind(value, f'<closure {var}>')}")
        for i, value in enumerate(func.__defaults__ or ()):
            bound.append(f"[{i}]={bind(value, f'.__defaults__[{i}]')}")
        for k, value in sorted((func.__kwdefaults__ or {}).items()):
            bound.append(f"{k}={bind(value, f'.__kwdefaults__[{k!r}]')}")
        return ", ".join(bound)

    def _class_digest(self, cls: type) -> str:
        """A class is its name, its bases and its members; methods become parts."""
        members = []
        watched: list[tuple[str, object]] = []
        # The methods a library generates for one class (a namedtuple's __repr__, attrs'
        # __getstate__) look like factory closures, but what they capture follows from
        # the class: they count by name (a failure ends this tracer: no reset needed).
        self._class_members = True
        for name, member in sorted(vars(cls).items()):
            if name in _IGNORED_CLASS_ATTRIBUTES:
                continue
            # `Model.scale = 10` or `Model.apply = f` after the fingerprint: stale.
            watched.append((name, member))
            if isinstance(member, staticmethod | classmethod):
                member = member.__func__
            if isinstance(member, property):
                accessors = (member.fget, member.fset, member.fdel)
                identity = ", ".join(self._bind(f, None, frozenset()) for f in accessors)
            elif isinstance(member, functools.cached_property):
                # Its function is code, as a property's getter (it holds a lock on 3.11,
                # which has no content to hash).
                identity = "cached_property " + self._bind(member.func, None, frozenset())
            elif self._bind_code(member, frozenset()) is None and not _is_simple(member):
                identity = self._member(member, name)
            else:
                identity = self._bind(member, None, frozenset())
            if identity.startswith("value ") and type(member) not in _SIMPLE_SCALARS:
                self.data.append((member, identity))  # a list or dict, changed in place?
            members.append((name, identity))
        self._class_members = False
        # `Sub.scale = 5` would override what Sub inherits: the inherited names are
        # watched as absent from Sub.
        own = vars(cls)
        inherited = {
            n for base in cls.__mro__[1:] if _is_user_class(base) for n in vars(base)
        } - set(own)
        watched.extend((n, _GONE) for n in sorted(inherited - _IGNORED_CLASS_ATTRIBUTES))
        view = _ClassMembers(cls, watched)
        self.watch.append((view, "", view))
        bases = tuple(self._bind(base, None, frozenset()) for base in cls.__bases__)
        return fingerprint(("class", cls.__qualname__, bases, tuple(members)))

    def _member(self, member: object, name: str) -> str:
        """A class attribute holding data: by content, or by type if it has none to hash."""
        return _data_identity(member)
