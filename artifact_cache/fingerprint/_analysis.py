"""Static analysis of user code: what counts as user code and what a function touches.

Tells user code from the stdlib and installed packages, finds the global names a code
object reads, rebinds or changes in place (from its bytecode and its source), decides
which module-level values read as constants, and digests code and source without
docstrings, line numbers or other trivia. Used by ``code.py``; imports only the stdlib
and `.values`.
"""

from __future__ import annotations
import __future__

import ast
import collections
import datetime
import decimal
import dis
import enum
import fractions
import functools
import inspect
import operator
import os
import pathlib
import site
import sys
import sysconfig
import textwrap
import types
import uuid
from typing import Any

from .values import fingerprint

# Module-level containers larger than this are treated as data, not as code constants.
_MAX_CONSTANT_ITEMS = 10_000
# The compiler flags of __future__ features (nested_scopes' is also an ordinary code flag).
_FUTURE_FLAGS = (
    functools.reduce(
        operator.or_, (getattr(__future__, f).compiler_flag for f in __future__.all_feature_names)
    )
    & ~inspect.CO_NESTED
)
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


def _global_names(code: types.CodeType, names: set[str]) -> None:
    """Names that ``code`` (or code nested in it) reads or writes as module globals.

    Unlike ``co_names`` this leaves out attribute names; locals, parameters and closure
    variables are never among them, even where one shares a global's name.
    """
    names.update(ins.argval for ins in dis.get_instructions(code) if ins.opname in _GLOBAL_ACCESS)
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            _global_names(const, names)


_GLOBAL_ACCESS = frozenset(
    {"LOAD_GLOBAL", "LOAD_NAME", "STORE_GLOBAL", "DELETE_GLOBAL", "STORE_NAME", "DELETE_NAME"}
)


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
    # getsource(func) reads the function a functools.wraps wrapper wraps: read its code's.
    wrapper = hasattr(func, "__wrapped__")
    own_name = func.__code__.co_name if wrapper else func.__name__
    try:
        source = inspect.getsource(func.__code__ if wrapper else func)
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
        if isinstance(first, ast.FunctionDef | ast.AsyncFunctionDef) and first.name == own_name:
            node = first
    if node is None or not _source_runs(func):
        return None
    if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
        node.decorator_list = []
    _strip_docstrings(node)
    return node


def _source_runs(func: types.FunctionType) -> bool:
    """True if the function's source, as its file reads now, compiles to the code that
    runs. A module file edited since it was imported (no reload: a long-lived kernel)
    still runs the old code, whose key must not be the new code's."""
    code = func.__code__
    try:
        lines, _ = inspect.findsource(func)
    except (OSError, TypeError):
        return False
    # The __future__ features it was compiled with, which a cell or an exec inherits.
    found = _compiled(code.co_filename, "".join(lines), code.co_flags & _FUTURE_FLAGS)
    if found is None:
        return False
    digest = _code_digest(code)
    same_place = found.get((code.co_qualname, code.co_firstlineno), ())
    return any(_code_digest(other) == digest for other in same_place)


@functools.lru_cache(maxsize=64)
def _compiled(
    filename: str, source: str, flags: int
) -> dict[tuple[str, int], list[types.CodeType]] | None:
    """The code objects ``source`` compiles to, by qualified name and first line."""
    try:
        flags |= ast.PyCF_ALLOW_TOP_LEVEL_AWAIT  # a notebook cell may await
        module = compile(source, filename, "exec", flags=flags, dont_inherit=True)
    except (SyntaxError, ValueError):
        return None
    found: dict[tuple[str, int], list[types.CodeType]] = {}
    pending = [module]
    while pending:
        code = pending.pop()
        found.setdefault((code.co_qualname, code.co_firstlineno), []).append(code)
        pending.extend(c for c in code.co_consts if isinstance(c, types.CodeType))
    return found


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


_READS = frozenset(
    {
        "LOAD_FAST",
        "LOAD_FAST_CHECK",
        "LOAD_FAST_AND_CLEAR",
        "LOAD_FAST_LOAD_FAST",
        "LOAD_FAST_BORROW",
        "LOAD_FAST_BORROW_LOAD_FAST_BORROW",
        "LOAD_DEREF",
        "LOAD_CLOSURE",
    }
)


def _uses_first_argument(code: types.CodeType) -> bool:
    """True if ``code`` reads its first parameter (a method's ``self`` or ``cls``)."""
    if not code.co_argcount:
        return False
    name = code.co_varnames[0]
    if name in code.co_cellvars:
        return True  # read by nested code (a lambda, a comprehension)
    for ins in dis.get_instructions(code):
        if ins.opname in _READS:
            value = ins.argval
            if value == name or (isinstance(value, tuple) and name in value):
                return True
    return False
