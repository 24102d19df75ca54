"""The second, independent math grader: normalised string, then numeric, then symbolic (sympy) equality.

Modelled on the `math_equal` of Qwen2.5-Math's evaluation harness and PRIME (string match after `strip_string`,
numbers compared with a relative tolerance and as percentages, tuples/intervals/matrices element by element,
then sympy), but written here with its own normaliser and its own LaTeX-to-sympy translation, so that it shares
no parser with the primary grader (math-verify's latex2sympy2). Where the two disagree, one of them is wrong,
and the run writes the sample to `<benchmark>.disagreements.jsonl` for a person to look at.

`quick_equal` decides most pairs in-process without sympy; `symbolic_equal` is the slow part and only ever runs
in a grader worker under the hard per-item deadline (eval/grading/pool.py): sympy can take unbounded time on
`10^{10^{10^{10}}}`.
"""

from __future__ import annotations

import math
import re
from fractions import Fraction

REL_TOL = 1e-4  # Qwen2.5-Math's numeric_equal tolerance
_MAX_NUMBER_CHARS = 60  # longer "numbers" go to the deadline-bound worker, never to int()/Fraction() here

_UNIT_TAIL = re.compile(r"(?<=[\w})\]])\s*\\(?:text|mbox|mathrm)\{\s*[A-Za-z][A-Za-z .]*\}(?:\^\{?\d\}?)?$")
_WORD_TAIL = re.compile(r"(?<=\d)\s+[A-Za-z]{2,}(?:\s+[A-Za-z]+){0,2}$")
_TEXT = re.compile(r"\\(?:text|mbox|mathrm|textbf|textrm|mathbf|operatorname)\{([^{}]*)\}")
_LETTER = re.compile(r"^\(?([A-E])\)?(?:$|[.:)]?\s+[A-Za-z].*$)", re.DOTALL)
_PLAIN_LETTER = re.compile(r"^\(?([A-E])\)?$")
_FRAC_SHORT = re.compile(r"\\frac(\d)(\d)")
_FRAC_HALF = re.compile(r"\\frac\{([^{}]+)\}(\d)")
_SQRT_SHORT = re.compile(r"\\sqrt(\w)")
_NUM = re.compile(r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d{1,3})?")
_INT_FRAC = re.compile(r"([-+]?)\\frac\{([-+]?\d+)\}\{([-+]?\d+)\}")
_SLASH_FRAC = re.compile(r"([-+]?\d+)/(\d+)")


def strip_string(s: str) -> str:
    """This grader's own normal form (Qwen2.5-Math `strip_string` style)."""
    s = str(s).strip().replace("\n", " ").rstrip(".")
    for old, new in (("\\!", ""), ("\\,", ""), ("\\;", ""), ("\\:", ""), ("\\ ", " "), ("\\\\", "\\"),
                     ("tfrac", "frac"), ("dfrac", "frac"), ("\\left", ""), ("\\right", ""), ("\\displaystyle", ""),
                     ("^{\\circ}", ""), ("^\\circ", ""), ("°", ""), ("\\$", ""), ("\\%", ""), ("%", ""),
                     ("{,}", ",")):
        s = s.replace(old, new)
    s = _UNIT_TAIL.sub("", s.strip())
    for sup in ("^{\\text{th}}", "^{\\mathrm{th}}", "^\\text{th}", "^{th}", "^{st}", "^{nd}", "^{rd}"):
        s = s.replace(sup, "")
    s = _UNIT_TAIL.sub("", s.strip())
    while True:
        new = _TEXT.sub(r"\1", s)
        if new == s:
            break
        s = new
    s = re.sub(r"(?<=\d)(?:st|nd|rd|th)$", "", s.strip())
    s = _WORD_TAIL.sub("", s.strip()) if re.match(r"^[-+]?\d", s.strip()) else s
    s = s.replace("$", "").strip()
    if re.fullmatch(r"[-+]?\d{1,3}(?:,\s?\d{3})+(?:\.\d+)?", s):
        s = s.replace(",", "").replace(" ", "")
    if s.count("=") == 1:
        lhs, rhs = s.split("=")
        if len(lhs.strip()) <= 2 and rhs.strip():
            s = rhs.strip()
    s = _FRAC_SHORT.sub(r"\\frac{\1}{\2}", s)
    s = _FRAC_HALF.sub(r"\\frac{\1}{\2}", s)
    s = _SQRT_SHORT.sub(r"\\sqrt{\1}", s)
    if s.startswith("(") and s.endswith(")") and "," not in s and _balanced(s[1:-1]):
        s = s[1:-1].strip()  # one value in parentheses
    if s.startswith("."):
        s = "0" + s
    s = s.replace(" .", " 0.").replace("{.", "{0.")
    if re.fullmatch(r"[A-Za-z' ]+", s):
        return " ".join(s.lower().split())
    return s.replace(" ", "")


def _light(s: str) -> str:
    """Only `\\text{}` wrappers and dollar signs removed: enough to read an option letter."""
    s = str(s).replace("$", "").replace("\\left", "").replace("\\right", "").strip()
    if s.startswith("(") and s.endswith(")") and _balanced(s[1:-1]) and s[1:-1].strip().startswith(("(", "\\text")):
        s = s[1:-1].strip()  # `\left(\text{(E)}\right)`
    while True:
        new = _TEXT.sub(r"\1", s)
        if new == s:
            return s.strip()
        s = new


def to_number(s: str) -> Fraction | float | None:
    """An exact value for plain numbers, `a/b` and `\\frac{a}{b}` with integer parts; None otherwise."""
    if len(s) > _MAX_NUMBER_CHARS:
        return None
    if _NUM.fullmatch(s):
        try:
            return Fraction(s)
        except (ValueError, ZeroDivisionError):
            return None
    m = _INT_FRAC.fullmatch(s) or _SLASH_FRAC.fullmatch(s)
    if m:
        groups = m.groups()
        sign = -1 if groups[0] == "-" and len(groups) == 3 else 1
        num, den = (int(groups[1]), int(groups[2])) if len(groups) == 3 else (int(groups[0]), int(groups[1]))
        return None if den == 0 else sign * Fraction(num, den)
    return None


def _close(a: Fraction | float, b: Fraction | float) -> bool:
    if a == b:
        return True
    if isinstance(a, Fraction) and isinstance(b, Fraction) and a.denominator == b.denominator == 1:
        return False  # integers are equal or not; the tolerance is for written-out decimals
    return math.isclose(float(a), float(b), rel_tol=REL_TOL, abs_tol=1e-12)


def split_top(s: str, sep: str = ",") -> list[str]:
    """Split on `sep` outside brackets and braces."""
    parts, depth, start = [], 0, 0
    for i, ch in enumerate(s):
        if ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth -= 1
        elif ch == sep and depth == 0:
            parts.append(s[start:i])
            start = i + 1
    parts.append(s[start:])
    return [p.strip() for p in parts]


def structure(s: str) -> tuple[str, list[str]] | None:
    """("(]" style bracket pair, elements) for tuples, intervals and sets; ("matrix", cells) for matrices."""
    m = re.fullmatch(r"\\begin\{[pbv]?matrix\}(.*)\\end\{[pbv]?matrix\}", s, re.DOTALL)
    if m:
        rows = [r for r in m.group(1).split("\\") if r.strip()]
        return "matrix", [c.strip() for r in rows for c in r.split("&")] + [f"#{len(rows)}"]
    if s.startswith("\\{") and s.endswith("\\}"):
        return "{}", split_top(s[2:-2])
    if len(s) >= 2 and s[0] in "([" and s[-1] in ")]":
        inner = s[1:-1]
        if _balanced(inner):
            parts = split_top(inner)
            if len(parts) >= 2:
                return s[0] + s[-1], parts
    parts = split_top(s)
    if len(parts) >= 2:
        return "list", parts
    return None


def _balanced(s: str) -> bool:
    depth = 0
    for ch in s:
        depth += (ch in "([{") - (ch in ")]}")
        if depth < 0:
            return False
    return depth == 0


def quick_equal(pred: str, gold: str, percent: bool = False) -> bool | None:
    """Decide without sympy when the pair allows it: True, False, or None (needs `symbolic_equal`)."""
    gl = _PLAIN_LETTER.match(_light(gold))
    if gl:
        pl = _LETTER.match(_light(pred))
        return bool(pl) and pl.group(1) == gl.group(1)
    p, g = strip_string(pred), strip_string(gold)
    if p == g:
        return True
    pn, gn = to_number(p), to_number(g)
    if pn is not None and gn is not None:
        candidates = [gn, gn / 100, gn * 100] if percent else [gn]
        return any(_close(pn, c) for c in candidates)
    ps, gs = structure(p), structure(g)
    if ps is not None or gs is not None:
        if ps is None or gs is None or ps[0] != gs[0] or len(ps[1]) != len(gs[1]):
            # `[2,\infty)` vs `(2,\infty)`, a pair vs a triple: different answers.
            return False if (ps and gs) or _plain(p) or _plain(g) else None
        verdicts = [quick_equal(a, b) for a, b in zip(ps[1], gs[1])]
        if False in verdicts and gs[0] not in ("{}", "list"):
            return False
        if all(v is True for v in verdicts):
            return True
        return None
    if pn is not None and _plain(g) or gn is not None and _plain(p):
        return False
    return None


def _plain(s: str) -> bool:
    """A plain number or a plain word: nothing sympy could rewrite into something else."""
    return to_number(s) is not None or bool(re.fullmatch(r"[a-z' ]+", s))


# --- the symbolic part (worker processes only) -----------------------------------------------------------

_FUNCS = {"sin", "cos", "tan", "cot", "sec", "csc", "arcsin", "arccos", "arctan", "sinh", "cosh", "tanh", "log",
          "ln", "exp", "sqrt"}
_SYMPY_NAMES = {"sqrt", "pi", "oo", "sin", "cos", "tan", "cot", "sec", "csc", "asin", "acos", "atan", "sinh", "cosh",
                "tanh", "log", "exp", "E", "Abs", "root", "factorial", "binomial"}
_COMMANDS = _FUNCS | {"frac", "cfrac", "sqrt", "cdot", "times", "ast", "div", "pi", "infty", "left", "right", "big",
                       "Big", "bigg", "Bigg", "displaystyle", "binom", "dbinom", "tbinom", "choose"}
_SAFE = re.compile(r"[0-9A-Za-z_+\-*/().,=\s]*")


def _read_group(s: str, i: int) -> tuple[str, int]:
    """The `{…}` group (or single token) starting at s[i]; returns (content, index after it)."""
    while i < len(s) and s[i] == " ":
        i += 1
    if i >= len(s):
        raise ValueError("missing argument")
    if s[i] == "{":
        depth, j = 1, i + 1
        while j < len(s) and depth:
            depth += (s[j] == "{") - (s[j] == "}")
            j += 1
        if depth:
            raise ValueError("unbalanced braces")
        return s[i + 1:j - 1], j
    if s[i] == "\\":
        m = re.match(r"\\[A-Za-z]+", s[i:])
        if m:
            return m.group(0), i + len(m.group(0))
    return s[i], i + 1


def latex_to_python(s: str) -> str:
    """Translate the LaTeX of an answer into sympy's Python syntax (fractions, roots, powers, functions)."""
    out: list[str] = []
    i = 0
    while i < len(s):
        ch = s[i]
        if ch == "\\":
            m = re.match(r"\\([A-Za-z]+)", s[i:])
            if not m:
                i += 2
                continue
            # Spaces were removed by strip_string (`\cot x` -> `\cotx`): the command is the longest known prefix.
            letters = m.group(1)
            name = next((letters[:k] for k in range(len(letters), 0, -1) if letters[:k] in _COMMANDS), letters)
            i += 1 + len(name)
            if name in ("frac", "cfrac"):
                a, i = _read_group(s, i)
                b, i = _read_group(s, i)
                out.append(f"(({latex_to_python(a)})/({latex_to_python(b)}))")
            elif name == "sqrt":
                if i < len(s) and s[i] == "[":
                    j = s.index("]", i)
                    n = latex_to_python(s[i + 1:j])
                    a, i = _read_group(s, j + 1)
                    out.append(f"(({latex_to_python(a)})**(1/({n})))")
                else:
                    a, i = _read_group(s, i)
                    out.append(f"sqrt({latex_to_python(a)})")
            elif name in ("cdot", "times", "ast"):
                out.append("*")
            elif name == "div":
                out.append("/")
            elif name == "pi":
                out.append(" pi ")
            elif name == "infty":
                out.append(" oo ")
            elif name in ("binom", "dbinom", "tbinom", "choose"):
                a, i = _read_group(s, i)
                b, i = _read_group(s, i)
                out.append(f"binomial({latex_to_python(a)},{latex_to_python(b)})")
            elif name in ("ln", "log"):
                out.append(" log")
            elif name.startswith("arc") and name in _FUNCS:
                out.append(" a" + name[3:] + " ")
            elif name in _FUNCS:
                out.append(" " + name + " ")
            elif name in ("left", "right", "big", "Big", "bigg", "Bigg", "displaystyle"):
                pass
            else:
                raise ValueError(f"unsupported command \\{name}")
        elif ch == "^":
            a, i = _read_group(s, i + 1)
            out.append(f"**({latex_to_python(a)})")
        elif ch == "{":
            a, i = _read_group(s, i)
            out.append(f"({latex_to_python(a)})")
        elif ch == "_":
            a, i = _read_group(s, i + 1)
            out.append("_" + re.sub(r"\W", "", a))
        else:
            out.append(ch)
            i += 1
    return "".join(out)


def to_sympy(s: str):
    """A sympy expression (or Eq) for one normalised answer; raises ValueError for what it cannot read."""
    from sympy import Float, Function, Integer, Rational, Symbol
    from sympy.parsing.sympy_parser import (
        convert_xor,
        implicit_multiplication_application,
        parse_expr,
        standard_transformations,
    )

    text = latex_to_python(s).replace("|", "")
    text = re.sub(r"(\d+|\))\s*!", lambda m: f"factorial({m.group(1)})" if m.group(1) != ")" else ")!", text)
    if "!" in text:
        raise ValueError("factorial of an expression")
    if not _SAFE.fullmatch(text):
        raise ValueError("characters outside the answer alphabet")
    names = set(re.findall(r"[A-Za-z_][A-Za-z0-9_]*", text))
    unknown = {n for n in names if n not in _SYMPY_NAMES and not re.fullmatch(r"[A-Za-z](?:_\w+)?", n)}
    if unknown or "__" in text:
        raise ValueError(f"unknown names {sorted(unknown)}")
    import sympy

    local = {n: getattr(sympy, n) for n in _SYMPY_NAMES if hasattr(sympy, n)}
    local["e"] = sympy.E
    for n in names - _SYMPY_NAMES - {"e"}:
        local[n] = Symbol(n)
    transformations = standard_transformations + (implicit_multiplication_application, convert_xor)
    # parse_expr evaluates Python: only the names above and sympy's number constructors exist, no builtins.
    env = {"Integer": Integer, "Float": Float, "Rational": Rational, "Symbol": Symbol, "Function": Function,
           "__builtins__": {}}

    def parse(part: str):
        return parse_expr(part, local_dict=dict(local), transformations=transformations, global_dict=dict(env))

    if text.count("=") == 1:
        lhs, rhs = text.split("=")
        return sympy.Eq(parse(lhs), parse(rhs), evaluate=False)
    if "=" in text:
        raise ValueError("more than one '='")
    return parse(text)


def _sym_equal(a, b) -> bool:
    import sympy

    if isinstance(a, sympy.Equality) or isinstance(b, sympy.Equality):
        if not (isinstance(a, sympy.Equality) and isinstance(b, sympy.Equality)):
            return False
        da, db = a.lhs - a.rhs, b.lhs - b.rhs
        return sympy.simplify(da - db) == 0 or sympy.simplify(da + db) == 0
    diff = sympy.simplify(a - b)
    if diff == 0:
        return True
    if a.is_number and b.is_number:
        try:
            return _close(float(sympy.N(a, 20)), float(sympy.N(b, 20)))
        except (TypeError, ValueError, OverflowError):
            return False
    return False


def symbolic_equal(pred: str, gold: str) -> tuple[bool, str]:
    """(equal, reason) with sympy; for worker processes under a deadline only."""
    p, g = strip_string(pred), strip_string(gold)
    decided = quick_equal(pred, gold)
    if decided is not None:
        return decided, "ok" if decided else "wrong answer"
    ps, gs = structure(p), structure(g)
    if ps is not None and gs is not None:
        if ps[0] != gs[0] or len(ps[1]) != len(gs[1]):
            return False, "wrong answer"
        pairs = list(zip(ps[1], gs[1]))
        if gs[0] in ("{}", "list"):  # sets and lists of solutions: order does not matter
            left = list(ps[1])
            for gi in gs[1]:
                hit = next((k for k, pi in enumerate(left) if symbolic_equal(pi, gi)[0]), None)
                if hit is None:
                    return False, "wrong answer"
                left.pop(hit)
            return True, "ok"
        ok = all(symbolic_equal(a, b)[0] for a, b in pairs)
        return ok, "ok" if ok else "wrong answer"
    try:
        a, b = to_sympy(p), to_sympy(g)
    except Exception as exc:  # noqa: BLE001 - any failure to read is "cannot compare", not a crash
        return False, f"parse error: {type(exc).__name__}"
    try:
        ok = bool(_sym_equal(a, b))
    except Exception as exc:  # noqa: BLE001
        return False, f"sympy error: {type(exc).__name__}"
    return ok, "ok" if ok else "wrong answer"
