"""``@step`` and ``@pipeline``: definitions in Python.

Calling steps inside a pipeline function does not run them: it records a node per call and an edge
per output passed along, so the function's body *is* the graph (as with Dagster ops or Prefect
tasks). A step called outside a pipeline is a plain function call.

A step's version is the digest of its qualified name and source; a pipeline's version is the
digest of its graph (nodes, their steps' versions, their inputs) and parameters. A pipeline is
stored as its code reference ``module:qualname`` plus that version, so another process imports it
by name and refuses it when the code changed since it was applied.
"""

from __future__ import annotations

import contextvars
import hashlib
import importlib
import inspect
import json
import re
import typing
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Generic, ParamSpec, TypeVar, overload

from pydantic import TypeAdapter, ValidationError

from shipyard.errors import InvalidInput
from shipyard.pipelines.model import Node, NodeInput, Param, PipelineSpec, StepOptions

P = ParamSpec("P")
R = TypeVar("R")

NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_.-]{0,127}$")
MAX_NODES = 500
_JSON_TYPES = (int, float, str, bool, type(None), dict, list, tuple)


def _digest(payload: object) -> str:
    text = payload if isinstance(payload, str) else json.dumps(payload, sort_keys=True, default=str)
    return "sha256:" + hashlib.sha256(text.encode()).hexdigest()


def check_name(kind: str, name: str) -> str:
    if not isinstance(name, str) or not NAME.match(name):
        raise InvalidInput(
            f"{kind} name {name!r} must start with a letter and use letters, digits, '_', '.', '-' (max 128)",
            field="name",
        )
    return name


def type_name(annotation: object) -> str:
    if annotation in (inspect.Parameter.empty, Any, object):
        return "any"
    if isinstance(annotation, type):
        module = annotation.__module__
        return annotation.__qualname__ if module == "builtins" else f"{module}.{annotation.__qualname__}"
    return str(annotation).replace("typing.", "")


def storable(annotation: object) -> bool:
    """Whether an output annotated so can be stored without pickle (``any`` is checked at run time)."""
    if annotation in (inspect.Parameter.empty, Any, None, object):
        return True
    origin = typing.get_origin(annotation)
    if origin is typing.Union or str(origin) == "<class 'types.UnionType'>":
        return all(storable(a) for a in typing.get_args(annotation))
    if origin is not None:
        return origin in (dict, list, tuple)
    if not isinstance(annotation, type):
        return False
    if issubclass(annotation, _JSON_TYPES):
        return True
    from shipyard.pipelines.codecs import Model

    module = annotation.__module__.split(".")[0]
    return issubclass(annotation, Model) or module in ("pandas", "pyarrow")


class Step(Generic[P, R]):
    """A step: a typed function whose output is stored and recorded. Made by :func:`step`."""

    def __init__(self, fn: Callable[P, R], name: str, options: StepOptions) -> None:
        self.fn = fn
        self.name = check_name("step", name)
        self.options = options
        self.ref = f"{fn.__module__}:{fn.__qualname__}"
        try:
            source = inspect.getsource(fn)
        except (OSError, TypeError) as exc:
            raise InvalidInput(f"cannot read the source of step {name!r}: {exc}", field="step") from None
        self.code_digest = _digest(fn.__qualname__ + "\n" + source)
        self.signature = inspect.signature(fn)
        try:
            self.hints = typing.get_type_hints(fn)
        except Exception as exc:  # an annotation naming something that does not exist
            raise InvalidInput(
                f"step {name!r}: cannot resolve its annotations: {exc}", field="step"
            ) from None
        returns = self.hints.get("return", inspect.Parameter.empty)
        if not options.pickle and not storable(returns):
            raise InvalidInput(
                f"step {name!r} returns {type_name(returns)}, which cannot be stored: return a pandas "
                "DataFrame, an Arrow table, shipyard.pipelines.Model or a JSON value, or declare "
                "@step(pickle=True)",
                field="output",
            )
        self.output_type = type_name(returns)
        self.__doc__ = fn.__doc__
        self.__wrapped__ = fn

    def __repr__(self) -> str:
        return f"<step {self.name} {self.ref}>"

    def __call__(self, *args: P.args, **kwargs: P.kwargs) -> R:
        builder = _BUILDER.get()
        if builder is None:
            return self.fn(*args, **kwargs)
        return builder.add(self, args, kwargs)  # type: ignore[return-value]


@overload
def step(fn: Callable[P, R], /) -> Step[P, R]: ...
@overload
def step(
    *,
    name: str | None = None,
    cache: bool = True,
    retries: int = 0,
    retry_backoff: float = 1.0,
    timeout: float | None = None,
    pickle: bool = False,
) -> Callable[[Callable[P, R]], Step[P, R]]: ...
def step(
    fn: Callable[P, R] | None = None,
    /,
    *,
    name: str | None = None,
    cache: bool = True,
    retries: int = 0,
    retry_backoff: float = 1.0,
    timeout: float | None = None,
    pickle: bool = False,
) -> Step[P, R] | Callable[[Callable[P, R]], Step[P, R]]:
    """Declare a step. ``cache`` reuses an earlier run with the same code, parameters and inputs;
    ``retries`` with ``retry_backoff`` seconds doubling; ``timeout`` seconds per attempt;
    ``pickle`` allows outputs that are neither tables, models nor JSON."""
    if not isinstance(retries, int) or not 0 <= retries <= 20:
        raise InvalidInput(f"retries must be an integer 0-20, got {retries!r}", field="retries")
    if not isinstance(retry_backoff, int | float) or not 0 <= retry_backoff <= 3600:
        raise InvalidInput(
            f"retry_backoff must be 0-3600 seconds, got {retry_backoff!r}", field="retry_backoff"
        )
    if timeout is not None and (not isinstance(timeout, int | float) or timeout <= 0):
        raise InvalidInput(f"timeout must be a positive number of seconds, got {timeout!r}", field="timeout")
    options = StepOptions(cache, retries, float(retry_backoff), timeout, pickle)

    def wrap(f: Callable[P, R]) -> Step[P, R]:
        return Step(f, name or f.__name__, options)

    return wrap(fn) if fn is not None else wrap


@dataclass(frozen=True)
class StepOutput:
    """What calling a step inside a pipeline returns: a handle on that node's output."""

    node: str
    step: str
    type: str


@dataclass(frozen=True)
class ParamRef:
    """A pipeline parameter as a step argument inside the pipeline body."""

    name: str
    type: str


class _Builder:
    def __init__(self) -> None:
        self.nodes: dict[str, Node] = {}
        self.steps: dict[str, Step[Any, Any]] = {}

    def add(self, st: Step[Any, Any], args: tuple[Any, ...], kwargs: dict[str, Any]) -> StepOutput:
        if len(self.nodes) >= MAX_NODES:
            raise InvalidInput(f"a pipeline has at most {MAX_NODES} step calls", field="steps")
        try:
            bound = st.signature.bind(*args, **kwargs)
        except TypeError as exc:
            raise InvalidInput(f"step {st.name!r}: {exc}", field=st.name) from None
        inputs: dict[str, NodeInput] = {}
        for arg, value in bound.arguments.items():
            inputs[arg] = self._input(st, arg, value)
        for arg, p in st.signature.parameters.items():
            if arg not in inputs and p.default is not inspect.Parameter.empty:
                inputs[arg] = self._input(st, arg, p.default)
        node_id, n = st.name, 2
        while node_id in self.nodes:
            node_id, n = f"{st.name}_{n}", n + 1
        self.nodes[node_id] = Node(
            node_id, st.name, st.ref, st.code_digest, inputs, st.output_type, st.options
        )
        self.steps[node_id] = st
        return StepOutput(node_id, st.name, st.output_type)

    def _input(self, st: Step[Any, Any], arg: str, value: object) -> NodeInput:
        expected = st.hints.get(arg, inspect.Parameter.empty)
        if isinstance(value, StepOutput):
            self._check_type(st, arg, expected, value.type, f"step {value.node!r} returns")
            return NodeInput("node", value.node)
        if isinstance(value, ParamRef):
            self._check_type(st, arg, expected, value.type, f"parameter {value.name!r} is")
            return NodeInput("param", value.name)
        try:
            json.dumps(value)
        except (TypeError, ValueError):
            raise InvalidInput(
                f"step {st.name!r} argument {arg!r}: a constant must be a JSON value, got "
                f"{type(value).__name__}; pass it as a step output or a pipeline parameter",
                field=arg,
            ) from None
        return NodeInput("const", "", value)

    @staticmethod
    def _check_type(st: Step[Any, Any], arg: str, expected: object, actual: str, what: str) -> None:
        wanted = type_name(expected)
        if wanted == "any" or actual == "any" or wanted == actual or not isinstance(expected, type):
            return
        if expected is float and actual == "int":
            return
        if expected is object:
            return
        raise InvalidInput(
            f"step {st.name!r} argument {arg!r} expects {wanted} but {what} {actual}", field=arg
        )


_BUILDER: contextvars.ContextVar[_Builder | None] = contextvars.ContextVar("pipeline_builder", default=None)


class PipelineDefinition:
    """A pipeline: made by :func:`pipeline`. :meth:`spec` builds its graph."""

    def __init__(self, fn: Callable[..., object], name: str, description: str) -> None:
        self.fn = fn
        self.name = check_name("pipeline", name)
        self.description = description
        self.ref = f"{fn.__module__}:{fn.__qualname__}"
        try:
            self.source_digest = _digest(inspect.getsource(fn))
        except (OSError, TypeError) as exc:
            raise InvalidInput(
                f"cannot read the source of pipeline {name!r}: {exc}", field="pipeline"
            ) from None
        self.signature = inspect.signature(fn)
        hints = typing.get_type_hints(fn)
        params: list[Param] = []
        self._adapters: dict[str, TypeAdapter[Any]] = {}
        for p in self.signature.parameters.values():
            annotation = hints.get(p.name, Any)
            self._adapters[p.name] = TypeAdapter(annotation)
            required = p.default is inspect.Parameter.empty
            default = None if required else p.default
            if not required:
                try:
                    json.dumps(default)
                except (TypeError, ValueError):
                    raise InvalidInput(
                        f"pipeline {name!r} parameter {p.name!r}: its default must be a JSON value",
                        field=p.name,
                    ) from None
            params.append(Param(p.name, type_name(annotation), default, required))
        self.params = tuple(params)
        self._spec: PipelineSpec | None = None
        self._steps: dict[str, Step[Any, Any]] = {}
        self.__doc__ = fn.__doc__

    def __repr__(self) -> str:
        return f"<pipeline {self.name} {self.ref}>"

    def spec(self) -> PipelineSpec:
        """The graph: built once by calling the body with placeholders."""
        if self._spec is None:
            builder = _Builder()
            token = _BUILDER.set(builder)
            try:
                self.fn(**{p.name: ParamRef(p.name, p.type) for p in self.params})
            finally:
                _BUILDER.reset(token)
            if not builder.nodes:
                raise InvalidInput(f"pipeline {self.name!r} calls no step", field="steps")
            nodes = tuple(builder.nodes.values())
            topological_order(nodes)
            payload = {"params": [p.to_dict() for p in self.params], "nodes": [n.to_dict() for n in nodes]}
            self._steps = builder.steps
            self._spec = PipelineSpec(
                self.name,
                _digest(payload),
                self.ref,
                self.source_digest,
                self.params,
                nodes,
                self.description,
            )
        return self._spec

    def step_of(self, node_id: str) -> Step[Any, Any]:
        self.spec()
        return self._steps[node_id]

    def validate_params(self, params: Mapping[str, object]) -> dict[str, Any]:
        """The parameters with defaults filled in; InvalidInput naming the first bad one."""
        return validate_params(self.name, self.params, params, self._adapters)


def validate_params(
    pipeline: str,
    declared: tuple[Param, ...],
    params: Mapping[str, object],
    adapters: Mapping[str, TypeAdapter[Any]] | None = None,
) -> dict[str, Any]:
    if not isinstance(params, Mapping):
        raise InvalidInput("params must be a mapping of parameter name to value", field="params")
    known = {p.name: p for p in declared}
    for key in params:
        if key not in known:
            names = ", ".join(known) or "none"
            raise InvalidInput(
                f"pipeline {pipeline!r} has no parameter {key!r} (parameters: {names})", field=f"params.{key}"
            )
    clean: dict[str, Any] = {}
    for p in declared:
        if p.name not in params:
            if p.required:
                raise InvalidInput(
                    f"pipeline {pipeline!r} needs parameter {p.name!r}", field=f"params.{p.name}"
                )
            clean[p.name] = p.default
            continue
        value = params[p.name]
        if adapters is not None:
            try:
                value = adapters[p.name].validate_python(value)
            except ValidationError as exc:
                msg = exc.errors()[0]["msg"]
                raise InvalidInput(
                    f"pipeline {pipeline!r} parameter {p.name!r} must be {p.type}: {msg} (got {value!r})",
                    field=f"params.{p.name}",
                ) from None
        try:
            json.dumps(value)
        except (TypeError, ValueError):
            raise InvalidInput(
                f"pipeline {pipeline!r} parameter {p.name!r} must be a JSON value", field=f"params.{p.name}"
            ) from None
        clean[p.name] = value
    return clean


def topological_order(nodes: tuple[Node, ...]) -> list[str]:
    """Node ids in an order where each comes after its upstream nodes; InvalidInput on a cycle or
    an input naming an unknown node."""
    ids = {n.id for n in nodes}
    pending = {n.id: set(n.upstream) for n in nodes}
    for n in nodes:
        missing = set(n.upstream) - ids
        if missing:
            raise InvalidInput(
                f"step {n.id!r} reads the output of unknown step {min(missing)!r}", field="steps"
            )
    order: list[str] = []
    while pending:
        ready = sorted(k for k, ups in pending.items() if not ups)
        if not ready:
            raise InvalidInput(
                f"the pipeline graph has a cycle through {', '.join(sorted(pending))}", field="steps"
            )
        for k in ready:
            order.append(k)
            del pending[k]
        for ups in pending.values():
            ups.difference_update(ready)
    return order


def pipeline(
    fn: Callable[..., object] | None = None, /, *, name: str | None = None, description: str | None = None
) -> Any:
    """Declare a pipeline. Its parameters (with type hints and defaults) are the run parameters."""

    def wrap(f: Callable[..., object]) -> PipelineDefinition:
        return PipelineDefinition(f, name or f.__name__, description or inspect.getdoc(f) or "")

    return wrap(fn) if fn is not None else wrap


def load_definition(ref: str) -> PipelineDefinition:
    """Import the pipeline at ``module:qualname``."""
    module_name, sep, qualname = ref.partition(":")
    if not sep or not module_name or not qualname:
        raise InvalidInput(f"a pipeline reference is 'module:name', got {ref!r}", field="ref")
    try:
        target: object = importlib.import_module(module_name)
        for part in qualname.split("."):
            target = getattr(target, part)
    except (ImportError, AttributeError) as exc:
        raise InvalidInput(f"cannot import pipeline {ref!r}: {exc}", field="ref") from None
    if not isinstance(target, PipelineDefinition):
        raise InvalidInput(f"{ref!r} is not a @pipeline (it is a {type(target).__name__})", field="ref")
    return target


def load_step(ref: str, code_digest: str) -> Step[Any, Any]:
    """Import the step at ``module:qualname`` (in a worker), refusing changed code."""
    module_name, _, qualname = ref.partition(":")
    try:
        target: object = importlib.import_module(module_name)
        for part in qualname.split("."):
            target = getattr(target, part)
    except (ImportError, AttributeError) as exc:
        raise InvalidInput(f"cannot import step {ref!r}: {exc}", field="step") from None
    if not isinstance(target, Step):
        raise InvalidInput(f"{ref!r} is not a @step", field="step")
    if target.code_digest != code_digest:
        raise InvalidInput(f"the code of step {ref!r} changed since the pipeline was applied", field="step")
    return target
