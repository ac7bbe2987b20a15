"""Model-written programs: pull the code out of a reply and build the program the sandbox runs.

Two ways to read code out of a reply:

* :func:`extract_code`, openai/simple-evals' HumanEval rule: the first fenced block (````` ```python `````),
  else the whole reply;
* :func:`extract_solution`, EvalPlus's rule for chat models (``evalplus.sanitize``): the fenced block
  that defines the entry point (else the longest block, else the reply), cut to its longest
  syntactically valid run of lines, then *sanitised*: only the top-level imports, function and class
  definitions and assignments are kept, so a model's own demo code (``print(...)``, ``assert``,
  ``if __name__ == "__main__":``) never runs.  EvalPlus uses tree-sitter; this uses :mod:`ast`.

The programs: :func:`humaneval_program` (the prompt, the model's function or body, the benchmark's
``check``) and :func:`mbpp_program` (the model's code, the item's setup and its ``assert`` lines).
Nothing here runs code; :mod:`workbench.evals.sandbox` does.
"""
from __future__ import annotations

import ast
import re

__all__ = [
    "defines",
    "extract_code",
    "extract_solution",
    "fenced_blocks",
    "humaneval_program",
    "mbpp_program",
    "sanitize",
]

_FENCE = re.compile(r"```[ \t]*(?:python3?|py|Python)?[ \t]*\n(.*?)```", re.DOTALL)
_ANY_FENCE = re.compile(r"```[ \t]*[\w+-]*[ \t]*\n(.*?)(?:```|\Z)", re.DOTALL)


def extract_code(response: str) -> str:
    """The code in the first fenced block of the reply (```` ```python ````), else the whole reply."""
    match = _FENCE.search(response)
    if match:
        return match.group(1)
    open_fence = re.search(r"```[ \t]*(?:python3?|py)?[ \t]*\n(.*)$", response, re.DOTALL)
    return open_fence.group(1) if open_fence else response


def fenced_blocks(response: str) -> list[str]:
    """Every fenced block of the reply, in order; a last block left open (a reply cut short) counts."""
    return [m.group(1) for m in _ANY_FENCE.finditer(response)]


def defines(code: str, name: str) -> bool:
    """True if ``code`` has a line ``def name(`` (at any indentation)."""
    return re.search(rf"^\s*def\s+{re.escape(name)}\s*\(", code, re.MULTILINE) is not None


def _parses(code: str) -> bool:
    try:
        ast.parse(code)
    except (SyntaxError, ValueError):
        return False
    return True


def _longest_valid_run(code: str) -> str:
    """The longest run of consecutive lines that parses (EvalPlus's ``code_extract``), counted in
    non-blank lines; the whole code when it parses."""
    if _parses(code):
        return code
    lines = code.split("\n")
    best, best_len = (0, -1), 0
    for i in range(len(lines)):
        if not lines[i].strip() or lines[i][0] in " \t":
            continue  # a valid run starts at the top level
        for j in range(len(lines), i, -1):
            size = sum(1 for line in lines[i:j] if line.strip())
            if size <= best_len:
                break
            if _parses("\n".join(lines[i:j])):
                best, best_len = (i, j), size
                break
    return "\n".join(lines[best[0]:best[1]]) if best_len else ""


_KEPT = (ast.Import, ast.ImportFrom, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Assign,
         ast.AnnAssign)


def sanitize(code: str) -> str:
    """Keep only the top-level imports, definitions and assignments of the longest valid run of ``code``.

    Demo calls, ``print``, ``assert`` and ``if __name__ == "__main__":`` blocks are dropped, so only
    what defines the solution reaches the tests (EvalPlus's ``sanitize``).
    """
    if not _parses(code) and _parses(code.replace("\t", "    ")):
        code = code.replace("\t", "    ")
    code = _longest_valid_run(code)
    if not code.strip():
        return ""
    lines = code.split("\n")
    kept = []
    for node in ast.parse(code).body:
        if isinstance(node, _KEPT):
            first = min([d.lineno for d in getattr(node, "decorator_list", [])] + [node.lineno])
            kept.append("\n".join(lines[first - 1:node.end_lineno]))
    return "\n\n".join(kept) + "\n" if kept else ""


def extract_solution(response: str, entry_point: str | None = None) -> str:
    """The reply's solution, read the way EvalPlus reads a chat model's answer, sanitised.

    The fenced block that defines ``entry_point`` (else the longest fenced block, else the whole
    reply) goes through :func:`sanitize`.  Code that does not define ``entry_point`` is a function
    body and is returned as it is, for the caller to put under the prompt's signature.
    """
    blocks = fenced_blocks(response)
    chosen = None
    if entry_point:
        chosen = next((b for b in blocks if defines(b, entry_point)), None)
    if chosen is None:
        chosen = max(blocks, key=len) if blocks else response
    if entry_point and not defines(chosen, entry_point):
        return chosen
    return sanitize(chosen)


def _indent_body(code: str) -> str:
    """A function body written without its indentation, indented by four spaces."""
    lines = code.splitlines()
    if lines and lines[0].strip() and not lines[0].startswith((" ", "\t")):
        return "\n".join("    " + line if line.strip() else line for line in lines)
    return code


def humaneval_program(prompt: str, completion: str, test: str, entry_point: str, *,
                      evalplus: bool = False) -> str:
    """The program the sandbox runs: the prompt, the model's code, the tests and ``check(entry_point)``.

    If the model wrote the whole function (``def entry_point(``), its definition follows the prompt
    and replaces the prompt's stub (a docstring-only body is valid Python), so the prompt's imports
    and helper functions stay in scope.  Otherwise the reply is taken as the function body, indented
    under the prompt's signature, as in HumanEval itself.

    Args:
        evalplus: read the code with :func:`extract_solution` (EvalPlus: the block defining the
            function, sanitised) instead of :func:`extract_code` (simple-evals: the first block).
    """
    code = extract_solution(completion, entry_point) if evalplus else extract_code(completion)
    if defines(code, entry_point):
        body = prompt + "    pass\n\n" + code
    else:
        body = prompt + _indent_body(code)
    return f"{body}\n\n{test}\n\ncheck({entry_point})\n"


def mbpp_program(completion: str, tests: list[str], setup: str = "", entry_point: str | None = None) -> str:
    """The program for one MBPP item: the model's sanitised code, the item's setup, then its asserts."""
    code = extract_solution(completion, entry_point)
    return f"{code}\n\n{setup}\n\n" + "\n".join(tests) + "\n"
