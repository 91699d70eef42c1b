"""HTTP serving of saved runs: ``python -m recsys_core serve [RUN ...|latest]``.

- :mod:`~recsys_core.serve.app`: the FastAPI application (routes, auth, limits, errors);
- :mod:`~recsys_core.serve.service`: what each endpoint computes, without HTTP;
- :mod:`~recsys_core.serve.runs`: runs loaded on first request into a memory-bounded LRU;
- :mod:`~recsys_core.serve.topk`: exact top-k and the recall-gated FAISS index;
- :mod:`~recsys_core.serve.curl`: the ``curl`` line that asks the service for a list.
"""

from recsys_core.serve.curl import curl_command

__all__ = ["curl_command"]
