"""Small results frames (the ``evals.load_results`` columns the routing modules read) for their tests."""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

CHEAP, MID, TOP = "qwen2.5-coder-0.5b-instruct", "smollm2-135m-instruct", "qwen2.5-coder-1.5b-instruct"


def results_frame(models: Sequence[str] = (CHEAP, TOP), tasks: Sequence[str] = ("mmlu_direct", "arc_direct"),
                  n: int = 40, seed: int = 0, confidence: bool = True) -> pd.DataFrame:
    """Rows of a run: every model answers ``n`` items of every task; the later the model, the more
    accurate and the slower (seconds vary per item); confidences higher on right answers."""
    rng = np.random.default_rng(seed)
    rows = []
    for t in tasks:
        for i in range(n):
            base = rng.uniform(1.0, 3.0)  # an item's difficulty shows in every model's time
            for k, m in enumerate(models):
                right = bool(rng.random() < 0.3 + 0.25 * k)
                rows.append({
                    "task": t, "item_id": f"{t}/{i}", "model": m, "backend": "local", "outcome": "scored",
                    "score": float(right), "latency_s": base * (1 + 3 * k), "cost_usd": None,
                    **({"confidence": float(rng.uniform(0.5, 1.0) if right else rng.uniform(0.05, 0.8))}
                       if confidence else {}),
                })
    return pd.DataFrame(rows)
