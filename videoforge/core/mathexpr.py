"""A safe parser and evaluator for the one-variable formulas a function plot draws.

Text from a model or a user is never run as Python: a hand-written tokenizer and a
precedence-climbing parser build a small tree of dataclasses, and the evaluator walks it
with floats only. The grammar, loosest binding first:

    expr    := term (("+" | "-") term)*
    term    := unary (("*" | "/") unary | unary)*      # "2x", "3(x+1)", "x sin(x)": no sign
    unary   := ("-" | "+") unary | power
    power   := primary (("^" | "**") unary)?           # right-associative: 2^3^2 = 2^9
    primary := number | "x" | "pi" | "e" | name "(" expr ("," expr)* ")" | "(" expr ")"

Numbers are decimal with an optional exponent (`1.5e-3`); `−`, `×`, `·`, `÷`, `π`, `²` and
`³` are read as their ASCII meanings; names are case-insensitive. A product without `*`
needs a name or "(" on its right ("2 3" is an error) and binds like `*`, so 1/2x is (1/2)*x.
Errors name the 1-based position of the offending character. Parsing is bounded
(`MAX_LENGTH` characters, `MAX_DEPTH` levels, `MAX_NODES` nodes, literals up to
`MAX_LITERAL`), and evaluation never raises: a domain error, a division by zero or an
overflow gives nan.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

from .errors import InvalidRequest

MAX_LENGTH = 200  # characters of expression text
MAX_DEPTH = 40  # levels of the tree, and of nesting while parsing (parentheses, calls, operands)
MAX_NODES = 200  # numbers, variables, operators and calls in the tree
MAX_LITERAL = 1e12  # largest magnitude of a number written in the text
MAX_SAMPLES = 100_000

_SUBSTITUTES = {"\u2212": "-", "\u00d7": "*", "\u00b7": "*", "\u22c5": "*", "\u00f7": "/"}
_SUPERSCRIPTS = {"\u00b2": 2.0, "\u00b3": 3.0}
_CONSTANTS = {"pi": math.pi, "\u03c0": math.pi, "e": math.e}
_SEPARATORS = " \t\n\r"


class ExpressionError(InvalidRequest):
    """The expression text is not a formula we can draw; says what and where (1-based)."""

    def __init__(self, message: str, position: int | None = None):
        self.message = message
        self.position = position
        where = f" at position {position}" if position is not None else ""
        super().__init__(f"{message}{where}")


# --- the tree ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Num:
    """A number, or a named constant already replaced by its value."""

    value: float


@dataclass(frozen=True, slots=True)
class Var:
    """The variable x."""


@dataclass(frozen=True, slots=True)
class Unary:
    """Negation ("-") or unary plus ("+") of its operand."""

    op: str
    operand: Expr


@dataclass(frozen=True, slots=True)
class Binary:
    """One of + - * / ^ applied to left and right."""

    op: str
    left: Expr
    right: Expr


@dataclass(frozen=True, slots=True)
class Call:
    """A call of one of the known functions (see FUNCTIONS) with its arguments."""

    name: str
    args: tuple[Expr, ...]


Expr = Num | Var | Unary | Binary | Call


# --- functions ------------------------------------------------------------------------------------


def _floor(a: float) -> float:
    return float(math.floor(a))


def _ceil(a: float) -> float:
    return float(math.ceil(a))


def _power(a: float, b: float) -> float:
    """Return a ** b with floats only (constant time): nan for a complex or overflowing result."""
    try:
        return math.pow(a, b)
    except (OverflowError, ValueError):
        return math.nan


FUNCTIONS: dict[str, tuple[int, Callable[..., float]]] = {
    "sin": (1, math.sin),
    "cos": (1, math.cos),
    "tan": (1, math.tan),
    "asin": (1, math.asin),
    "acos": (1, math.acos),
    "atan": (1, math.atan),
    "sinh": (1, math.sinh),
    "cosh": (1, math.cosh),
    "tanh": (1, math.tanh),
    "exp": (1, math.exp),
    "log": (1, math.log),  # natural
    "ln": (1, math.log),
    "log10": (1, math.log10),
    "sqrt": (1, math.sqrt),
    "abs": (1, abs),
    "floor": (1, _floor),
    "ceil": (1, _ceil),
    "min": (2, min),
    "max": (2, max),
}


# --- tokens --------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Token:
    kind: str  # "num", "name", "op" (one of + - * / ^), "(", ")", ",", "end"
    text: str
    position: int  # 1-based, in the original text
    value: float = 0.0


def _describe(token: _Token) -> str:
    if token.kind == "end":
        return "end of expression"
    if token.kind == "num":
        return f"number {token.text}"
    return repr(token.text)


def tokenize(text: str) -> list[_Token]:
    """Split text into tokens, ending with an "end" token; raise ExpressionError on a bad one."""
    tokens: list[_Token] = []
    i, n = 0, len(text)
    while i < n:
        ch = _SUBSTITUTES.get(text[i], text[i])
        position = i + 1
        if ch in _SEPARATORS:
            i += 1
        elif ch.isascii() and (ch.isdigit() or ch == "."):
            i, token = _number(text, i)
            tokens.append(token)
        elif ch.isascii() and (ch.isalpha() or ch == "_") or ch == "\u03c0":
            j = i + 1
            if ch != "\u03c0":
                while j < n and text[j].isascii() and (text[j].isalnum() or text[j] == "_"):
                    j += 1
            tokens.append(_Token("name", text[i:j], position))
            i = j
        elif ch == "*" and i + 1 < n and text[i + 1] == "*":
            tokens.append(_Token("op", "^", position))
            i += 2
        elif ch in "+-*/^":
            tokens.append(_Token("op", ch, position))
            i += 1
        elif ch in "(),":
            tokens.append(_Token(ch, ch, position))
            i += 1
        elif ch in _SUPERSCRIPTS:
            tokens.append(_Token("op", "^", position))
            tokens.append(_Token("num", ch, position, _SUPERSCRIPTS[ch]))
            i += 1
        else:
            raise ExpressionError(f"unexpected character {text[i]!r}", position)
    tokens.append(_Token("end", "", n + 1))
    return tokens


def _number(text: str, i: int) -> tuple[int, _Token]:
    """Read the number starting at text[i]: digits and at most one point, then an exponent."""
    start, n = i, len(text)
    while i < n and text[i].isascii() and (text[i].isdigit() or text[i] == "."):
        i += 1
    mantissa = text[start:i]
    if mantissa.count(".") > 1 or mantissa == ".":
        raise ExpressionError(f"malformed number {mantissa!r}", start + 1)
    if i < n and text[i] in "eE":  # an exponent only when digits follow: "2e" is 2 times e
        j = i + 1
        if j < n and text[j] in "+-":
            j += 1
        if j < n and text[j].isascii() and text[j].isdigit():
            while j < n and text[j].isascii() and text[j].isdigit():
                j += 1
            i = j
    literal = text[start:i]
    value = float(literal)  # only digits, one point and an exponent can reach here
    if not value <= MAX_LITERAL:  # also catches inf from "1e999"
        raise ExpressionError(f"number {literal} is too large (at most 1e12)", start + 1)
    return i, _Token("num", literal, start + 1, value)


# --- parsing -------------------------------------------------------------------------------------

_BINARY = {
    "+": (1, "left"),
    "-": (1, "left"),
    "*": (2, "left"),
    "/": (2, "left"),
    "^": (4, "right"),
}
_UNARY_PRECEDENCE = 3  # -x^2 is -(x^2), and -2*x is (-2)*x
_IMPLICIT_PRECEDENCE = 2  # "2x" binds like "2*x": 1/2x is (1/2)*x


class _Parser:
    def __init__(self, tokens: list[_Token]):
        self.tokens = tokens
        self.index = 0
        self.nesting = 0
        self.nodes = 0
        self.depths: dict[int, int] = {}  # id(node) -> its height in the tree

    @property
    def token(self) -> _Token:
        return self.tokens[self.index]

    def advance(self) -> _Token:
        token = self.tokens[self.index]
        self.index += 1
        return token

    def node(self, node: Expr, position: int, *children: Expr) -> Expr:
        """Count a new node and check the tree's size and height limits."""
        self.nodes += 1
        if self.nodes > MAX_NODES:
            raise ExpressionError(f"expression is too long (more than {MAX_NODES} parts)", position)
        depth = 1 + max((self.depths[id(child)] for child in children), default=0)
        if depth > MAX_DEPTH:
            raise ExpressionError(f"expression is too deep (over {MAX_DEPTH} levels)", position)
        self.depths[id(node)] = depth
        return node

    def enter(self, position: int) -> None:
        """Count one more level of recursion (the whole expression itself does not count)."""
        self.nesting += 1
        if self.nesting > MAX_DEPTH + 1:
            raise ExpressionError(f"expression is too deep (over {MAX_DEPTH} levels)", position)

    def expression(self, min_precedence: int = 1) -> Expr:
        """Parse operands joined by operators binding at least as tightly as min_precedence."""
        self.enter(self.token.position)
        left = self.unary()
        while True:
            token = self.token
            if token.kind == "op" and token.text in _BINARY:
                precedence, assoc = _BINARY[token.text]
                if precedence < min_precedence:
                    break
                self.advance()
                right = self.expression(precedence + 1 if assoc == "left" else precedence)
                left = self.node(Binary(token.text, left, right), token.position, left, right)
            elif token.kind in ("name", "(") and _IMPLICIT_PRECEDENCE >= min_precedence:
                right = self.expression(_IMPLICIT_PRECEDENCE + 1)
                left = self.node(Binary("*", left, right), token.position, left, right)
            else:
                break
        self.nesting -= 1
        return left

    def unary(self) -> Expr:
        """Parse a signed operand: the sign applies to a whole power (-x^2 is -(x^2))."""
        token = self.token
        if token.kind == "op" and token.text in "+-":
            self.advance()
            operand = self.expression(_UNARY_PRECEDENCE)
            return self.node(Unary(token.text, operand), token.position, operand)
        return self.primary()

    def primary(self) -> Expr:
        """Parse a number, a name, a call or a parenthesized expression."""
        token = self.advance()
        if token.kind == "num":
            return self.node(Num(token.value), token.position)
        if token.kind == "(":
            inner = self.expression()
            self.expect(")", f"to close the '(' from position {token.position}")
            return inner
        if token.kind == "name":
            return self.name(token)
        raise ExpressionError(f"unexpected {_describe(token)}", token.position)

    def name(self, token: _Token) -> Expr:
        """Turn a name into x, a constant, or a call with the function's number of arguments."""
        name = token.text.lower()
        if name == "x":
            return self.node(Var(), token.position)
        if name in _CONSTANTS:
            return self.node(Num(_CONSTANTS[name]), token.position)
        if name not in FUNCTIONS:
            raise ExpressionError(
                f"unknown name {token.text!r}; use x, pi, e or a function such as "
                f"{', '.join(sorted(FUNCTIONS))}",
                token.position,
            )
        arity, _ = FUNCTIONS[name]
        if self.token.kind != "(":
            raise ExpressionError(f"{name} needs its argument in parentheses", self.token.position)
        self.advance()
        args = [self.expression()]
        while self.token.kind == ",":
            self.advance()
            args.append(self.expression())
        self.expect(")", f"to close {name}( from position {token.position}")
        if len(args) != arity:
            plural = "" if arity == 1 else "s"
            raise ExpressionError(
                f"{name} takes {arity} argument{plural}, got {len(args)}", token.position
            )
        return self.node(Call(name, tuple(args)), token.position, *args)

    def expect(self, kind: str, purpose: str) -> None:
        token = self.token
        if token.kind != kind:
            message = f"expected {kind!r} {purpose}, got {_describe(token)}"
            raise ExpressionError(message, token.position)
        self.advance()


def parse(text: str) -> Expr:
    """Parse a formula in x into a tree; raise ExpressionError saying what is wrong and where."""
    if not isinstance(text, str):
        raise ExpressionError("the expression must be a string")
    if len(text) > MAX_LENGTH:
        raise ExpressionError(f"expression is {len(text)} characters long; at most {MAX_LENGTH}")
    if not text.strip(_SEPARATORS):
        raise ExpressionError("expression is empty")
    parser = _Parser(tokenize(text))
    tree = parser.expression()
    token = parser.token
    if token.kind != "end":
        if token.kind == "num":
            raise ExpressionError(
                f"unexpected {_describe(token)} (write * between numbers)", token.position
            )
        raise ExpressionError(f"unexpected {_describe(token)}", token.position)
    return tree


# --- evaluating ----------------------------------------------------------------------------------


def to_function(expr: Expr) -> Callable[[float], float]:
    """Turn a parsed tree into a plain Python function of x built from closures (no code text).

    The function returns a float that may be nan or infinite; `evaluate` and `sample` map
    those to nan. It never raises for any x.
    """
    match expr:
        case Num(value):
            return lambda x: value
        case Var():
            return lambda x: x
        case Unary("-", operand):
            f = to_function(operand)
            return lambda x: -f(x)
        case Unary(_, operand):
            return to_function(operand)
        case Binary(op, left, right):
            return _binary(op, to_function(left), to_function(right))
        case Call(name, args):
            _, fn = FUNCTIONS[name]
            fs = tuple(to_function(arg) for arg in args)
            return _call(fn, fs)
    raise TypeError(f"not an expression node: {expr!r}")


def _binary(
    op: str, f: Callable[[float], float], g: Callable[[float], float]
) -> Callable[[float], float]:
    if op == "+":
        return lambda x: f(x) + g(x)
    if op == "-":
        return lambda x: f(x) - g(x)
    if op == "*":
        return lambda x: f(x) * g(x)
    if op == "/":
        return lambda x: _divide(f(x), g(x))
    return lambda x: _power(f(x), g(x))


def _divide(a: float, b: float) -> float:
    return a / b if b != 0.0 else math.nan


def _call(
    fn: Callable[..., float], fs: tuple[Callable[[float], float], ...]
) -> Callable[[float], float]:
    def call(x: float) -> float:
        args = [f(x) for f in fs]
        if any(a != a for a in args):  # nan in, nan out (min and max would hide it)
            return math.nan
        try:
            return fn(*args)
        except (ValueError, OverflowError, ZeroDivisionError):
            return math.nan

    return call


def _finite(value: float) -> float:
    return value if math.isfinite(value) else math.nan


def evaluate(expr: Expr, x: float) -> float:
    """Return the value of the expression at x: a finite float, or nan where it has none."""
    return _finite(to_function(expr)(float(x)))


def sample(expr: Expr, x_min: float, x_max: float, n: int) -> list[tuple[float, float]]:
    """Return n evenly spaced points (x, y) from x_min to x_max; y is nan where undefined."""
    if not 2 <= n <= MAX_SAMPLES:
        raise ValueError(f"sample needs between 2 and {MAX_SAMPLES} points, got {n}")
    if not (math.isfinite(x_min) and math.isfinite(x_max) and x_min < x_max):
        raise ValueError(f"sample needs finite x_min < x_max, got {x_min} and {x_max}")
    f = to_function(expr)
    step = (x_max - x_min) / (n - 1)
    points = []
    for i in range(n):
        x = x_max if i == n - 1 else x_min + i * step
        points.append((x, _finite(f(x))))
    return points
