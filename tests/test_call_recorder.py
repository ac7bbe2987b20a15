"""workbench.call_recorder: timing, usage and checks of the API chapters' steps, the closing table and figure."""
from __future__ import annotations

import anthropic
import httpx
import matplotlib
import openai
import pandas as pd
import pytest
from google.genai import types as gtypes
from openai.types import CompletionUsage
from openai.types.responses import ResponseUsage
from workbench import call_recorder

matplotlib.use("Agg")


def test_tokens_of_reads_every_sdk_usage_shape():
    assert call_recorder.tokens_of(CompletionUsage(prompt_tokens=10, completion_tokens=3, total_tokens=13)) == (10, 3)
    resp = ResponseUsage(input_tokens=7, output_tokens=2, total_tokens=9,
                         input_tokens_details={"cached_tokens": 0, "cache_write_tokens": 0}, output_tokens_details={"reasoning_tokens": 0})
    assert call_recorder.tokens_of(resp) == (7, 2)
    assert call_recorder.tokens_of(anthropic.types.Usage(input_tokens=5, output_tokens=4)) == (5, 4)
    gem = gtypes.GenerateContentResponseUsageMetadata(prompt_token_count=8, candidates_token_count=3,
                                                      thoughts_token_count=20)
    assert call_recorder.tokens_of(gem) == (8, 23)  # thinking is billed as output
    assert call_recorder.tokens_of(None) == (None, None)
    with pytest.raises(TypeError, match="usage"):
        call_recorder.tokens_of(object())


def test_recorder_collects_steps_into_table_summary_findings_and_figure():
    rec = call_recorder.Recorder("openai", "local", "gpt-4o", show=False)
    with rec.task("first_call", "Responses API") as call:
        call.done("Paris.", CompletionUsage(prompt_tokens=40, completion_tokens=5, total_tokens=45))
    with rec.task("streaming") as call:
        call.first_token()
        call.first_token()  # only the first one counts
        call.usage({"input_tokens": 30, "output_tokens": 10})
        call.done("1, 2, 4")
    rec.live_only("image_url", "", "sent inline instead")

    table = rec.table()
    assert list(table["ran"]) == ["offline", "offline", "live only"]
    assert list(table["check"]) == ["✓", "✗", "not run"]
    assert list(table["input tokens"].astype(object)) == [40, 30, pd.NA]
    assert table.loc[2, "first token s"] <= table.loc[2, "latency s"]  # steps count from 1
    s = rec.summary()
    assert (s["steps"], s["ran"], s["checked"], s["passed"]) == (3, 2, 2, 1)
    assert s["live_only"] == ["One image by URL"] and s["input_tokens"] == 70 and s["output_tokens"] == 15
    text = rec.findings()
    assert "2 of 3 steps ran" in text and "1 of 2 checked answers were right" in text and "70 input" in text
    fig = rec.plot()
    assert len(fig.axes[0].patches) == 2
    assert "✓" in rec.card(rec.records[0]) and "live only" in rec.card(rec.records[2])


def test_a_step_must_be_finished_once():
    rec = call_recorder.Recorder("anthropic", "local", "claude-sonnet-4-6", show=False)
    with pytest.raises(RuntimeError, match="call.done"), rec.task("first_call"):
        pass
    assert rec.records == []
    with pytest.raises(RuntimeError, match="already finished"), rec.task("first_call") as call:
        call.done("Paris")
        call.done("Paris")


def test_sdk_errors_raise_offline_and_are_recorded_live():
    error = openai.APIConnectionError(request=httpx.Request("POST", "http://127.0.0.1:9/v1/responses"))
    offline = call_recorder.Recorder("openai", "local", "gpt-4o", show=False)
    with pytest.raises(openai.APIConnectionError), offline.task("first_call"):
        raise error
    live = call_recorder.Recorder("openai", "live", "gpt-4o", show=False)
    with live.task("first_call"):
        raise error
    assert live.records[0].error.startswith("APIConnectionError") and live.table().loc[1, "check"] == "error"
    assert "API errors" in live.findings()
    with pytest.raises(KeyError), live.task("first_call"):  # not an SDK error: a bug, raised on every backend
        raise KeyError("x")


def test_recorder_rejects_a_provider_without_a_chapter():
    with pytest.raises(ValueError, match="provider"):
        call_recorder.Recorder("meta", "local", "llama-3.1-8b")
