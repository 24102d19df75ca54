"""Answer normalisation applied to BOTH the reference and the prediction before they are compared.

Written answers carry decoration that is not part of the value: units (`5\\text{ cm}`, `1320 km`), degrees
(`90^{\\circ}`), percent signs (`10\\%`), currency (`\\$18`), ordinals (`12^{\\mathrm{th}}\\text{ grade}`),
thousands separators and LaTeX spacing (`10,\\!080`, `10{,}080`), sizing commands (`\\left( … \\right)`), and
labelled choices (`\\text{(C) Plane}`). Every harness strips some of these (Qwen2.5-Math's `strip_string`,
lighteval's and math-verify's normalisation); doing it on both sides means a reference written with a unit and
a prediction written without one (or the reverse) still meet. Only decoration is removed: intervals keep their
brackets (`[2,\\infty)` ≠ `(2,\\infty)`), and expressions are left for math-verify to compare.

Every pattern here is linear (no nested quantifiers), so a 200 KB answer costs a few milliseconds, not a hang.
"""

from __future__ import annotations

import re
from fractions import Fraction

_SPACING = re.compile(r"\\[!,;: ]|\\(?:q?quad|displaystyle|textstyle)(?![A-Za-z])|~")
_SIZING = re.compile(r"\\(?:left|right|big|Big|bigg|Bigg)(?![A-Za-z])\s*(?=[(\[{|.\\)\]]|\\[{}|])")
_DOT_DELIM = re.compile(r"\\(?:left|right)\.")
_FRAC = re.compile(r"\\[dt]frac(?![A-Za-z])")
_DEGREES = re.compile(r"\^\s*\{?\s*\\circ\s*\}?|\^\s*\{\s*\\text\{\s*o\s*\}\s*\}|°|\\degree(?![A-Za-z])|\\textdegree(?![A-Za-z])")
_PERCENT = re.compile(r"\\?%")
_CURRENCY = re.compile(r"\\\$|\\text\{\s*\\?\$\s*\}|(?<![A-Za-z])\$")
_ORDINAL_SUP = re.compile(r"\^\s*\{?\s*(?:\\(?:mathrm|text|textrm|rm)\s*\{\s*)?(?:st|nd|rd|th)\s*\}?\s*\}?")
_ORDINAL_WORD = re.compile(r"(?<=\d)(?:st|nd|rd|th)\b")
_TEXT_CMD = re.compile(r"\\(?:text|textrm|textnormal|textbf|textit|mathrm|mathbf|mathit|mbox|operatorname)\s*\{")
_THOUSANDS_BRACED = re.compile(r"(?<=\d)\{,\}(?=\d{3})")
_THOUSANDS = re.compile(r"[-+]?\d{1,3}(?:(?:,\s?|\s)\d{3})+(?:\.\d+)?")
# A unit written after a number: `\text{ cm}`, `\text{cm}^2`, `\mbox{ inches}`, or plain words "km", "square feet".
_UNIT_TEXT = re.compile(r"(?<=[\d}).])\s*\\(?:text|textrm|mathrm|mbox)\s*\{\s*[A-Za-z][A-Za-z .]*\}(?:\^\s*\{?\d\}?)?\s*$")
_UNIT_WORDS = re.compile(r"(?<=[\d)\]}])\s+(?:[A-Za-z]{2,12}\.?)(?:\s+[A-Za-z]{1,12}\.?){0,2}(?:\^\s*\{?\d\}?)?\s*$")
_CHOICE = re.compile(r"^\(?([A-E])\)?(?:$|[.:)]?\s+[A-Za-z].*$)", re.DOTALL)
_ONLY_CHOICE = re.compile(r"^\(?([A-E])\)?$")
_SIMPLE_VAR_EQ = re.compile(r"^[A-Za-z](?:_\{?\w+\}?)?\s*=\s*(?=\S)")


def _unwrap_text(s: str) -> str:
    """Replace `\\text{…}`-style wrappers by their content (balanced braces, no regex recursion)."""
    out = []
    i = 0
    while True:
        m = _TEXT_CMD.search(s, i)
        if m is None:
            out.append(s[i:])
            return "".join(out)
        out.append(s[i:m.start()])
        depth, j = 1, m.end()
        while j < len(s) and depth:
            if s[j] == "{":
                depth += 1
            elif s[j] == "}":
                depth -= 1
            j += 1
        inner = s[m.end():j - 1] if depth == 0 else s[m.end():]
        out.append(inner)
        i = j


def strip_decoration(s: str) -> str:
    """Remove spacing, sizing, units, degrees, percent, currency, ordinals and thousands separators."""
    s = s.strip()
    s = _DOT_DELIM.sub("", s)
    s = _SIZING.sub("", s)
    s = _SPACING.sub(" ", s)
    s = _FRAC.sub(r"\\frac", s)
    s = _DEGREES.sub("", s)
    s = _PERCENT.sub("", s)
    s = _CURRENCY.sub("", s)
    s = _ORDINAL_SUP.sub("", s)
    s = _UNIT_TEXT.sub("", s)
    s = _unwrap_text(s)
    s = _ORDINAL_WORD.sub("", s)
    s = _THOUSANDS_BRACED.sub(",", s)
    s = " ".join(s.split())
    if _THOUSANDS.fullmatch(s):
        s = re.sub(r"[,\s]", "", s)
    s = _UNIT_WORDS.sub("", s) if re.match(r"^[-+]?[\d(\[]", s) else s
    s = s.strip().rstrip(".").strip()
    if s.startswith("{") and s.endswith("}") and _balanced(s[1:-1]):
        s = s[1:-1].strip()
    # `\left(12\right)`, `(2k+2)`: parentheses around one value are not a tuple.
    if s.startswith("(") and s.endswith(")") and _encloses(s) and "," not in s:
        s = s[1:-1].strip()
    return s


def _encloses(s: str) -> bool:
    """The first bracket closes at the last character (`(a)(b)` is not enclosed)."""
    depth = 0
    for i, ch in enumerate(s):
        depth += (ch in "([{") - (ch in ")]}")
        if depth == 0 and i < len(s) - 1:
            return False
    return depth == 0


def _balanced(s: str) -> bool:
    depth = 0
    for ch in s:
        depth += (ch == "{") - (ch == "}")
        if depth < 0:
            return False
    return depth == 0


def normalize_answer(s: str, reference: str | None = None) -> str:
    """The comparable form of an answer. With `reference` (the normalised gold), a prediction `x = 5` loses
    its `x =` when the reference is no equation, as every harness does."""
    s = strip_decoration(s)
    if reference is not None and "=" not in reference and s.count("=") == 1:
        s = _SIMPLE_VAR_EQ.sub("", s)
    return s


def choice_letter(s: str, labelled: bool = True) -> str | None:
    """The option letter of a choice answer: `(C)`, `C`, `\\text{(C)}`, and with `labelled` also `(C) Plane`."""
    s = strip_decoration(s)
    m = (_CHOICE if labelled else _ONLY_CHOICE).match(s)
    return m.group(1) if m else None


_DECIMAL = re.compile(r"[-+]?(?:\d+\.?\d*|\.\d+)")
_FRACTION = re.compile(r"([-+]?)(?:\\frac\{(\d+)\}\{(\d+)\}|(\d+)/(\d+))")
_WORDS = re.compile(r"[A-Za-z]{3,}(?: [A-Za-z]+)*")
_RELATION = re.compile(r"[=<>]|\\(?:le|ge|leq|geq|neq|ne|lt|gt|in|approx)(?![A-Za-z])")
_LATEX_WORD = re.compile(r"\\[A-Za-z]+|_\{?\w+\}?")  # commands and subscripts (bases like 52_8) are not variables
_FREE_VARIABLE = re.compile(r"(?<![A-Za-z])[a-df-hj-zA-Z](?![A-Za-z])")  # a lone letter other than e and i


def exact_number(s: str) -> Fraction | None:
    """The exact value of a plain written number (`-12`, `0.35`, `\\frac{3}{4}`, `3/4`); None for anything else,
    and for anything long (no big-number arithmetic happens outside the deadline-bound workers)."""
    s = s.replace(" ", "")
    if len(s) > 40:
        return None
    if _DECIMAL.fullmatch(s):
        return Fraction(s)
    m = _FRACTION.fullmatch(s)
    if m:
        sign, a, b, c, d = m.groups()
        num, den = (int(a), int(b)) if a is not None else (int(c), int(d))
        if den == 0:
            return None
        return -Fraction(num, den) if sign == "-" else Fraction(num, den)
    return None


def shape(s: str) -> str:
    """What kind of answer this is: number, tuple (or interval/union/list), matrix, word, or expr."""
    if _RELATION.search(s):
        return "expr"  # equations and inequalities: math-verify compares their sides
    if "\\begin{" in s and "matrix" in s:
        return "matrix"
    if exact_number(s) is not None:
        return "number"
    if "\\cup" in s or _top_level_comma(s):
        return "tuple"
    if _WORDS.fullmatch(s.strip()):
        return "word"
    if _FREE_VARIABLE.search(_LATEX_WORD.sub(" ", s)):
        return "symbolic"  # has a free variable: never equal to a plain number
    return "expr"


def _top_level_comma(s: str) -> bool:
    depth = 0
    inner = s[1:-1] if len(s) >= 2 and s[0] in "([" and s[-1] in ")]" else s
    for ch in inner:
        depth += (ch in "([{") - (ch in ")]}")
        if ch == "," and depth == 0:
            return True
    return False


def compact(s: str) -> str:
    """Whitespace-free text for exact comparison of normalised answers; plain words also case-folded."""
    if re.fullmatch(r"[A-Za-z' -]+", s):
        return " ".join(s.split()).lower()
    return "".join(s.split())
