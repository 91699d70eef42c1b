"""The FastAPI application: routes, request/response schemas, auth, limits and errors.

``create_app(settings)`` returns an ASGI app; ``python -m recsys_core serve``
runs it under uvicorn. Behaviour at the edges:

- unknown user, item or run → 404, ``detail`` names it;
- bad query or body values (``k`` outside 1..1000 or not an integer, unknown
  body fields, wrong types) → 422 with a readable ``detail`` and the field
  ``errors``; a body over ``max_body_bytes`` → 413;
- with an API key, every ``/v1`` request needs ``Authorization: Bearer KEY``
  (compared in constant time) or gets 401; ``/healthz`` and the docs stay
  open for probes and readers;
- any other failure is logged with its traceback and answered 500 with a
  short error id to quote, never the traceback.

Titles and ids are JSON strings, never markup; every response carries
``X-Content-Type-Options: nosniff``. The OpenAPI schema is at
``/openapi.json`` and its Swagger UI at ``/docs``, served from the bundled
Swagger UI files (no CDN).
"""

from __future__ import annotations

import hmac
import json
import logging
import secrets
from dataclasses import dataclass, field
from typing import Annotated, Any

from fastapi import FastAPI, Query, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import JSONResponse
from fastapi.staticfiles import StaticFiles
from starlette.concurrency import run_in_threadpool

from recsys_core.runs import RunStore
from recsys_core.serve import schemas, service
from recsys_core.serve.runs import RunCache, ServedRun, UnknownRun
from recsys_core.serve.topk import RECALL_TARGET

log = logging.getLogger("recsys_core.serve")

#: Largest request body accepted (bytes).
MAX_BODY_BYTES = 1_000_000
MAX_K = 1000


@dataclass
class ServeSettings:
    """How a server is set up; the CLI fills it from its flags."""

    home: str | None = None  # run store folder (None: GRAPHREC_HOME or ./.graphrec)
    runs: list[str] = field(default_factory=lambda: ["latest"])  # preloaded; the first is default
    api_key: str | None = None  # None or "": no authentication
    index: str = "auto"  # auto | exact | faiss (see recsys_core.serve.runs)
    index_kind: str = "ivf"  # ivf | hnsw
    recall_target: float = RECALL_TARGET  # an index below this recall@10 is refused
    max_bytes: int = 2 << 30  # memory bound of the loaded-run LRU
    max_body_bytes: int = MAX_BODY_BYTES
    narrator: Any = None  # an explain Narrator (None: the template)


K = Annotated[int, Query(ge=1, le=MAX_K, description="list length, 1..1000")]
RunParam = Annotated[str | None, Query(description="run id or 'latest' (default: the "
                                                   "first run the server was started with)")]


def create_app(settings: ServeSettings | None = None) -> FastAPI:
    """The service for the runs in ``settings`` (preloaded; others load on first request)."""
    settings = settings or ServeSettings()
    cache = RunCache(RunStore(settings.home), max_bytes=settings.max_bytes,
                     index=settings.index, index_kind=settings.index_kind,
                     recall_target=settings.recall_target)
    preloaded = [cache.resolve(r) for r in (settings.runs or ["latest"])]
    for run_id in preloaded:
        cache.get(run_id)  # raises UnknownRun before the server starts listening
    default_run = preloaded[0]

    app = FastAPI(title="GraphRec Studio", version="1", docs_url=None, redoc_url=None,
                  description="Recommendations, explanations, similar items and cold start "
                              "from saved GraphRec Studio runs.")
    app.state.cache, app.state.settings, app.state.default_run = cache, settings, default_run
    _mount_docs(app)

    async def served(run: str | None) -> ServedRun:
        run_id = run or default_run
        loaded = cache.peek(run_id)
        if loaded is not None:
            return loaded
        try:
            return await run_in_threadpool(cache.get, run_id)
        except UnknownRun as err:
            raise service.NotFound(str(err)) from None

    @app.get("/healthz", response_model=schemas.Health, tags=["service"])
    async def healthz() -> dict[str, Any]:
        """Liveness: the runs in memory (the first is the default)."""
        loaded = cache.loaded()
        return {"status": "ok", "runs": [default_run] + [r for r in loaded if r != default_run]}

    @app.get("/v1/runs", response_model=schemas.RunList, tags=["runs"])
    def list_runs() -> dict[str, Any]:
        """Every saved run in the store, newest first."""
        frame = cache.store.list()
        loaded = set(cache.loaded())
        runs = []
        for row in frame.itertuples():
            config = row.config or {}
            run = cache.peek(row.run_id) if row.run_id in loaded else None
            runs.append({"id": row.run_id, "name": row.name, "model": row.model,
                         "dataset": row.dataset_name, "created": row.created,
                         "finished": row.finished, "status": row.status,
                         "params": config.get("params", {}), "metrics": row.metrics or {},
                         "loaded": run is not None,
                         "index": run.index.reason if run is not None else None})
        return {"default": default_run, "runs": runs}

    @app.get("/v1/users/{user}/recommendations", response_model=schemas.Recommendations,
             tags=["recommendations"])
    async def recommendations(user: str, k: K = 10, exclude_seen: bool = True,
                              include_cold: bool = True, run: RunParam = None) -> dict[str, Any]:
        """A known user's top k. With ``exclude_seen`` (default) no item from the user's
        training history appears."""
        return service.recommendations(await served(run), user, k, exclude_seen, include_cold)

    @app.get("/v1/users/{user}/recommendations/{item}/explanation",
             response_model=schemas.ExplanationOut, tags=["recommendations"])
    def explanation(user: str, item: str, run: RunParam = None) -> dict[str, Any]:
        """Why the run recommends ``item`` to ``user``: evidence, narration and its check."""
        loaded = _sync_served(cache, run or default_run)
        return service.explanation(loaded, user, item, narrator=settings.narrator)

    @app.get("/v1/items/{item}/similar", response_model=schemas.Similar, tags=["items"])
    async def similar(item: str, k: K = 10, run: RunParam = None) -> dict[str, Any]:
        """Items most like ``item`` in the run's item space."""
        return service.similar_items(await served(run), item, k)

    @app.post("/v1/recommendations", response_model=schemas.ColdStartOut,
              tags=["recommendations"])
    def cold_start(body: schemas.ColdStartIn, run: RunParam = None) -> dict[str, Any]:
        """Recommendations for someone the model has never seen, from a sentence about
        them (runs with a text encoder) and/or items they liked."""
        loaded = _sync_served(cache, body.run or run or default_run)
        return service.cold_start(loaded, body.text, body.liked_items, body.k, body.include_cold)

    _install_errors(app)
    app.add_middleware(_Guard, api_key=settings.api_key or None,
                       max_body_bytes=settings.max_body_bytes)
    return app


def _sync_served(cache: RunCache, run_id: str) -> ServedRun:
    try:
        return cache.get(run_id)
    except UnknownRun as err:
        raise service.NotFound(str(err)) from None


def _mount_docs(app: FastAPI) -> None:
    import swagger_ui_bundle

    app.mount("/docs/static", StaticFiles(directory=swagger_ui_bundle.swagger_ui_path),
              name="swagger-static")

    @app.get("/docs", include_in_schema=False)
    async def docs():
        return get_swagger_ui_html(openapi_url="/openapi.json", title="GraphRec Studio API",
                                   swagger_js_url="/docs/static/swagger-ui-bundle.js",
                                   swagger_css_url="/docs/static/swagger-ui.css",
                                   swagger_favicon_url="/docs/static/favicon-32x32.png")


def _install_errors(app: FastAPI) -> None:
    @app.exception_handler(service.NotFound)
    async def not_found(request: Request, err: service.NotFound):
        return JSONResponse({"detail": str(err)}, status_code=404)

    @app.exception_handler(service.Unprocessable)
    async def unprocessable(request: Request, err: service.Unprocessable):
        return JSONResponse({"detail": str(err)}, status_code=422)

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, err: RequestValidationError):
        errors = jsonable_encoder(err.errors(), custom_encoder={bytes: repr})
        for e in errors:
            e.pop("url", None)
            e.pop("ctx", None)
        detail = "; ".join(f"{'.'.join(str(p) for p in e.get('loc', []) if p != 'body') or 'body'}"
                           f": {e.get('msg')}" for e in errors)
        return JSONResponse({"detail": detail, "errors": errors}, status_code=422)


class _Guard:
    """ASGI middleware: API key, body size limit, and 500-with-id for unexpected errors."""

    def __init__(self, app, api_key: str | None, max_body_bytes: int):
        self.app = app
        self.api_key = api_key.encode() if api_key else None
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        path = scope.get("path", "")
        if self.api_key is not None and path.startswith("/v1"):
            if not self._authorised(scope):
                return await _send_json(send, 401, {"detail": "missing or wrong API key: send "
                                                              "'Authorization: Bearer KEY'"},
                                        [(b"www-authenticate", b"Bearer")])
        receive = await self._limited(scope, receive, send)
        if receive is None:
            return None
        started = False

        async def tracking_send(message):
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                message.setdefault("headers", [])
                message["headers"] = list(message["headers"]) + [
                    (b"x-content-type-options", b"nosniff")]
            await send(message)

        try:
            await self.app(scope, receive, tracking_send)
        except Exception:
            error_id = secrets.token_hex(4)
            log.exception("error %s on %s %s", error_id, scope.get("method"), path)
            if not started:
                await _send_json(send, 500, {"detail": f"internal error {error_id}; the server "
                                                       "log has the details",
                                             "error_id": error_id})

    def _authorised(self, scope) -> bool:
        header = dict(scope.get("headers") or []).get(b"authorization", b"")
        scheme, _, token = header.partition(b" ")
        # compare_digest takes the same time wherever the strings differ
        return hmac.compare_digest(scheme.lower() + b" " + token.strip(),
                                   b"bearer " + self.api_key)

    async def _limited(self, scope, receive, send):
        """A receive that replays a body read up to the limit; None after answering 413."""
        if scope.get("method") not in ("POST", "PUT", "PATCH"):
            return receive
        headers = dict(scope.get("headers") or [])
        declared = headers.get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_body_bytes:
            await _send_json(send, 413, {"detail": f"request body of {int(declared):,} bytes is "
                                                   f"over the {self.max_body_bytes:,}-byte limit"})
            return None
        chunks, size, more = [], 0, True
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                return receive
            chunks.append(message.get("body", b""))
            size += len(chunks[-1])
            more = message.get("more_body", False)
            if size > self.max_body_bytes:
                await _send_json(send, 413, {"detail": f"request body is over the "
                                                       f"{self.max_body_bytes:,}-byte limit"})
                return None
        body = b"".join(chunks)
        sent = False

        async def replay():
            nonlocal sent
            if not sent:
                sent = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        return replay


async def _send_json(send, status: int, payload: dict[str, Any],
                     headers: list[tuple[bytes, bytes]] = ()) -> None:
    body = json.dumps(payload).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"),
                            (b"content-length", str(len(body)).encode()),
                            (b"x-content-type-options", b"nosniff"), *headers]})
    await send({"type": "http.response.body", "body": body})
