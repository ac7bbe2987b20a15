"""workbench: the small helper package behind the multimodal LLM comparison workbook.

Notebooks import only this package. One module per concern: ``catalog`` (data/ CSVs),
``clients`` (official SDK clients for a backend), ``local`` (the offline provider), ``tokens``,
``costs``, ``evals``, ``stats``, ``plots`` and ``report``.
"""

__version__ = "0.1.0"
