"""Recording the API chapters' calls: timing, token usage, the check of each answer, and the results.

Each step of an API chapter runs inside ``with rec.task(key) as call:`` (a :class:`Recorder`): the
:class:`Call` times the step (latency, time to the first streamed token), adds up the token usage of
every response (:func:`tokens_of` reads the three SDKs' usage objects), and checks the answer with the
task's checker (:mod:`workbench.api_tasks`). The recorder shows a one-line result card after each step
and builds the closing table, the latency figure and the "What we found" numbers. :func:`timed` times
one awaitable for the concurrency step.
"""
from __future__ import annotations

import statistics
import time
from collections.abc import Awaitable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, TypeVar

import pandas as pd

from . import api_tasks, clients
from .answer_checks import Check

__all__ = ["Call", "Record", "Recorder", "timed", "tokens_of"]


T = TypeVar("T")


async def timed(awaitable: Awaitable[T]) -> tuple[T, float]:
    """Await ``awaitable`` and return ``(result, seconds it took)``."""
    start = time.perf_counter()
    result = await awaitable
    return result, time.perf_counter() - start


def tokens_of(usage: Any) -> tuple[int | None, int | None]:
    """``(input, output)`` tokens from any of the three SDKs' usage objects (or a dict, or None).

    OpenAI chat: ``prompt_tokens``/``completion_tokens``; OpenAI Responses and Anthropic:
    ``input_tokens``/``output_tokens``; Gemini: ``prompt_token_count``/``candidates_token_count`` plus
    ``thoughts_token_count`` (billed as output).
    """
    if usage is None:
        return None, None

    def get(name: str) -> Any:
        return usage.get(name) if isinstance(usage, Mapping) else getattr(usage, name, None)

    for inp, out in (("input_tokens", "output_tokens"), ("prompt_tokens", "completion_tokens")):
        if get(inp) is not None or get(out) is not None:
            return get(inp), get(out)
    if get("prompt_token_count") is not None or get("candidates_token_count") is not None:
        out_n = (get("candidates_token_count") or 0) + (get("thoughts_token_count") or 0)
        return get("prompt_token_count"), out_n
    raise TypeError(f"usage: no token counts found in a {type(usage).__name__}")


# ------------------------------------------------------------------------------------------------
# Recording calls
# ------------------------------------------------------------------------------------------------
@dataclass
class Record:
    """One recorded step: a task (and variant) with its outcome, timing and token usage."""

    task: str
    title: str
    variant: str
    shape: str
    ran: str
    model: str | None = None
    answer: str = ""
    seconds: float | None = None
    ttft: float | None = None
    input_tokens: int | None = None
    output_tokens: int | None = None
    check: Check | None = None
    error: str | None = None
    facts: dict[str, Any] = field(default_factory=dict)


class Call:
    """Timing and usage of one step; made by :meth:`Recorder.task`.

    Call :meth:`first_token` when the first streamed text arrives, :meth:`usage` for each response's
    usage, and :meth:`done` with the answer text (and task facts) when the step is finished.
    """

    def __init__(self, recorder: Recorder, record: Record) -> None:
        self._recorder = recorder
        self.record = record
        self.start = time.perf_counter()
        self._in: int | None = None
        self._out: int | None = None
        self.finished = False

    def first_token(self) -> None:
        """Mark the time to first token (only the first call counts)."""
        if self.record.ttft is None:
            self.record.ttft = time.perf_counter() - self.start

    def usage(self, usage: Any) -> None:
        """Add one response's token usage (any SDK's usage object; see :func:`tokens_of`)."""
        i, o = tokens_of(usage)
        if i is not None:
            self._in = (self._in or 0) + int(i)
        if o is not None:
            self._out = (self._out or 0) + int(o)

    def done(self, answer: str, usage: Any = None, *, model: str | None = None, **facts: Any) -> Check:
        """Finish the step: stop the clock, add ``usage``, check ``answer`` and show the result."""
        if self.finished:
            raise RuntimeError(f"done: the step {self.record.task!r} is already finished")
        elapsed = time.perf_counter() - self.start
        if usage is not None:
            self.usage(usage)
        rec = self.record
        rec.seconds = elapsed
        rec.answer = answer if isinstance(answer, str) else str(answer)
        rec.input_tokens, rec.output_tokens = self._in, self._out
        if model is not None:
            rec.model = model
        rec.facts = dict(facts)
        rec.check = api_tasks.TASKS[rec.task].check(rec.answer, **facts)
        self.finished = True
        self._recorder._show(rec)
        return rec.check


def _sdk_errors() -> tuple[type[BaseException], ...]:
    """Exception classes meaning "the API call failed" in the three SDKs (and httpx)."""
    import anthropic
    import httpx
    import openai
    from google.genai import errors as genai_errors

    return (openai.APIError, anthropic.APIError, genai_errors.APIError, httpx.HTTPError)


def _clip(text: str, n: int) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= n else text[: n - 1] + "…"


class Recorder:
    """Collects each step of a chapter's tour: outcome, latency, time to first token and token usage.

    Args:
        provider: ``openai``, ``anthropic`` or ``google``.
        backend: ``local`` or ``live``.
        model: the chapter's model id (the default "answered by" of every step).
        show: display a one-line Markdown result after each step (in a notebook).

    A live run keeps going when an API call fails (the error is recorded and shown); offline, every
    failure is raised, since the local provider is expected to serve every offline step.
    """

    def __init__(self, provider: str, backend: str, model: str, *, show: bool = True) -> None:
        self.provider = api_tasks.check_provider(provider)
        self.backend = clients.check_backend(backend)
        self.model = model
        self.show = show
        self.records: list[Record] = []

    @property
    def ran_label(self) -> str:
        """How a step that ran is labelled: ``offline`` or ``live``."""
        return "offline" if self.backend == "local" else "live"

    def _new(self, key: str, variant: str, ran: str) -> Record:
        t = api_tasks.task(key)
        return Record(task=key, title=t.title, variant=variant, shape=t.shape(self.provider), ran=ran,
                      model=self.model)

    @contextmanager
    def task(self, key: str, variant: str = "") -> Iterator[Call]:
        """Time one step of task ``key``; yields a :class:`Call` whose :meth:`Call.done` records it.

        If the block raises an SDK error on a live run, the error is recorded and the chapter goes on.
        """
        rec = self._new(key, variant, self.ran_label)
        call = Call(self, rec)
        self.records.append(rec)
        try:
            yield call
        except _sdk_errors() as exc:
            rec.seconds = time.perf_counter() - call.start
            rec.error = f"{type(exc).__name__}: {_clip(str(exc), 200)}"
            self._show(rec)
            if self.backend == "local":
                raise
            return
        if not call.finished:
            self.records.remove(rec)
            raise RuntimeError(f"task {key!r}: the step ended without call.done(answer, ...)")

    def live_only(self, key: str, variant: str, instead: str) -> Record:
        """Record a step that only a live run makes, saying what ran offline ``instead``; show it."""
        rec = self._new(key, variant, "live only")
        rec.facts = {"instead": instead}
        self.records.append(rec)
        self._show(rec)
        return rec

    # -- display ----------------------------------------------------------------------------------
    def card(self, rec: Record) -> str:
        """The one-line Markdown summary of a record."""
        name = f"**{rec.title}**" + (f" · {rec.variant}" if rec.variant else "")
        if rec.ran == "live only":
            return f"{name} — *live only, not run offline.* Offline instead: {rec.facts.get('instead', '')}"
        if rec.error:
            return f"{name} — **failed** after {rec.seconds:.1f} s: `{rec.error}`"
        tok = ""
        if rec.input_tokens is not None or rec.output_tokens is not None:
            tok = f" · {rec.input_tokens if rec.input_tokens is not None else '?'} → " \
                  f"{rec.output_tokens if rec.output_tokens is not None else '?'} tokens"
        ttft = f" · first token {rec.ttft:.2f} s" if rec.ttft is not None else ""
        check = rec.check
        verdict = f"{check.mark} {check.detail}" if check else ""
        answer = _clip(rec.answer, 300).replace("|", "\\|")
        return (f"{name} · `{rec.model}` answered: “{answer}”  \n"
                f"check: {verdict} · {rec.seconds:.2f} s{ttft}{tok}")

    def _show(self, rec: Record) -> None:
        if not self.show:
            return
        md = self.card(rec)
        try:
            from IPython.display import Markdown, display

            display(Markdown(md))
        except ImportError:  # pragma: no cover - IPython ships with the notebook stack
            print(md)

    # -- results ------------------------------------------------------------------------------------
    def table(self) -> pd.DataFrame:
        """The closing table: one row per step, with how it ran, its check, latency and token usage."""
        rows = []
        for r in self.records:
            check = r.check
            rows.append({
                "task": r.title + (f" · {r.variant}" if r.variant else ""),
                "request shape": r.shape,
                "ran": r.ran,
                "check": "error" if r.error else (check.mark if check else "not run"),
                "score": None if check is None or check.score is None else round(check.score, 2),
                "latency s": None if r.seconds is None else round(r.seconds, 2),
                "first token s": None if r.ttft is None else round(r.ttft, 2),
                "input tokens": r.input_tokens,
                "output tokens": r.output_tokens,
                "note": r.error or (check.detail if check else r.facts.get("instead", "")),
            })
        df = pd.DataFrame(rows, index=pd.RangeIndex(1, len(rows) + 1, name="step"))
        for col in ("input tokens", "output tokens"):
            df[col] = df[col].astype("Int64")
        return df

    def summary(self) -> dict[str, Any]:
        """Numbers for the closing prose: counts of steps run / passed / failed / live only, latencies, tokens."""
        ran = [r for r in self.records if r.ran != "live only"]
        checked = [r for r in ran if r.check is not None and r.check.ok is not None]
        passed = [r for r in checked if r.check and r.check.ok]
        lat = [r.seconds for r in ran if r.seconds is not None and not r.error]
        ttft = [r.ttft for r in ran if r.ttft is not None]

        def label(r: Record) -> str:
            return r.title + (f" · {r.variant}" if r.variant else "")

        return {
            "steps": len(self.records), "ran": len(ran), "checked": len(checked), "passed": len(passed),
            "passed_titles": [label(r) for r in passed],
            "failed_titles": [label(r) for r in checked if not (r.check and r.check.ok)],
            "unchecked_titles": [label(r) for r in ran if r.check is not None and r.check.ok is None],
            "errors": [f"{label(r)}: {r.error}" for r in ran if r.error],
            "live_only": [label(r) for r in self.records if r.ran == "live only"],
            "median_s": statistics.median(lat) if lat else None,
            "max_s": max(lat) if lat else None,
            "slowest": label(max((r for r in ran if r.seconds is not None and not r.error), key=lambda r: r.seconds))
            if lat else None,
            "ttft_s": ttft[0] if ttft else None,
            "input_tokens": sum(r.input_tokens or 0 for r in ran),
            "output_tokens": sum(r.output_tokens or 0 for r in ran),
            "total_s": sum(lat),
        }

    def findings(self) -> str:
        """The shared part of a chapter's "What we found", formatted from the recorded values."""
        s = self.summary()
        where = "the local stand-in" if self.backend == "local" else "the live API"
        lines = [
            f"- **{s['ran']} of {s['steps']} steps ran** against {where} with the official {api_tasks.SDK_NAMES[self.provider]} "
            f"SDK; {len(s['live_only'])} {'is' if len(s['live_only']) == 1 else 'are'} live only"
            + (f" ({', '.join(s['live_only'])})." if s["live_only"] else "."),
            f"- **{s['passed']} of {s['checked']} checked answers were right** against the samples' known truth"
            + (f": {', '.join(s['passed_titles'])}." if s["passed_titles"] else ".")
            + (f" Wrong or incomplete: {', '.join(s['failed_titles'])}." if s["failed_titles"] else ""),
        ]
        if s["unchecked_titles"]:
            lines.append(f"- Not checkable here: {', '.join(s['unchecked_titles'])}.")
        if s["errors"]:
            lines.append(f"- API errors: {'; '.join(s['errors'])}.")
        if s["median_s"] is not None:
            lines.append(f"- Median latency {s['median_s']:.1f} s per step (slowest: {s['slowest']}, {s['max_s']:.1f} s); "
                         f"{s['input_tokens']:,} input and {s['output_tokens']:,} output tokens in all"
                         + (f"; the first streamed token came after {s['ttft_s']:.2f} s." if s["ttft_s"] is not None else "."))
        return "\n".join(lines)

    def plot(self) -> Any:
        """A horizontal bar chart of latency per step (time to first token marked); returns the figure."""
        import matplotlib.pyplot as plt

        from . import plots

        ran = [r for r in self.records if r.ran != "live only" and r.seconds is not None]
        if not ran:
            raise ValueError("plot: no step has run yet")
        labels = [f"{r.title}{' · ' + r.variant if r.variant else ''}  {('error' if r.error else r.check.mark if r.check else '')}"
                  for r in ran]
        fig, ax = plt.subplots(figsize=(9, 0.42 * len(ran) + 1.6))
        y = list(range(len(ran)))[::-1]
        colour = plots.provider_color(self.provider)
        ax.barh(y, [r.seconds for r in ran], color=[colour if not r.error else "#bbbbbb" for r in ran],
                alpha=0.9, label="latency (whole step)")
        tt = [(yy, r.ttft) for yy, r in zip(y, ran) if r.ttft is not None]
        if tt:
            ax.scatter([t for _, t in tt], [yy for yy, _ in tt], marker="|", s=300, color="black", zorder=3,
                       label="first token")
        ax.set_yticks(y)
        ax.set_yticklabels(labels)
        ax.set_xlabel("seconds (✓ right, ✗ wrong, – not checkable)")
        where = (f"offline: {clients.local_model_name().split(' (')[0]} answers for {self.model}"
                 if self.backend == "local" else f"live API, {self.model}")
        ax.set_title(f"{api_tasks.SDK_NAMES[self.provider]} SDK tour: latency per step\n{where}")
        ax.legend(loc="lower right", fontsize=9)
        fig.tight_layout()
        return fig
